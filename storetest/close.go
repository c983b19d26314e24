package storetest

import (
	"errors"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"go.uber.org/goleak"
)

func (k *kit) closeTests() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"UseAfterClose": k.testUseAfterClose,
		"Idempotent":    k.testCloseIdempotent,
		"NoLeaks":       k.testCloseNoLeaks,
	}
}

func (k *kit) testUseAfterClose(t *testing.T) {
	s := k.open(t)
	st := stream(t, s, "s")
	all := stream(t, s, evstore.All)
	write(t, st, events("E", 2))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	_, err := s.Stream(c, "s")
	wantErr(t, "Stream", err, evstore.ErrClosed)
	_, err = st.Write(c, events("E", 1))
	wantErr(t, "Write", err, evstore.ErrClosed)
	_, err = st.Write(c, nil)
	wantErr(t, "empty Write", err, evstore.ErrClosed)
	_, err = collect(st.Read(c))
	wantErr(t, "Read", err, evstore.ErrClosed)
	_, err = collect(all.Read(c))
	wantErr(t, "Read @all", err, evstore.ErrClosed)
	_, err = collect(st.Watch(c, evstore.After(0)))
	wantErr(t, "Watch", err, evstore.ErrClosed)
	wantErr(t, "Snapshot", st.Snapshot(c, []byte("x")), evstore.ErrClosed)
	_, err = st.LoadSnapshot(c, "")
	wantErr(t, "LoadSnapshot", err, evstore.ErrClosed)
	_, err = st.Metrics(c)
	wantErr(t, "Metrics", err, evstore.ErrClosed)
}

func (k *kit) testCloseIdempotent(t *testing.T) {
	s := k.open(t)
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
}

func (k *kit) testCloseNoLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	s := k.open(t)
	st := stream(t, s, "s")
	ws := []*watcher{startWatch(t, stream(t, s, "s")), startWatch(t, stream(t, s, evstore.All), evstore.After(0))}
	write(t, st, events("E", 3))
	for _, w := range ws {
		w.next(t, 3)
	}
	for e, err := range st.Read(ctx(t)) { // a read left half-way
		if err != nil || e.Version == 1 {
			break
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if err := w.end(t); !errors.Is(err, evstore.ErrClosed) {
			t.Errorf("watch: got %v, want ErrClosed", err)
		}
	}
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Close: %v", err)
	}
}
