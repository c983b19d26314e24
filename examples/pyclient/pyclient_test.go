// Package pyclient holds client.py, a client of evstore serve's HTTP API
// in Python with the standard library only, and the test that runs it
// against a real server.
package pyclient

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/server"
	"github.com/go-event-sourcing/evstore/memory"
)

// TestPythonClient serves a store on 127.0.0.1 with a token and runs
// client.py against it: an append with a key, its retry (appended 0), a
// conflict (409), a read whose data is JSON, and a tail of @all resumed
// with Last-Event-ID. It is skipped where python3 is missing.
func TestPythonClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the Python client is not run")
	}
	ctx := context.Background()
	store, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Another stream's events, so that the tail of @all has some to skip.
	other, _ := store.Stream(ctx, "other")
	if _, err := other.Write(ctx, []evstore.CandidateEvent{{Type: "Noise"}, {Type: "Noise"}}); err != nil {
		t.Fatal(err)
	}
	const token = "pyclient-0123456789abcdef"
	srv, err := server.New(store, server.Config{Tokens: []server.Token{{Value: token}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer(ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	}()

	run, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(run, python, "client.py", "http://"+ln.Addr().String())
	cmd.Env = append(cmd.Environ(), "EVSTORE_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	t.Logf("client.py:\n%s", out)
	if err != nil {
		t.Fatalf("client.py: %v", err)
	}
	for _, want := range []string{
		"appended 1 event to order-", "retry: appended 0, version 1", "conflict: expected 0, actual 1",
		`read: OrderPlaced {"total": 10}`, "tail @all: 3 OrderPlaced", "ItemAdded", "tail @all, resumed: 5 ItemAdded", "done",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("client.py's output lacks %q", want)
		}
	}
	// Python's json.dumps wrote {"total": 10}; the store keeps it compact.
	all, _ := store.Stream(ctx, evstore.All)
	for e, err := range all.Read(ctx, evstore.After(2), evstore.Limit(1)) {
		if err != nil || string(e.Data) != `{"total":10}` {
			t.Errorf("stored data %q, %v; want the compact encoding", e.Data, err)
		}
	}
}
