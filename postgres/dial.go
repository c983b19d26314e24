package postgres

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5/pgconn"
)

// A dialer opens a backend's network connections (its pool's, its leases',
// its listener's, and the ones pgx opens to cancel a statement), through
// the dial function the DSN configured, and keeps those still open, so that
// Close can end them all.
//
// The reason is pgx's way of closing a connection whose statement ctx
// interrupted: on a goroutine, it sends the server a cancel request on a
// new connection and waits for the server to close both, for up to 15s,
// and the pool's Close waits for that. When the network is cut, every
// Close of a Store that was running a statement would take those 15s, and
// leave pgx's goroutines behind for as long. A backend's Close instead
// gives them a moment, then closes their sockets, which ends them at once.
type dialer struct {
	dial  pgconn.DialFunc
	life  context.Context // ends at abort
	abort context.CancelFunc

	mu      sync.Mutex
	conns   map[*trackedConn]struct{}
	closing []<-chan struct{} // connections of ours pgx is still closing
}

func newDialer(dial pgconn.DialFunc) *dialer {
	life, abort := context.WithCancel(context.Background())
	return &dialer{dial: dial, life: life, abort: abort, conns: map[*trackedConn]struct{}{}}
}

// errDialerClosed is what a backend's dial returns after Close.
var errDialerClosed = fmt.Errorf("evstore/postgres: dial: %w (%w)", evstore.ErrClosed, net.ErrClosed)

// DialContext is a pgconn.DialFunc.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.life, cancel)()
	conn, err := d.dial(ctx, network, addr)
	if err != nil {
		if d.life.Err() != nil {
			return nil, errDialerClosed
		}
		return nil, err
	}
	c := &trackedConn{Conn: conn, d: d}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.life.Err() != nil {
		conn.Close()
		return nil, errDialerClosed
	}
	d.conns[c] = struct{}{}
	return c, nil
}

// closed notes that pgx is closing a connection of ours, done when
// cleanupDone is closed (pgconn.PgConn.CleanupDone), so that close waits
// for it.
func (d *dialer) closed(cleanupDone <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closing = slices.DeleteFunc(d.closing, isClosed)
	if !isClosed(cleanupDone) {
		d.closing = append(d.closing, cleanupDone)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// close closes every connection still open, refuses new ones, and waits
// for pgx to finish closing the connections passed to closed: with their
// sockets closed, that takes no time.
func (d *dialer) close() {
	d.mu.Lock()
	d.abort()
	conns := d.conns
	d.conns = nil
	closing := d.closing
	d.closing = nil
	d.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	for _, done := range closing {
		<-done
	}
}

// A trackedConn is a connection a dialer keeps until it is closed.
type trackedConn struct {
	net.Conn
	d *dialer
}

func (c *trackedConn) Close() error {
	c.d.mu.Lock()
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	return c.Conn.Close()
}
