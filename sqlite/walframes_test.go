package sqlite

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// BenchmarkWALFrames shows what bounds group commit on SQLite: each commit
// writes one WAL frame (a 4 KiB page, in two system calls) per page it
// changed, and a checkpoint later fsyncs and copies them. It counts frames
// per event for one event per transaction, and for groups shaped like
// `evstore bench --writers 32 --batch 1`: sixteen calls on streams of
// their own, each changing its stream's leaf in both unique indexes, and
// sixteen contending on one stream, of which one succeeds. A group on one
// stream is shown for comparison. Run it with
//
//	go test ./sqlite -run '^$' -bench WALFrames
func BenchmarkWALFrames(b *testing.B) {
	b.Run("single", func(b *testing.B) { benchFrames(b, 1, 0, false) })
	b.Run("group/own=16,contended=16", func(b *testing.B) { benchFrames(b, 16, 16, false) })
	b.Run("group/one-stream=32", func(b *testing.B) { benchFrames(b, 32, 0, true) })
}

// benchFrames commits b.N groups of own calls, each on a stream of its
// own (or all on one stream if shared), and contended calls expecting the
// same version of one stream. The WAL is checkpointed only between rounds,
// so that its frame count is every frame written. The time per group
// includes starting a goroutine per call, and no checkpoint.
func benchFrames(b *testing.B, own, contended int, shared bool) {
	be := newBackend(b)
	ctx := context.Background()
	w := <-be.writer
	if err := exec(ctx, w, "PRAGMA wal_autocheckpoint=0"); err != nil {
		b.Fatal(err)
	}
	be.writer <- w
	// Give every stream some history first, as a running system has.
	for i := range own {
		stream := fmt.Sprintf("own-%02d", i)
		if _, err := be.Append(ctx, evstore.AppendRequest{StreamID: stream, Events: enc(make([]string, 200)...)}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := be.Append(ctx, evstore.AppendRequest{StreamID: "contended", Events: enc(make([]string, 200)...)}); err != nil {
		b.Fatal(err)
	}
	// count adds up the frames in the WAL and empties it, so that it
	// does not grow without end.
	var frames int64
	count := func() {
		frames += walFrames(b, be, "PASSIVE")
		if n := walFrames(b, be, "TRUNCATE"); n != 0 {
			b.Fatalf("WAL holds %d frames after a truncating checkpoint", n)
		}
	}
	count()
	frames = 0
	events := 0
	b.ResetTimer()
	for i := range b.N {
		if i%100 == 99 {
			b.StopTimer()
			count()
			b.StartTimer()
		}
		held := <-be.writer
		cur, err := be.Head(ctx, "contended")
		if err != nil {
			b.Fatal(err)
		}
		results := make(chan error, own+contended)
		for i := range own + contended {
			req := evstore.AppendRequest{StreamID: fmt.Sprintf("own-%02d", i), Events: enc("")}
			switch {
			case i >= own:
				req.StreamID, req.Expect = "contended", expect(cur)
			case shared:
				req.StreamID = "own-00"
			}
			go func() {
				_, err := be.Append(ctx, req)
				results <- err
			}()
		}
		for queued(be) < own+contended {
			runtime.Gosched()
		}
		be.writer <- held
		for range own + contended {
			if err := <-results; err == nil {
				events++
			}
		}
	}
	b.StopTimer()
	count()
	b.ReportMetric(float64(frames)/float64(events), "frames/event")
}

// walFrames checkpoints the WAL and returns how many frames it holds.
func walFrames(b *testing.B, be *backend, mode string) int64 {
	w := <-be.writer
	defer func() { be.writer <- w }()
	stmt, _, err := w.PrepareTransient("PRAGMA wal_checkpoint(" + mode + ")")
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Finalize()
	if _, err := stmt.Step(); err != nil {
		b.Fatal(err)
	}
	return stmt.ColumnInt64(1)
}
