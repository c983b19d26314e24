package aggregate_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/aggregate"
	"github.com/go-event-sourcing/evstore/codec"
)

func TestHandle(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			h := aggregate.New(s, account, newCodec(t))
			steps := []struct {
				cmd         Command
				wantBalance int64
				wantVersion int64
				wantEvents  []Event
				wantErr     error
			}{
				{Deposit{Amount: 5}, 0, 0, nil, ErrNotOpen},
				{Open{Owner: "ada"}, 0, 1, []Event{Opened{Owner: "ada"}}, nil},
				{Deposit{Amount: 10}, 10, 2, []Event{Deposited{Amount: 10}}, nil},
				{Withdraw{Amount: 11}, 10, 2, nil, ErrInsufficientFunds},
				{Withdraw{Amount: 4}, 6, 3, []Event{Withdrawn{Amount: 4}}, nil},
				{Noop{}, 6, 3, nil, nil},
				{Open{Owner: "bo"}, 6, 3, nil, ErrAlreadyOpen},
			}
			for i, st := range steps {
				r, err := h.Handle(ctx, "acc-1", st.cmd)
				if !errors.Is(err, st.wantErr) || (err != nil) != (st.wantErr != nil) {
					t.Fatalf("step %d (%#v): got error %v, want %v", i, st.cmd, err, st.wantErr)
				}
				if r.State.Balance != st.wantBalance || r.Version != st.wantVersion || !reflect.DeepEqual(r.Events, st.wantEvents) || r.Duplicate {
					t.Errorf("step %d (%#v): got %+v, want balance %d, version %d, events %v", i, st.cmd, r, st.wantBalance, st.wantVersion, st.wantEvents)
				}
			}
			got := storedEvents(t, s, "acc-1")
			var types []string
			for _, e := range got {
				types = append(types, e.Type)
			}
			if want := []string{"Opened", "Deposited", "Withdrawn"}; !reflect.DeepEqual(types, want) {
				t.Errorf("stored types: got %v, want %v", types, want)
			}
			state, v, err := h.Load(ctx, "acc-1")
			if err != nil || v != 3 || state != (Account{Open: true, Owner: "ada", Balance: 6}) {
				t.Errorf("Load: got %+v, %d, %v; want the state at version 3", state, v, err)
			}
		})
	}
}

func TestLoadEmpty(t *testing.T) {
	d := account
	d.Initial = func() Account { return Account{Owner: "nobody"} }
	h := aggregate.New(openMemory(t), d, newCodec(t))
	state, v, err := h.Load(context.Background(), "none")
	if err != nil || v != 0 || state != (Account{Owner: "nobody"}) {
		t.Errorf("got %+v, %d, %v; want Initial at version 0", state, v, err)
	}
	if _, _, err := h.Load(context.Background(), ""); !errors.Is(err, evstore.ErrInvalidStreamID) {
		t.Errorf("Load of an empty id: got %v, want ErrInvalidStreamID", err)
	}
}

// TestAllRefused: @all is every stream's events, not an aggregate's
// stream, and its versions are Sequences: Load and Handle refuse it before
// reading or deciding anything.
func TestAllRefused(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	var decided atomic.Int64
	d := account
	d.Decide = func(a Account, c Command) ([]Event, error) {
		decided.Add(1)
		return account.Decide(a, c)
	}
	h := aggregate.New(s, d, newCodec(t))
	if _, err := h.Handle(ctx, "acc-1", Open{Owner: "ada"}); err != nil {
		t.Fatal(err)
	}
	decided.Store(0)
	tests := []struct {
		name string
		call func() error
	}{
		{"Load", func() error { _, _, err := h.Load(ctx, evstore.All); return err }},
		{"Handle", func() error { _, err := h.Handle(ctx, evstore.All, Open{Owner: "bo"}); return err }},
		{"Handle with a command id", func() error {
			_, err := h.Handle(ctx, evstore.All, Open{Owner: "bo"}, aggregate.CommandID("open"))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, evstore.ErrInvalidArgument) {
				t.Errorf("got %v, want an error wrapping ErrInvalidArgument", err)
			}
		})
	}
	if n := decided.Load(); n != 0 {
		t.Errorf("Decide ran %d times, want 0", n)
	}
	if got := storedEvents(t, s, evstore.All); len(got) != 1 {
		t.Errorf("@all has %d events, want the 1 written before", len(got))
	}
}

func TestLoadUndecodable(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	st, _ := s.Stream(ctx, "acc-1")
	if _, err := st.Write(ctx, []evstore.CandidateEvent{{Type: "Opened", Data: []byte(`{}`)}, {Type: "Frozen"}}); err != nil {
		t.Fatal(err)
	}
	h := aggregate.New(s, account, newCodec(t))
	if _, _, err := h.Load(ctx, "acc-1"); !errors.Is(err, codec.ErrUnknownType) {
		t.Errorf("Load: got %v, want ErrUnknownType", err)
	}
	if _, err := h.Handle(ctx, "acc-1", Deposit{Amount: 1}); !errors.Is(err, codec.ErrUnknownType) {
		t.Errorf("Handle: got %v, want ErrUnknownType", err)
	}
}

func TestMetadata(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	h := aggregate.New(s, account, newCodec(t))
	meta := map[string]any{"correlation_id": "req-9", "user": "ada"}
	// a command of two events: Open, then Deposit through a decider that adds a bonus
	d := account
	d.Decide = func(a Account, c Command) ([]Event, error) {
		return []Event{Opened{Owner: "ada"}, Deposited{Amount: 1}}, nil
	}
	h2 := aggregate.New(s, d, newCodec(t))
	if _, err := h2.Handle(ctx, "acc-1", Noop{}, aggregate.Metadata(meta), aggregate.CommandID("cmd-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(ctx, "acc-1", Deposit{Amount: 2}); err != nil {
		t.Fatal(err)
	}
	got := storedEvents(t, s, "acc-1")
	for i, want := range []struct {
		id   string
		meta map[string]any
	}{{"cmd-1", meta}, {"cmd-1/1", meta}, {"", nil}} {
		if got[i].ID != want.id || !reflect.DeepEqual(got[i].Metadata, want.meta) {
			t.Errorf("event %d: got key %q, metadata %v; want %q, %v", i, got[i].ID, got[i].Metadata, want.id, want.meta)
		}
	}
	if len(meta) != 2 {
		t.Errorf("Handle changed the metadata map: %v", meta)
	}
}

func TestCommandIDs(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			var decided atomic.Int64
			d := account
			d.Decide = func(a Account, c Command) ([]Event, error) {
				decided.Add(1)
				return account.Decide(a, c)
			}
			h := aggregate.New(s, d, newCodec(t))
			must := func(r aggregate.Result[Account, Event], err error) aggregate.Result[Account, Event] {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			must(h.Handle(ctx, "acc-1", Open{Owner: "ada"}, aggregate.CommandID("open")))
			must(h.Handle(ctx, "acc-1", Deposit{Amount: 10}, aggregate.CommandID("dep-1")))
			r := must(h.Handle(ctx, "acc-1", Withdraw{Amount: 8}, aggregate.CommandID("req-42")))
			if r.Duplicate || r.State.Balance != 2 {
				t.Fatalf("first withdrawal: got %+v, want a fresh one to balance 2", r)
			}
			// The reply was lost and the client retries: the balance is now too
			// low for a new withdrawal, but this one was handled.
			before := decided.Load()
			handled := r.Sequence
			r = must(h.Handle(ctx, "acc-1", Withdraw{Amount: 8}, aggregate.CommandID("req-42")))
			if want := (aggregate.Result[Account, Event]{State: Account{Open: true, Owner: "ada", Balance: 2}, Version: 3, Duplicate: true, Sequence: handled}); handled == 0 || !reflect.DeepEqual(r, want) {
				t.Errorf("retry: got %+v, want %+v", r, want)
			}
			if n := decided.Load() - before; n != 0 {
				t.Errorf("retry: Decide ran %d times, want 0", n)
			}
			// A new id is a new command, refused on the new balance.
			if _, err := h.Handle(ctx, "acc-1", Withdraw{Amount: 8}, aggregate.CommandID("req-43")); !errors.Is(err, ErrInsufficientFunds) {
				t.Errorf("new withdrawal: got %v, want ErrInsufficientFunds", err)
			}
			// A refused command leaves no key: its retry decides again.
			must(h.Handle(ctx, "acc-1", Deposit{Amount: 10}, aggregate.CommandID("dep-2")))
			r = must(h.Handle(ctx, "acc-1", Withdraw{Amount: 8}, aggregate.CommandID("req-43")))
			if r.Duplicate || r.State.Balance != 4 {
				t.Errorf("retry of a refused command: got %+v, want it decided afresh, to balance 4", r)
			}
			// So does a command that decided nothing.
			must(h.Handle(ctx, "acc-1", Noop{}, aggregate.CommandID("noop")))
			r = must(h.Handle(ctx, "acc-1", Noop{}, aggregate.CommandID("noop")))
			if r.Duplicate {
				t.Errorf("retry of a command that decided nothing: got Duplicate, want it decided again")
			}
			// The same id on another stream is another command.
			r, err := h.Handle(ctx, "acc-2", Withdraw{Amount: 1}, aggregate.CommandID("req-42"))
			if r.Duplicate || !errors.Is(err, ErrNotOpen) {
				t.Errorf("same id, other stream: got %+v, %v; want ErrNotOpen", r, err)
			}
		})
	}
}

func TestCommandIDInvalid(t *testing.T) {
	h := aggregate.New(openMemory(t), account, newCodec(t))
	for _, id := range []string{"", "a/1", "req/007", "bad\x00", strings.Repeat("x", 256)} {
		if _, err := h.Handle(context.Background(), "acc-1", Open{}, aggregate.CommandID(id)); !errors.Is(err, evstore.ErrInvalidArgument) {
			t.Errorf("CommandID(%q): got %v, want ErrInvalidArgument", id, err)
		}
	}
	for _, id := range []string{"a/b", "a/1x", "1", "req-1", "x/"} {
		if _, err := h.Handle(context.Background(), "acc-"+id, Open{}, aggregate.CommandID(id)); err != nil {
			t.Errorf("CommandID(%q): got %v, want it accepted", id, err)
		}
	}
}

// TestCrashBeforeWrite shows what a command id guarantees: a command
// whose events are written has one outcome, whatever retries follow; a
// command that crashed before its write left nothing, so its retry is
// decided afresh, on the state of the time of the retry.
func TestCrashBeforeWrite(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	crash := errors.New("crash") // a panic in Decide: the process dies after deciding
	var decisions []Event
	var crashNext bool
	d := account
	d.Decide = func(a Account, c Command) ([]Event, error) {
		events, err := account.Decide(a, c)
		if err == nil {
			decisions = append(decisions, events...)
		}
		if crashNext {
			crashNext = false
			panic(crash)
		}
		return events, err
	}
	h := aggregate.New(s, d, newCodec(t))
	for _, c := range []Command{Open{Owner: "ada"}, Deposit{Amount: 10}} {
		if _, err := h.Handle(ctx, "acc-1", c); err != nil {
			t.Fatal(err)
		}
	}
	handle := func(c Command, id string) (r aggregate.Result[Account, Event], err error) {
		defer func() {
			if p := recover(); p != nil {
				err = p.(error)
			}
		}()
		return h.Handle(ctx, "acc-1", c, aggregate.CommandID(id))
	}

	// 1. Withdraw 8 is decided (accepted against balance 10), and the
	// process dies before writing it.
	crashNext = true
	if _, err := handle(Withdraw{Amount: 8}, "w-1"); !errors.Is(err, crash) {
		t.Fatalf("got %v, want the crash", err)
	}
	if got := storedEvents(t, s, "acc-1"); len(got) != 2 {
		t.Fatalf("after the crash: %d events, want 2: nothing written", len(got))
	}
	// 2. Another command changes the balance meanwhile.
	if _, err := h.Handle(ctx, "acc-1", Withdraw{Amount: 5}); err != nil {
		t.Fatal(err)
	}
	// 3. The retry of w-1 is decided again, on balance 5: refused. That is
	// the only outcome anyone was told: the first decision never left the
	// process.
	if _, err := handle(Withdraw{Amount: 8}, "w-1"); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("retry after the crash: got %v, want ErrInsufficientFunds", err)
	}
	// 4. A deposit, and the next retry of w-1 is accepted and written.
	if _, err := h.Handle(ctx, "acc-1", Deposit{Amount: 20}); err != nil {
		t.Fatal(err)
	}
	r, err := handle(Withdraw{Amount: 8}, "w-1")
	if err != nil || r.Duplicate || !reflect.DeepEqual(r.Events, []Event{Withdrawn{Amount: 8}}) {
		t.Fatalf("retry after the deposit: got %+v, %v; want Withdrawn 8 written", r, err)
	}
	// 5. From now on w-1 has one outcome: every retry, whatever the state,
	// even one that would refuse it, and even one that crashes would,
	// returns Duplicate without deciding.
	if _, err := h.Handle(ctx, "acc-1", Withdraw{Amount: 17}); err != nil { // balance 0
		t.Fatal(err)
	}
	n := len(decisions)
	crashNext = true
	for range 3 {
		r, err := handle(Withdraw{Amount: 8}, "w-1")
		if err != nil || !r.Duplicate || r.Events != nil || r.State.Balance != 0 {
			t.Fatalf("retry after the write: got %+v, %v; want Duplicate at balance 0", r, err)
		}
	}
	if len(decisions) != n {
		t.Errorf("retries after the write decided %d times, want 0", len(decisions)-n)
	}
	var keyed []evstore.StoredEvent
	for _, e := range storedEvents(t, s, "acc-1") {
		if strings.HasPrefix(e.ID, "w-1") {
			keyed = append(keyed, e)
		}
	}
	if len(keyed) != 1 || keyed[0].Type != "Withdrawn" || string(keyed[0].Data) != `{"amount":8}` {
		t.Errorf("events of w-1: got %v, want one Withdrawn 8", keyed)
	}
}

// TestSameIDConcurrently: calls with one command id that all decide
// before any writes: one appends, every other reports Duplicate, never
// Events it did not append, whether it decided fewer events than the
// winner (its write finds every key: nothing appended) or more (its write
// conflicts, and the retry's lookup finds the key).
func TestSameIDConcurrently(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			const n = 6
			var arrived sync.WaitGroup
			arrived.Add(n)
			var first sync.Map // goroutine -> decided once already
			// Each caller decides i+1 deposits of 1, after waiting (on its
			// first attempt) until every caller has loaded and decided.
			type batch struct{ i int }
			d := aggregate.Decider[Account, batch, Event]{
				Evolve: account.Evolve,
				Decide: func(a Account, c batch) ([]Event, error) {
					if _, again := first.LoadOrStore(c.i, true); !again {
						arrived.Done()
						arrived.Wait()
					}
					events := make([]Event, c.i+1)
					for j := range events {
						events[j] = Deposited{Amount: 1}
					}
					return events, nil
				},
			}
			h := aggregate.New(s, d, newCodec(t), aggregate.MaxAttempts(50))
			results := make([]aggregate.Result[Account, Event], n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					var err error
					results[i], err = h.Handle(ctx, "acc-1", batch{i}, aggregate.CommandID("same"))
					if err != nil {
						t.Errorf("caller %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			winners := 0
			var wrote int
			for i, r := range results {
				switch {
				case r.Duplicate && r.Events == nil:
				case !r.Duplicate && len(r.Events) == i+1:
					winners++
					wrote = i + 1
				default:
					t.Errorf("caller %d: got %+v, want Duplicate with no Events, or its own %d events", i, r, i+1)
				}
			}
			stored := storedEvents(t, s, "acc-1")
			if winners != 1 || len(stored) != wrote {
				t.Fatalf("got %d winners and %d stored events, want 1 winner and its %d events", winners, len(stored), wrote)
			}
			last := stored[len(stored)-1].Sequence
			for i, r := range results {
				if r.Duplicate && (r.Version != int64(wrote) || r.State.Balance != int64(wrote)) {
					t.Errorf("caller %d: duplicate at version %d, balance %d; want the state after the winner's write, %d", i, r.Version, r.State.Balance, wrote)
				}
				if r.Sequence != last {
					t.Errorf("caller %d (duplicate %v): got Sequence %d, want %d, the winner's last event's", i, r.Duplicate, r.Sequence, last)
				}
			}
		})
	}
}

func TestConflictRetries(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	other := aggregate.New(s, account, newCodec(t))
	for _, c := range []Command{Open{Owner: "ada"}, Deposit{Amount: 10}} {
		if _, err := other.Handle(ctx, "acc-1", c); err != nil {
			t.Fatal(err)
		}
	}
	// interfering Decide: another writer deposits 1 while the first
	// `conflicts` attempts are being decided.
	var attempts, conflicts int
	d := account
	d.Decide = func(a Account, c Command) ([]Event, error) {
		attempts++
		if attempts <= conflicts {
			if _, err := other.Handle(ctx, "acc-1", Deposit{Amount: 1}); err != nil {
				t.Error(err)
			}
		}
		return account.Decide(a, c)
	}
	h := aggregate.New(s, d, newCodec(t), aggregate.MaxAttempts(3))

	attempts, conflicts = 0, 2
	r, err := h.Handle(ctx, "acc-1", Withdraw{Amount: 2})
	if err != nil || attempts != 3 || r.State.Balance != 10 || r.Version != 5 {
		t.Errorf("two conflicts: got %+v, %v after %d attempts; want balance 10 at version 5 after 3", r, err, attempts)
	}

	attempts, conflicts = 0, 3
	start := time.Now()
	_, err = h.Handle(ctx, "acc-1", Deposit{Amount: 5})
	var ce *evstore.ConflictError
	if !errors.Is(err, evstore.ErrConflict) || !errors.As(err, &ce) || attempts != 3 {
		t.Errorf("three conflicts: got %v after %d attempts; want an error wrapping a *ConflictError after 3", err, attempts)
	}
	if el := time.Since(start); el < 1500*time.Microsecond {
		t.Errorf("three attempts took %v: want backoff between them (at least 0.5 ms + 1 ms)", el)
	}
	if state, _, _ := h.Load(ctx, "acc-1"); state.Balance != 13 {
		t.Errorf("balance %d, want 13: nothing of the failed command written", state.Balance)
	}

	// A cancelled context stops the backoff.
	attempts, conflicts = 0, 100
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Handle(cctx, "acc-1", Deposit{Amount: 5}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestNewPanics(t *testing.T) {
	s := openMemory(t)
	c := newCodec(t)
	tests := []struct {
		name string
		f    func()
	}{
		{"MaxAttempts(0)", func() { aggregate.New(s, account, c, aggregate.MaxAttempts(0)) }},
		{"SnapshotEvery(0)", func() { aggregate.New(s, account, c, aggregate.SnapshotEvery(0)) }},
		{"SnapshotEvery(-1)", func() { aggregate.New(s, account, c, aggregate.SnapshotEvery(-1)) }},
		{"SnapshotProjection empty", func() { aggregate.New(s, account, c, aggregate.SnapshotProjection("")) }},
		{"nil store", func() { aggregate.New(nil, account, c) }},
		{"nil codec", func() { aggregate.New[Account, Command, Event](s, account, nil) }},
		{"nil Decide", func() { aggregate.New(s, aggregate.Decider[Account, Command, Event]{Evolve: account.Evolve}, c) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New did not panic")
				}
			}()
			tt.f()
		})
	}
}

func TestSnapshots(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			h := aggregate.New(s, account, newCodec(t), aggregate.SnapshotEvery(3))
			st, _ := s.Stream(ctx, "acc-1")
			snapAt := func() int64 {
				t.Helper()
				snap, err := st.LoadSnapshot(ctx, aggregate.DefaultSnapshotProjection)
				if err != nil {
					t.Fatal(err)
				}
				if snap == nil {
					return 0
				}
				var a Account
				if err := json.Unmarshal(snap.State, &a); err != nil {
					t.Fatal(err)
				}
				if want := loadEvents(t, s, "acc-1", snap.Version); a != want {
					t.Errorf("snapshot at %d: got %+v, want %+v", snap.Version, a, want)
				}
				return snap.Version
			}
			for i, want := range []int64{0, 0, 3, 3, 3, 6, 6} {
				var c Command = Deposit{Amount: int64(i)}
				if i == 0 {
					c = Open{Owner: "ada"}
				}
				if _, err := h.Handle(ctx, "acc-1", c); err != nil {
					t.Fatal(err)
				}
				if got := snapAt(); got != want {
					t.Errorf("after version %d: snapshot at %d, want %d", i+1, got, want)
				}
			}
			// Load starts from the snapshot: a doctored one shows it.
			if err := st.Snapshot(ctx, []byte(`{"open":true,"owner":"ada","balance":1000}`), evstore.AtVersion(6), evstore.Projection(aggregate.DefaultSnapshotProjection)); err != nil {
				t.Fatal(err)
			}
			state, v, err := h.Load(ctx, "acc-1")
			if err != nil || v != 7 || state.Balance != 1006 {
				t.Errorf("Load: got %+v at %d, %v; want the snapshot's 1000 plus event 7's 6", state, v, err)
			}
			// A snapshot of another shape of S is ignored.
			for _, bad := range []string{`{"open":true,"balance_cents":1}`, `[1,2]`, `"x"`, `{"balance":1} {}`, `{`} {
				if err := st.Snapshot(ctx, []byte(bad), evstore.AtVersion(6), evstore.Projection(aggregate.DefaultSnapshotProjection)); err != nil {
					t.Fatal(err)
				}
				state, v, err := h.Load(ctx, "acc-1")
				if err != nil || v != 7 || state.Balance != 21 {
					t.Errorf("Load with snapshot %s: got %+v at %d, %v; want balance 21 from the events", bad, state, v, err)
				}
			}
			// A Handler with another projection name reads its own snapshots only.
			h2 := aggregate.New(s, account, newCodec(t), aggregate.SnapshotEvery(3), aggregate.SnapshotProjection("account.v2"))
			if state, _, _ := h2.Load(ctx, "acc-1"); state.Balance != 21 {
				t.Errorf("Load with another projection: balance %d, want 21", state.Balance)
			}
			for range 2 {
				if _, err := h2.Handle(ctx, "acc-1", Deposit{Amount: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if snap, _ := st.LoadSnapshot(ctx, "account.v2"); snap == nil || snap.Version != 9 {
				t.Errorf("snapshot of account.v2: got %+v, want one at version 9", snap)
			}
			// A Handler without SnapshotEvery neither reads nor writes them.
			plain := aggregate.New(s, account, newCodec(t))
			if err := st.Snapshot(ctx, []byte(`{"open":true,"balance":1000}`), evstore.AtVersion(9), evstore.Projection(aggregate.DefaultSnapshotProjection)); err != nil {
				t.Fatal(err)
			}
			if state, _, _ := plain.Load(ctx, "acc-1"); state.Balance != 23 {
				t.Errorf("Load without SnapshotEvery: balance %d, want 23 from the events", state.Balance)
			}
		})
	}
}

// loadEvents is the state at version upTo, from the events alone.
func loadEvents(t testing.TB, s *evstore.Store, id string, upTo int64) Account {
	t.Helper()
	c := newCodec(t)
	var a Account
	for _, e := range storedEvents(t, s, id) {
		if e.Version > upTo {
			break
		}
		ev, err := c.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		a = account.Evolve(a, ev)
	}
	return a
}

// unsaveable is a state whose JSON encoding fails once it is over a limit.
type unsaveable struct{ N int }

func (u unsaveable) MarshalJSON() ([]byte, error) {
	if u.N > 2 {
		return nil, errors.New("too big to save")
	}
	return json.Marshal(struct{ N int }{u.N})
}

func TestSnapshotFailure(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	var failures []string
	d := aggregate.Decider[unsaveable, int, Event]{
		Evolve: func(u unsaveable, e Event) unsaveable { u.N++; return u },
		Decide: func(u unsaveable, n int) ([]Event, error) { return []Event{Deposited{Amount: int64(n)}}, nil },
	}
	h := aggregate.New(s, d, newCodec(t), aggregate.SnapshotEvery(2), aggregate.OnSnapshotError(func(id string, v int64, err error) {
		failures = append(failures, err.Error())
	}))
	for i := range 5 {
		r, err := h.Handle(ctx, "u", i)
		if err != nil || r.State.N != i+1 {
			t.Fatalf("command %d: got %+v, %v; want it to succeed whatever the snapshot does", i, r, err)
		}
	}
	if len(failures) != 1 || !strings.Contains(failures[0], "too big to save") || !strings.Contains(failures[0], "version 4") {
		t.Errorf("snapshot failures: got %q, want one, at version 4", failures)
	}
	st, _ := s.Stream(ctx, "u")
	if snap, _ := st.LoadSnapshot(ctx, aggregate.DefaultSnapshotProjection); snap == nil || snap.Version != 2 {
		t.Errorf("snapshot: got %+v, want the one at version 2 kept", snap)
	}
	if state, v, err := h.Load(ctx, "u"); err != nil || state.N != 5 || v != 5 {
		t.Errorf("Load: got %+v, %d, %v; want N 5 at version 5", state, v, err)
	}
}
