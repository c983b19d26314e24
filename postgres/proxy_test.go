package postgres

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// A proxy sits between tests and the PostgreSQL server, on loopback, to
// cut the network at run time (see proxyMode). Close stops every goroutine
// it started.
type proxy struct {
	ln       net.Listener
	upstream string // the server's host:port
	wg       sync.WaitGroup

	mu     sync.Mutex
	mode   proxyMode
	conns  map[*proxyConn]struct{}
	closed bool
}

// A proxyMode is what a proxy does with the bytes it gets.
type proxyMode int

const (
	// forward passes bytes both ways, and closes a side when the other
	// closes.
	forward proxyMode = iota
	// down is an outage or a restart of the server: switching to it
	// closes every open connection, and new ones are closed as soon as
	// they are accepted.
	down
	// partition is a network partition: every socket stays open, but
	// every byte is dropped, both ways, and so is a close (a FIN); new
	// connections are accepted and forward nothing. A connection that
	// dropped something has lost part of its stream, so switching back to
	// forward closes it; the others go on.
	partition
)

func (m proxyMode) String() string {
	return [...]string{"forward", "down", "partition"}[m]
}

const (
	// proxyMaxConns bounds a proxy's connections: more are closed as soon
	// as they are accepted.
	proxyMaxConns = 64
	// proxyDialTimeout bounds a connection to the server.
	proxyDialTimeout = 5 * time.Second
)

// A proxyConn is one client connection, and its connection to the server
// (nil if it was accepted during a partition).
type proxyConn struct {
	client, server net.Conn
	broken         bool // bytes were dropped; p.mu guards it
}

// newProxy starts a proxy to the test server, closed when the test ends,
// and returns it with a DSN that connects through it.
func newProxy(t testing.TB) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(testDSN(t))
	if err != nil || u.Host == "" {
		t.Skipf("the proxy needs a URL DSN with a host (got %v)", err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Skipf("the proxy forwards only to a server on loopback, not %q", host)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, upstream: net.JoinHostPort(host, port), conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	u.Host = ln.Addr().String()
	return p, u.String()
}

// set switches p to mode m.
func (p *proxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	for c := range p.conns {
		if m == down || m == forward && c.broken {
			p.drop(c)
		}
	}
}

// Close closes every connection and the listener, and waits for p's
// goroutines to end.
func (p *proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		p.drop(c)
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// drop closes c's sockets, which ends its goroutines; p.mu is held.
func (p *proxy) drop(c *proxyConn) {
	c.client.Close()
	if c.server != nil {
		c.server.Close()
	}
	delete(p.conns, c)
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		mode := p.mode
		if p.closed || mode == down || len(p.conns) >= proxyMaxConns {
			p.mu.Unlock()
			conn.Close()
			continue
		}
		c := &proxyConn{client: conn, broken: mode == partition}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		if mode == partition {
			go p.pipe(c, c.client, nil)
		} else {
			go p.connect(c)
		}
	}
}

// connect connects c to the server and starts its pipes.
func (p *proxy) connect(c *proxyConn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.upstream, proxyDialTimeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, open := p.conns[c]; !open || err != nil {
		if err == nil {
			server.Close()
		}
		if open {
			p.drop(c)
		}
		return
	}
	c.server = server
	if p.mode == partition {
		// Whatever the client sent meanwhile was dropped.
		c.broken = true
	}
	p.wg.Add(2)
	go p.pipe(c, c.client, server)
	go p.pipe(c, server, c.client)
}

// pipe copies from src to dst (nil: nowhere) while p forwards, and drops
// what it reads otherwise. It ends when src fails; in forward mode that
// closes c, as the end of one side of a connection shows on the other.
func (p *proxy) pipe(c *proxyConn, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		pass := p.mode == forward && !c.broken && dst != nil
		if !pass {
			c.broken = true
		}
		if err != nil {
			if _, open := p.conns[c]; open && pass {
				p.drop(c)
			}
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if !pass {
			continue
		}
		// Bytes read before a switch to partition may still pass: they
		// were on the wire.
		if _, err := dst.Write(buf[:n]); err != nil {
			p.mu.Lock()
			if _, open := p.conns[c]; open {
				p.drop(c)
			}
			p.mu.Unlock()
			return
		}
	}
}

// TestProxy: the proxy forwards, goes down, partitions and comes back, as
// its modes say, and leaves no goroutine behind.
func TestProxy(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	p, dsn := newProxy(t)
	ctx := context.Background()
	connect := func(timeout time.Duration) (*pgx.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return pgx.Connect(ctx, dsn)
	}
	ping := func(c *pgx.Conn, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var one int
		return c.QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	mustConnect := func() *pgx.Conn {
		t.Helper()
		c, err := connect(10 * time.Second)
		if err != nil {
			t.Fatalf("connect while forwarding: %v", err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		if err := ping(c, 10*time.Second); err != nil {
			t.Fatalf("query while forwarding: %v", err)
		}
		return c
	}

	c := mustConnect()
	p.set(down)
	if err := ping(c, 10*time.Second); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query on an open connection when down: got %v, want a closed connection at once", err)
	}
	if _, err := connect(10 * time.Second); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("connect when down: got %v, want a failure at once", err)
	}

	p.set(forward)
	c = mustConnect()
	idle := mustConnect() // nothing is sent on it during the partition
	p.set(partition)
	if err := ping(c, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query during a partition: got %v, want %v", err, context.DeadlineExceeded)
	}
	if _, err := connect(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("connect during a partition: got %v, want %v", err, context.DeadlineExceeded)
	}

	p.set(forward)
	if err := ping(idle, 10*time.Second); err != nil {
		t.Errorf("query after the partition on a connection that lost nothing: %v", err)
	}
	mustConnect()

	p.Close()
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Close: %v", err)
	}
}
