package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// eventOf decodes an SSE event's data and checks that its id is the
// event's position.
func eventOf(t *testing.T, m message, all bool) eventjson.Event {
	t.Helper()
	var e eventjson.Event
	if err := json.Unmarshal([]byte(m.data), &e); err != nil {
		t.Fatalf("event data %q: %v", m.data, err)
	}
	pos := e.Version
	if all {
		pos = e.Sequence
	}
	if m.id != strconv.FormatInt(pos, 10) {
		t.Fatalf("SSE id %q for the event at %d: %s", m.id, pos, m.data)
	}
	return e
}

// TestWatch: the events after "after", each with its version as the SSE
// id; without "after", only new ones; a filter selects.
func TestWatch(t *testing.T) {
	a := newAPI(t, Config{})
	a.write("s", ev("", "A", `{"n":1}`), ev("", "B", ""), ev("", "A", ""))
	w := a.watch("s", "?after=1", nil)
	if m := w.next(); !strings.Contains(m.comment, "evstore watch s") {
		t.Errorf("first message %+v, want the opening comment", m)
	}
	for _, want := range []int64{2, 3} {
		if e := eventOf(t, w.event(), false); e.Version != want {
			t.Errorf("got version %d, want %d", e.Version, want)
		}
	}
	w.close()

	w = a.watch("s", "", nil) // new events only
	w.next()
	a.write("s", ev("", "C", `{"total": 10}`))
	e := eventOf(t, w.event(), false)
	if e.Version != 4 || e.Type != "C" || string(e.Data) != `{"total":10}` {
		t.Errorf("new event: %+v, want version 4 of type C with its data as JSON", e)
	}

	f := a.watch(evstore.All, "?after=0&filter=event_type=A", nil)
	for _, want := range []int64{1, 3} {
		if e := eventOf(t, f.event(), true); e.Sequence != want || e.Type != "A" {
			t.Errorf("filtered @all: got %+v, want Sequence %d of type A", e, want)
		}
	}

	for _, c := range []struct {
		query  string
		header http.Header
	}{
		{"?after=x", nil},
		{"?after=-1", nil},
		{"", http.Header{"Last-Event-Id": {"seven"}}},
		{"?filter=nope=1", nil},
	} {
		resp := a.send("GET", "/api/streams/s/watch"+c.query, nil, c.header)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("watch%s %v: status %d, want 400", c.query, c.header, resp.StatusCode)
		}
	}
}

// TestWatchResume: a client that reconnects with Last-Event-ID, again and
// again while a writer goes on, gets every event once: no gap, no
// duplicate; the header wins over "after".
func TestWatchResume(t *testing.T) {
	for _, stream := range []string{"s", evstore.All} {
		t.Run(stream, func(t *testing.T) {
			a := newAPI(t, Config{})
			const total = 300
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range total {
					id := []string{"s", "t"}[i%2]
					if stream == "s" {
						id = "s"
					}
					a.write(id, ev("", "E", fmt.Sprint(i)))
				}
			}()
			defer wg.Wait()
			last, reconnects := int64(0), 0
			for last < total && reconnects < total {
				w := a.watch(stream, "?after=0", http.Header{"Last-Event-ID": {strconv.FormatInt(last, 10)}})
				reconnects++
				for n := 0; n < 37 && last < total; {
					m := w.next()
					if m.comment != "" {
						continue
					}
					e := eventOf(t, m, stream == evstore.All)
					pos, _ := strconv.ParseInt(m.id, 10, 64)
					if pos != last+1 {
						t.Fatalf("after %d came %d (%+v): a gap or a duplicate", last, pos, e)
					}
					last, n = pos, n+1
				}
				w.close()
			}
			if last != total || reconnects < 5 {
				t.Errorf("got up to %d in %d connections, want %d in several", last, reconnects, total)
			}
		})
	}
}

// TestWatchHeartbeat: an idle stream gets a comment every Heartbeat.
func TestWatchHeartbeat(t *testing.T) {
	a := newAPI(t, Config{Heartbeat: 20 * time.Millisecond})
	w := a.watch("s", "", nil)
	w.next()
	for range 3 {
		if m := w.next(); m.comment != "ping" {
			t.Fatalf("got %+v, want a ping", m)
		}
	}
}

// TestWatchStoreClosed: a Watch the store ends sends an "error" event and
// ends the stream.
func TestWatchStoreClosed(t *testing.T) {
	a := newAPI(t, Config{})
	w := a.watch("s", "", nil)
	w.next()
	a.store.Close()
	m := w.event()
	if m.event != "error" || !strings.Contains(m.data, `"code":"closed"`) {
		t.Errorf("got %+v, want an error event with code closed", m)
	}
}

// TestWatchOutlivesTimeouts: on a real listener with short read and write
// timeouts, an SSE stream stays open past them (its writes have deadlines
// of their own), while a client that stops reading is dropped and never
// holds up writers.
func TestWatchOutlivesTimeouts(t *testing.T) {
	a := listen(t, Config{ReadTimeout: 100 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, Heartbeat: time.Hour})
	w := a.watch("s", "", nil)
	w.next()
	time.Sleep(500 * time.Millisecond) // past both timeouts
	a.write("s", ev("", "Late", ""))
	if e := eventOf(t, w.event(), false); e.Type != "Late" {
		t.Errorf("got %+v, want the event written after the timeouts", e)
	}

	// A client that sends its request and never reads.
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/streams/big/watch?after=0 HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("the stalled client's response: %q, %v", line, err)
	}
	clients := func() string {
		_, body := a.raw("GET", "/metrics", nil, nil)
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "evstore_server_sse_clients{") {
				return l[strings.LastIndexByte(l, ' ')+1:]
			}
		}
		return "?"
	}
	if n := clients(); n != "2" {
		t.Errorf("%s SSE clients, want 2", n)
	}
	// 32 MiB of events: more than the socket buffers hold, so the
	// server's writes to the stalled client block, then time out.
	start := time.Now()
	data := strings.Repeat("x", 32<<10)
	for range 1024 / 64 {
		batch := make([]evstore.CandidateEvent, 64)
		for i := range batch {
			batch[i] = ev("", "Big", data)
		}
		a.write("big", batch...)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("writing took %v with a stalled client connected", d)
	}
	for i := 0; clients() != "1"; i++ {
		if i == 200 {
			t.Fatalf("the stalled client is still connected after 20s: %s clients", clients())
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.write("s", ev("", "After", ""))
	if e := eventOf(t, w.event(), false); e.Type != "After" {
		t.Errorf("the reading client got %+v, want the next event", e)
	}
}

// TestShutdownEndsWatch: http.Server.Shutdown of HTTPServer's server ends
// the SSE streams at once instead of waiting for them.
func TestShutdownEndsWatch(t *testing.T) {
	a := listen(t, Config{})
	w := a.watch(evstore.All, "", nil)
	w.next()
	start := time.Now()
	a.shutdown()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with a watcher", d)
	}
	for i := 0; ; i++ { // the lines left of the opening, then the end
		if _, err := w.r.ReadString('\n'); err != nil {
			break
		}
		if i == 10 {
			t.Fatal("the stream is still open after Shutdown")
		}
	}
}
