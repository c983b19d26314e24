package console

// The console in a real browser: headless Chromium (Debian's chromium
// package, which .ci/run installs) driven through chromedp, against the
// API of internal/server over an SQLite store, both on 127.0.0.1.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/server"
	"github.com/go-event-sourcing/evstore/sqlite"
)

// wait bounds every step in the browser; generous, for a loaded CI
// machine. No test asserts how long anything took.
const wait = 20 * time.Second

// A site is the server under test: the API with the console
// (Config.Console) on one origin, as "evstore serve" serves them.
type site struct {
	t     *testing.T
	store *evstore.Store
	url   string
}

func serve(t *testing.T, cfg server.Config) *site { t.Helper(); return serveUnder(t, cfg, "") }

// serveUnder serves the site under a path prefix, as a reverse proxy
// that strips it would: its url is then the page's, prefix and all.
func serveUnder(t *testing.T, cfg server.Config, prefix string) *site {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Console = Handler()
	srv, err := server.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer(ln.Addr().String())
	if prefix != "" {
		hs.Handler = http.StripPrefix(prefix, srv)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		store.Close()
	})
	return &site{t: t, store: store, url: "http://" + ln.Addr().String() + prefix}
}

// write appends events to a stream through the store, not the page, and
// returns the Sequence of the last.
func (s *site) write(stream string, events ...evstore.CandidateEvent) int64 {
	s.t.Helper()
	ctx := context.Background()
	st, err := s.store.Stream(ctx, stream)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := st.Write(ctx, events); err != nil {
		s.t.Fatal(err)
	}
	all, err := s.store.Stream(ctx, evstore.All)
	if err != nil {
		s.t.Fatal(err)
	}
	return all.Version()
}

// events returns a stream's events from the store.
func (s *site) events(stream string) []evstore.StoredEvent {
	s.t.Helper()
	ctx := context.Background()
	st, err := s.store.Stream(ctx, stream)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []evstore.StoredEvent
	for e, err := range st.Read(ctx) {
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// ev is an event with JSON data (any value), metadata and tags.
func ev(typ string, data any, meta map[string]any, tags ...string) evstore.CandidateEvent {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return evstore.CandidateEvent{Type: typ, Data: b, Metadata: meta, Tags: tags}
}

// chromium returns the browser to drive. It skips under the race
// detector (CI runs the tests in its other pass) and where there is no
// browser, unless CI is set: CI installs one, so there its absence fails.
func chromium(t *testing.T) string {
	t.Helper()
	if raceEnabled {
		t.Skip("browser tests run in the pass without the race detector")
	}
	if p := os.Getenv("EVSTORE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium); CI runs these tests")
	return ""
}

// A tab is a browser tab under test. It fails the test on an uncaught
// exception in the page and counts the JavaScript dialogs (alert) that
// opened, dismissing them.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	dialogs    []string
	exceptions []string
}

func newTab(t *testing.T) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser with ctx itself: the browser lives as long as
	// the context of its first Do.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b := &tab{t: t, ctx: ctx}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	console := chromedp.Console(ctx)
	go func() {
		for d, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, d.Message)
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() {
				b.mu.Lock()
				b.exceptions = append(b.exceptions, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(b.check)
	if err := b.within(chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	return b
}

// check fails the test if the page threw or opened a dialog.
func (b *tab) check() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.exceptions {
		b.t.Errorf("the page threw: %s", e)
	}
	for _, d := range b.dialogs {
		b.t.Errorf("the page opened a dialog: %q", d)
	}
}

func (b *tab) within(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// do runs actions, each step within wait.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := b.within(actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// follow follows a link within the page: sets its location's hash.
func (b *tab) follow(hash string) {
	b.t.Helper()
	b.do("go to "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)))
}

// until waits, up to wait, until the JavaScript expression is true,
// checking on each change of the DOM.
func (b *tab) until(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(wait))); err != nil {
		b.t.Fatalf("waiting until %s (%s): %v", what, expr, err)
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text returns the textContent of the element that a CSS selector finds.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`document.querySelector(%q).textContent`, sel))
}

// noMarkup fails if the page holds an element that event content made:
// the page itself has no img, b or inline script.
func (b *tab) noMarkup(where string) {
	b.t.Helper()
	if n := eval[int](b, `document.querySelectorAll('img, b, script:not([src])').length`); n != 0 {
		b.t.Errorf("%s: the page has %d elements made from event content", where, n)
	}
}

// screenshot saves the page as docs/NAME.png when EVSTORE_SCREENSHOTS is
// set, so that CI does not rewrite the README's pictures.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("EVSTORE_SCREENSHOTS") == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s", path)
}

// streamIDs is the ids the stream list shows, comma-separated.
const streamIDs = `[...document.querySelectorAll('#streams a')].map(a => a.dataset.id).join(',')`

// rows is the first cells of a table's rows, comma-separated.
func rows(tbody string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#%s tr')].map(r => r.cells[0].textContent).join(',')`, tbody)
}

// seed writes a small shop's streams.
func seed(s *site) {
	// The events with metadata have their request's id as their key.
	w := func(stream string, events ...evstore.CandidateEvent) {
		for i := range events {
			if id, ok := events[i].Metadata["correlation_id"].(string); ok {
				events[i].ID = id
			}
		}
		s.write(stream, events...)
	}
	meta := func(user, req string) map[string]any {
		return map[string]any{"user": user, "correlation_id": req, "source": "checkout-api"}
	}
	w("customer-c-17",
		ev("CustomerRegistered", map[string]any{"customer_id": "c-17", "name": "Ada Lovelace", "email": "ada@example.com"}, meta("ada", "req-11a0"), "customer:c-17"),
		ev("AddressChanged", map[string]any{"customer_id": "c-17", "city": "London", "postcode": "W1 2AB"}, meta("ada", "req-11a4"), "customer:c-17"))
	w("order-1001",
		ev("OrderPlaced", map[string]any{
			"order_id": "1001", "customer_id": "c-17", "currency": "EUR", "total_cents": 4599,
			"items": []map[string]any{{"sku": "BK-204", "qty": 1, "price_cents": 2599}, {"sku": "MUG-7", "qty": 2, "price_cents": 1000}},
		}, meta("ada", "req-7f3a"), "customer:c-17", "order:1001"),
		ev("PaymentTaken", map[string]any{"order_id": "1001", "amount_cents": 4599, "method": "card", "payment_id": "pay-9001"}, meta("ada", "req-7f3b"), "order:1001"),
		ev("OrderPacked", map[string]any{"order_id": "1001", "parcels": 1, "warehouse": "DUB-2"}, meta("picker-4", "req-7f40"), "order:1001"),
		ev("OrderShipped", map[string]any{"order_id": "1001", "carrier": "DHL", "tracking": "JD014600003SE"}, meta("picker-4", "req-7f44"), "order:1001"))
	w("order-1002",
		ev("OrderPlaced", map[string]any{"order_id": "1002", "customer_id": "c-23", "currency": "EUR", "total_cents": 1250, "items": []map[string]any{{"sku": "PEN-3", "qty": 5, "price_cents": 250}}}, meta("grace", "req-8101"), "customer:c-23", "order:1002"),
		ev("OrderCancelled", map[string]any{"order_id": "1002", "reason": "customer request"}, meta("grace", "req-8107"), "order:1002"))
	w("order-1003",
		ev("OrderPlaced", map[string]any{"order_id": "1003", "customer_id": "c-17", "currency": "EUR", "total_cents": 899, "items": []map[string]any{{"sku": "MUG-7", "qty": 1, "price_cents": 899}}}, meta("ada", "req-9a02"), "customer:c-17", "order:1003"))
	w("payment-pay-9001",
		ev("PaymentAuthorised", map[string]any{"payment_id": "pay-9001", "order_id": "1001", "amount_cents": 4599}, meta("ada", "req-7f3b")),
		ev("PaymentCaptured", map[string]any{"payment_id": "pay-9001", "amount_cents": 4599}, meta("system", "req-7f3c")))
	var readings []evstore.CandidateEvent
	for i := 1; i <= 120; i++ {
		readings = append(readings, ev("TemperatureRead", map[string]any{"sensor": "meter-7", "celsius": 18 + float64(i%10)/4}, nil))
	}
	w("sensor-meter-7", readings...)
}

// TestBrowser drives the console in headless Chromium: the stream list
// and its search, a stream's events and their pages, an event in full,
// the live tail of @all (an event written after the page loaded
// appears; the delay is logged, not asserted), hostile content shown as
// text, the consumers' lag and a stream's delete with its confirmation.
func TestBrowser(t *testing.T) {
	b := newTab(t)
	s := serve(t, server.Config{})
	seed(s)

	b.do("open the console", chromedp.Navigate(s.url+"/"))
	b.until("the stream list loads", streamIDs+` === '@all,customer-c-17,order-1001,order-1002,order-1003,payment-pay-9001,sensor-meter-7'`)
	if got := b.text("#streams-count"); got != "6 streams" {
		t.Errorf("stream count %q", got)
	}

	// A stream, then an event in full.
	b.do("open order-1001", chromedp.Click(chromedp.CSS(`#streams a[data-id="order-1001"]`)))
	b.until("its events show, newest first", rows("events")+` === '4,3,2,1'`)
	if got := b.text("#stream-title"); got != "order-1001" {
		t.Errorf("title %q", got)
	}
	if got := b.text("#stream-meta"); !strings.HasPrefix(got, "version 4 · 4 events · last write ") {
		t.Errorf("meta %q", got)
	}
	b.screenshot("console-streams")
	b.do("open its first event", chromedp.Click(chromedp.CSS(`#events tr:last-child`)))
	b.until("the event shows", `!document.getElementById('detail').hidden`)
	if got := b.text("#detail-title"); got != "OrderPlaced" {
		t.Errorf("detail title %q", got)
	}
	data := b.text("#detail-data")
	if !strings.Contains(data, "\n  \"total_cents\": 4599") || !strings.Contains(data, "\"sku\": \"BK-204\"") {
		t.Errorf("data not pretty-printed JSON:\n%s", data)
	}
	if got := b.text("#detail-metadata"); !strings.Contains(got, `"correlation_id": "req-7f3a"`) {
		t.Errorf("metadata %q", got)
	}
	if got := b.text("#detail-tags"); got != "customer:c-17order:1001" {
		t.Errorf("tags %q", got)
	}
	b.screenshot("console-events")

	// The search box: a prefix.
	b.do("search", chromedp.SendKeys(chromedp.ID("search"), "order-"))
	b.until("the list holds the orders only", streamIDs+` === 'order-1001,order-1002,order-1003'`)
	b.do("open order-1002", chromedp.Click(chromedp.CSS(`#streams a[data-id="order-1002"]`)))
	b.until("order-1002's events show", rows("events")+` === '2,1'`)
	b.do("search for nothing", chromedp.SendKeys(chromedp.ID("search"), "x"))
	b.until("the list is empty", streamIDs+` === '' && document.getElementById('streams-count').textContent === 'No stream starts with that.'`)

	// Pages of a long stream, newest first, then oldest first.
	b.follow("#/stream/sensor-meter-7")
	b.until("page 1", `document.getElementById('page-info').textContent === 'Page 1 · version 120–71'`)
	b.do("older", chromedp.Click(chromedp.ID("page-next")))
	b.until("page 2", `document.getElementById('page-info').textContent === 'Page 2 · version 70–21'`)
	b.do("older", chromedp.Click(chromedp.ID("page-next")))
	b.until("page 3, the last", `document.getElementById('page-info').textContent === 'Page 3 · version 20–1' && document.getElementById('page-next').disabled`)
	b.do("newer", chromedp.Click(chromedp.ID("page-prev")))
	b.until("page 2 again", `document.getElementById('page-info').textContent === 'Page 2 · version 70–21'`)
	b.do("oldest first", chromedp.Click(chromedp.ID("oldest-first")))
	b.until("page 1 from the start", `document.getElementById('page-info').textContent === 'Page 1 · version 1–50'`)
	b.do("later", chromedp.Click(chromedp.ID("page-next")))
	b.until("page 2 from the start", `document.getElementById('page-info').textContent === 'Page 2 · version 51–100'`)
	b.do("newest first again", chromedp.Click(chromedp.ID("oldest-first")))

	// The live tail: an event written now, through the store, appears.
	b.do("open the live tail", chromedp.Click(chromedp.ID("nav-live")))
	b.until("the tail is connected", `document.getElementById('live-status').dataset.state === 'live'`)
	start := time.Now()
	seq := s.write("order-1003", ev("PaymentTaken", map[string]any{"order_id": "1003", "amount_cents": 899}, map[string]any{"user": "ada"}, "order:1003"))
	b.until("the event is in the tail", fmt.Sprintf(`[...document.querySelectorAll('#live tr')].some(r => r.cells[0].textContent === '%d')`, seq))
	t.Logf("live tail: an event written through the store showed in the page %v later", time.Since(start).Round(time.Millisecond))
	if got := b.text("#live tr:first-child td:nth-child(2)"); got != "order-1003" {
		t.Errorf("tail row's stream %q", got)
	}

	// An open stream's first page takes its new events as they come.
	b.follow("#/stream/order-1003")
	b.until("order-1003's events show", rows("events")+` === '2,1'`)
	s.write("order-1003", ev("OrderPacked", map[string]any{"order_id": "1003"}, nil))
	b.until("the new event joins the page", rows("events")+` === '3,2,1'`)
	b.until("the metrics follow", `document.getElementById('stream-meta').textContent.startsWith('version 3 ')`)
	b.follow("#/live")

	// Hostile content is text: in the tail, the event's page and the list.
	const html = `<img src=x onerror=alert(1)>`
	hostile := "note-<img src=x onerror=alert(2)>"
	hseq := s.write(hostile, evstore.CandidateEvent{
		Type: `<img src=x onerror=alert(3)>`, Data: []byte(html),
		Metadata: map[string]any{"comment": "<script>alert(4)</script>"}, Tags: []string{"html:<b>bold</b>"},
	})
	b.until("the hostile event is in the tail", fmt.Sprintf(`document.querySelector('#live tr').cells[0].textContent === '%d'`, hseq))
	if got := b.text("#live tr:first-child td:nth-child(4)"); got != `<img src=x onerror=alert(3)>` {
		t.Errorf("tail shows the type as %q", got)
	}
	b.do("open the hostile event", chromedp.Click(chromedp.CSS(`#live tr:first-child td:nth-child(4)`)))
	b.until("the event shows", `!document.getElementById('detail').hidden`)
	for sel, want := range map[string]string{
		"#detail-data":      html,
		"#detail-data-kind": "text, 28 bytes",
		"#detail-title":     `<img src=x onerror=alert(3)>`,
		"#detail-tags":      "html:<b>bold</b>",
	} {
		if got := b.text(sel); got != want {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}
	if got := b.text("#detail-metadata"); !strings.Contains(got, "<script>alert(4)</script>") {
		t.Errorf("metadata shows %q", got)
	}
	b.noMarkup("the tail and the event")
	b.do("open the hostile stream", chromedp.Click(chromedp.CSS(`#live tr:first-child td:nth-child(2) a`)))
	b.until("its event shows", rows("events")+` === '1'`)
	if got := b.text("#events td:nth-child(4)"); got != html {
		t.Errorf("the data column shows %q", got)
	}
	if got := b.text("#stream-title"); got != hostile {
		t.Errorf("the title shows %q", got)
	}
	b.noMarkup("the stream's events")
	b.do("load the console again", chromedp.Navigate(s.url+"/?again"))
	b.until("the list shows the hostile id", fmt.Sprintf(`[...document.querySelectorAll('#streams .id')].some(e => e.textContent === %q)`, hostile))
	b.noMarkup("the stream list")

	// Consumers and their lag.
	consume(t, s, "billing")
	pos := s.write("order-1003", ev("OrderShipped", map[string]any{"order_id": "1003"}, nil), ev("OrderDelivered", map[string]any{"order_id": "1003"}, nil)) - 2
	b.do("open the consumers", chromedp.Click(chromedp.ID("nav-consumers")))
	b.until("billing is listed", `[...document.querySelectorAll('#consumers td')].some(td => td.textContent === 'billing')`)
	if got, want := eval[string](b, `[...document.querySelectorAll('#consumers tr:first-child td')].map(td => td.textContent).join('|')`),
		fmt.Sprintf("billing|–|%d|2|2|", pos); !strings.HasPrefix(got, want) {
		t.Errorf("consumer row %q, want it to start %q", got, want)
	}

	// Delete, after a confirmation: Cancel keeps the stream.
	b.follow("#/stream/customer-c-17")
	b.until("its events show", rows("events")+` === '2,1'`)
	b.until("its metrics show", `document.getElementById('stream-meta').textContent.startsWith('version 2 ')`)
	b.do("delete", chromedp.Click(chromedp.ID("stream-delete")))
	b.until("the confirmation opens", `document.getElementById('delete-dialog').open`)
	if got := b.text("#delete-id"); got != "customer-c-17" {
		t.Errorf("the confirmation names %q", got)
	}
	b.do("cancel", chromedp.Click(chromedp.ID("delete-cancel")))
	b.until("the confirmation closes", `!document.getElementById('delete-dialog').open`)
	if n := len(s.events("customer-c-17")); n != 2 {
		t.Fatalf("after Cancel, the stream has %d events", n)
	}
	b.do("delete", chromedp.Click(chromedp.ID("stream-delete")))
	b.until("the confirmation opens", `document.getElementById('delete-dialog').open`)
	b.do("confirm", chromedp.Click(chromedp.ID("delete-confirm")))
	b.until("the page shows the tombstone", rows("events")+` === '3' && document.querySelector('#events td:nth-child(2)').textContent === '$deleted'`)
	if got := s.events("customer-c-17"); len(got) != 1 || got[0].Type != evstore.Deleted {
		t.Errorf("after the delete, the stream holds %v", got)
	}
	if !eval[bool](b, `document.getElementById('error').hidden`) {
		t.Errorf("an error shows: %s", b.text("#error-text"))
	}
}

// consume runs a consumer until it has handled every event, and stops
// it: its position stays, and the events written after are its lag.
func consume(t *testing.T, s *site, name string) {
	t.Helper()
	head := s.write("warm-up", ev("Tick", map[string]any{"n": 1}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.store.Consume(ctx, name, evstore.HandlerFunc(func(context.Context, []evstore.StoredEvent) error { return nil }))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Consume: %v", err)
		}
	}()
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		for c, err := range s.store.Consumers(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			if c.Name == name && c.Position == head {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s did not reach %d within %v", name, head, wait)
		}
	}
}

// TestBrowserToken: with tokens, the console asks for one, asks again
// when the server refuses it, and then works, sending it as a header; a
// read-only token cannot delete; no cookie is set.
func TestBrowserToken(t *testing.T) {
	const writer, reader = "console-writer-0123456789abcdef", "console-reader-0123456789abcdef"
	b := newTab(t)
	s := serve(t, server.Config{Tokens: []server.Token{{Value: writer}, {Value: reader, ReadOnly: true}}})
	s.write("order-1", ev("OrderPlaced", map[string]any{"total": 10}, nil))

	b.do("open the console", chromedp.Navigate(s.url+"/"))
	b.until("it asks for a token", `document.getElementById('token-dialog').open`)
	if got := eval[string](b, streamIDs); got != "" {
		t.Errorf("without a token the list shows %q", got)
	}
	b.do("give a wrong token", chromedp.SendKeys(chromedp.ID("token"), "not-the-token-0123456789"), chromedp.Click(chromedp.ID("token-submit")))
	b.until("it asks again", `document.getElementById('token-dialog').open && document.getElementById('token-why').textContent.includes('refused')`)
	b.do("give the read-only token", chromedp.SendKeys(chromedp.ID("token"), reader), chromedp.Click(chromedp.ID("token-submit")))
	b.until("the list loads", streamIDs+` === '@all,order-1'`)
	b.until("the tail is connected", `document.getElementById('live-status').dataset.state === 'live'`)

	b.do("open order-1", chromedp.Click(chromedp.CSS(`#streams a[data-id="order-1"]`)))
	b.until("its events show", rows("events")+` === '1'`)
	b.until("its metrics show", `document.getElementById('stream-meta').textContent.startsWith('version 1 ')`)
	b.do("delete", chromedp.Click(chromedp.ID("stream-delete")))
	b.until("the confirmation opens", `document.getElementById('delete-dialog').open`)
	b.do("confirm", chromedp.Click(chromedp.ID("delete-confirm")))
	b.until("the refusal shows", `!document.getElementById('error').hidden && document.getElementById('error-text').textContent.startsWith('403: ')`)
	if n := len(s.events("order-1")); n != 1 {
		t.Errorf("a read-only token deleted: %d events left", n)
	}

	// Forget it; the page asks again, and the writer's token deletes.
	b.do("forget the token (the page reloads)", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("forget-token")))(ctx, t)
		return err
	}))
	b.until("it asks for a token", `document.getElementById('token-dialog').open && document.getElementById('token-why').textContent.startsWith('This server needs')`)
	b.do("give the writer's token", chromedp.SendKeys(chromedp.ID("token"), writer), chromedp.Click(chromedp.ID("token-submit")))
	b.until("the tail is connected", `document.getElementById('live-status').dataset.state === 'live'`)
	b.do("open the live tail", chromedp.Click(chromedp.ID("nav-live")))
	start := time.Now()
	seq := s.write("order-1", ev("OrderPaid", map[string]any{"total": 10}, nil))
	b.until("the event is in the tail", fmt.Sprintf(`document.querySelector('#live tr') && document.querySelector('#live tr').cells[0].textContent === '%d'`, seq))
	t.Logf("live tail with a token: %v", time.Since(start).Round(time.Millisecond))

	if got := eval[string](b, `document.cookie`); got != "" {
		t.Errorf("document.cookie = %q", got)
	}
	if got := eval[string](b, `sessionStorage.getItem('evstore-console-token')`); got != writer {
		t.Errorf("sessionStorage holds %q", got)
	}
}

// TestBrowserPrefix: behind a proxy that serves evstore under a path
// prefix, the page calls the API under that prefix too.
func TestBrowserPrefix(t *testing.T) {
	b := newTab(t)
	s := serveUnder(t, server.Config{}, "/evstore")
	s.write("order-1", ev("OrderPlaced", map[string]any{"total": 10}, nil))
	b.do("open the console", chromedp.Navigate(s.url+"/"))
	b.until("the list loads", streamIDs+` === '@all,order-1'`)
	b.until("the tail is connected", `document.getElementById('live-status').dataset.state === 'live'`)
	b.do("open order-1", chromedp.Click(chromedp.CSS(`#streams a[data-id="order-1"]`)))
	b.until("its events show", rows("events")+` === '1'`)
}
