package remote

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// Changes implements evstore.Backend: it follows the server's live stream
// of @all (GET /api/streams/%40all/watch) from the head, and sends a value,
// coalesced, for each event, whoever wrote it. When the connection drops
// it reconnects, with Last-Event-ID, after a short wait that grows with
// each failure in a row, and sends a value then too, since events may
// have come meanwhile. It stops when ctx ends.
func (b *backend) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.follow(ctx, ch)
	}()
	return ch
}

func (b *backend) follow(ctx context.Context, ch chan<- struct{}) {
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	last := int64(-1) // -1: from the head
	for failures := 0; ctx.Err() == nil; {
		if failures > 0 {
			t := time.NewTimer(backoff(failures))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			notify()
		}
		if b.stream(ctx, &last, notify) {
			failures = 0
		} else {
			failures++
		}
	}
}

// stream reads one connection of the live stream, updating *last, until
// it ends; it reports whether it got any event through.
func (b *backend) stream(ctx context.Context, last *int64, notify func()) (progressed bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.path("streams", evstore.All, "watch"), nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "text/event-stream")
	if *last >= 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(*last, 10))
	}
	b.authorize(req)
	resp, err := b.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 64<<20)
	for lines.Scan() {
		line := lines.Text()
		if id, ok := strings.CutPrefix(line, "id:"); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64); err == nil {
				*last = n
				progressed = true
				notify()
			}
		}
	}
	return progressed
}
