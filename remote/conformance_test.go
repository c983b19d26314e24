package remote

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/server"
	"github.com/go-event-sourcing/evstore/sqlite"
	"github.com/go-event-sourcing/evstore/storetest"
)

// served is a remote backend whose Close also stops the server it talks
// to, so that the kit, which checks that a closed Store leaves no
// goroutine behind, sees the server's go too.
type served struct {
	*backend
	stop func()
}

func (s served) Close() error {
	err := s.backend.Close()
	s.stop()
	return err
}

// serve starts evstore serve's handler on an SQLite store of its own, on
// a loopback listener, and returns a Store backed by it through the API.
func serve(tb testing.TB, opts ...Option) *evstore.Store {
	tb.Helper()
	ctx := context.Background()
	local, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "served.db"))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(local, server.Config{})
	if err != nil {
		local.Close()
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	stop := func() {
		srv.Close()
		ts.Close()
		local.Close()
	}
	b, err := open(ctx, ts.URL, opts...)
	if err != nil {
		stop()
		tb.Fatal(err)
	}
	return evstore.NewStore(served{b, stop})
}

// TestConformance runs the kit against a Store backed by a real server:
// the proof that the API carries every Backend call exactly.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) *evstore.Store { return serve(tb) })
}
