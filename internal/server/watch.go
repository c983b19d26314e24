package server

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// sseBuffer is how many events the Watch loop may be ahead of the
// client's connection. Beyond it the Watch waits, and Stream.Watch's own
// bounded buffers and catch-up from the database keep writers and other
// watchers from waiting on a slow client. 16, not 256: with 1,000
// clients that had each received 300 events, the server's RSS was 101 MiB
// instead of 196 MiB (the channels' pages stay resident), and delivery
// latency did not change (internal/server/loadtest, docs/server.md).
const sseBuffer = 16

// An item is what the Watch loop hands the connection: an event, or the
// error that ended the Watch.
type item struct {
	e   evstore.StoredEvent
	err error
}

// watch answers GET /api/streams/{id}/watch: Server-Sent Events, one per
// event, each with the event's position (its version, or Sequence on
// @all) as its id and the event's JSON as its data. It starts after the
// Last-Event-ID header, else after the after parameter, else at the
// stream's head (only new events), so a client that reconnects with
// Last-Event-ID gets every event after the last one it had, none twice.
// filter and filter_json select events as on GET .../events. Idle
// streams get a comment every Heartbeat. A Watch that ends (the store
// closing) sends an "error" event and closes the stream.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filter, err := filterParams(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts := []evstore.ReadOption{evstore.WithFilter(filter)}
	name, from := "after", q.Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		name, from = "Last-Event-ID", id
	}
	if from != "" {
		after, err := strconv.ParseInt(from, 10, 64)
		if err != nil || after < 0 {
			s.fail(w, r, badf("%s %q is not a position (an integer, 0 or more)", name, from))
			return
		}
		opts = append(opts, evstore.After(after))
	}
	st, err := s.store.Stream(r.Context(), streamID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The stream lasts until the client leaves or Close: past the
	// server's read deadline, which would otherwise end the request's
	// context.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.life, cancel)()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})

	events := make(chan item, sseBuffer)
	go func() {
		defer close(events)
		for e, err := range st.Watch(ctx, opts...) {
			select {
			case events <- item{e, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range events { // until the Watch loop has ended
		}
	}()

	s.metrics.clients.Add(ctx, 1)
	defer s.metrics.clients.Add(context.WithoutCancel(ctx), -1)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	buf.WriteString(": evstore watch " + st.ID() + "\nretry: 1000\n\n")
	if s.send(rc, w, &buf) != nil {
		return
	}
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			buf.WriteString(": ping\n\n")
		case it, ok := <-events:
			if !ok {
				return
			}
			// Send what the Watch has ready in one write and flush.
			more := frame(&buf, st.ID(), it)
			for more && buf.Len() < pageBytes && len(events) > 0 {
				more = frame(&buf, st.ID(), <-events)
			}
			if !more {
				s.send(rc, w, &buf)
				return
			}
		}
		if s.send(rc, w, &buf) != nil {
			return
		}
		heartbeat.Reset(s.cfg.Heartbeat)
	}
}

// frame adds it to buf as an SSE event: the event with its position as
// the id, or an "error" event, after which the stream ends (frame
// returns false).
func frame(buf *bytes.Buffer, stream string, it item) bool {
	enc := eventjson.NewEncoder(buf) // one line: JSON escapes newlines
	if it.err != nil {
		buf.WriteString("event: error\ndata: ")
		enc.Encode(errorJSON{Error: it.err.Error(), Code: codeOf(it.err)})
		buf.WriteString("\n")
		return false
	}
	buf.WriteString("id: " + strconv.FormatInt(position(stream, &it.e), 10) + "\ndata: ")
	enc.Encode(eventjson.FromStored(it.e))
	buf.WriteString("\n")
	return true
}

// send writes buf to the client and flushes it, within WriteTimeout: a
// client that stops reading is dropped then, one that reads slowly is
// not (each write has its own deadline).
func (s *Server) send(rc *http.ResponseController, w http.ResponseWriter, buf *bytes.Buffer) error {
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	_, err := w.Write(buf.Bytes())
	buf.Reset()
	if err == nil {
		err = rc.Flush()
	}
	return err
}

// position returns an event's position in the stream watched: its
// version, or its Sequence on @all.
func position(stream string, e *evstore.StoredEvent) int64 {
	if stream == evstore.All {
		return e.Sequence
	}
	return e.Version
}

// codeOf returns err's code, as its JSON body would have it.
func codeOf(err error) string {
	_, body := statusOf(err)
	return body.Code
}
