package loadtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore/internal/server"
	"github.com/go-event-sourcing/evstore/memory"
)

// fakeServe, set in the environment, makes the test binary stand in for
// "evstore serve" (TestStart): it serves a memory store as serve does
// and prints serve's line.
const fakeServe = "LOADTEST_FAKE_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServe) == "1" {
		if err := serveFake(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake serve:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveFake is "evstore serve --addr ADDR ..." on a memory store, until
// SIGTERM.
func serveFake(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return fmt.Errorf("want serve, got %q", args)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2113", "")
	fs.String("db", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	hs, err := listen(ctx, *addr, func(url string) { fmt.Printf("%s%s (no tokens: loopback only)\n", listening, url) })
	if err != nil {
		return err
	}
	<-ctx.Done()
	return hs()
}

// listen serves server.New on a memory store on addr, in the
// background, and calls ready with its URL. The func it returns shuts
// the server down.
func listen(ctx context.Context, addr string, ready func(url string)) (func() error, error) {
	store, err := memory.Open(ctx)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(store, server.Config{})
	if err != nil {
		store.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		store.Close()
		return nil, err
	}
	hs := srv.HTTPServer(ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	ready("http://" + ln.Addr().String())
	return func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := hs.Shutdown(sctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return errors.Join(err, store.Close())
	}, nil
}

// TestTiny runs each measurement at a tiny size against a server in the
// test's process: that they work, not how fast.
func TestTiny(t *testing.T) {
	ctx := context.Background()
	var url string
	shutdown, err := listen(ctx, "127.0.0.1:0", func(u string) { url = u })
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shutdown(); err != nil {
			t.Error(err)
		}
	}()

	for _, keys := range []bool{false, true} {
		a, err := Appends(ctx, AppendConfig{URL: url, Clients: 2, Batch: 3, Duration: 200 * time.Millisecond, MaxRequests: 5, Payload: 10, Keys: keys, Prefix: fmt.Sprint("keys-", keys)})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("appends: %v", a)
		if a.Errors != 0 || a.Requests == 0 || a.Requests > 10 || a.Events != 3*a.Requests || a.Latency.N != int(a.Requests) {
			t.Errorf("Appends: %+v", a)
		}
	}

	s, err := SSELatency(ctx, SSEConfig{URL: url, Clients: 3, Writers: 2, Rate: 200, Duration: 200 * time.Millisecond, MaxEvents: 10, Payload: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sse: %v", s)
	if s.Written == 0 || s.Written > 10 || s.Missing != 0 || s.Latency.N != 3*int(s.Written) || s.AfterAck.N != s.Latency.N || s.Latency.P50 <= 0 {
		t.Errorf("SSELatency: %+v", s)
	}

	for _, events := range []int{0, 150} {
		i, err := Idle(ctx, IdleConfig{URL: url, Clients: 5, Events: events, Settle: 10 * time.Millisecond, Memory: func() (Memory, error) { return ReadMemory(os.Getpid()) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("idle: %v", i)
		if i.After.RSS <= 0 || i.MetricsAfter["go_goroutines"] <= 0 || i.MetricsAfter["evstore_server_sse_clients"] != 5 {
			t.Errorf("Idle: %+v", i)
		}
	}
}

// TestStart starts a process as the command does (the test binary
// standing in for evstore serve) and reads its memory and CPU.
func TestStart(t *testing.T) {
	t.Setenv(fakeServe, "1")
	ctx := context.Background()
	p, err := Start(ctx, os.Args[0], "--db", "unused.db")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}()
	m, err := p.Memory()
	if err != nil || m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("Memory: %+v, %v", m, err)
	}
	if _, err := p.CPU(); err != nil {
		t.Errorf("CPU: %v", err)
	}
	if _, err := ReadRunDelay(p.PID); err != nil {
		t.Errorf("ReadRunDelay: %v", err)
	}
	a, err := Appends(ctx, AppendConfig{URL: p.URL, Clients: 1, Batch: 1, Duration: 100 * time.Millisecond, MaxRequests: 3})
	if err != nil || a.Events == 0 {
		t.Errorf("Appends: %v, %v", a, err)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:2113", "http://[::1]:2113", "http://127.0.0.2:80/"} {
		if err := loopbackURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1:2113", "https://127.0.0.1:2113", "http://localhost:2113", "http://example.com:80"} {
		if err := loopbackURL(u); err == nil {
			t.Errorf("%s: no error", u)
		}
	}
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 1000; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	q := Quantile(ds)
	if q.N != 1000 || q.P50 != 500 || q.P90 != 900 || q.P99 != 990 || q.P999 != 999 || q.Max != 1000 {
		t.Errorf("Quantile: %+v", q)
	}
}
