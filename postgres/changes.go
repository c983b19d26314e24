package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Changes implements evstore.Backend: one connection listens on the
// schema's channel; a notification, or the poll interval passing without
// one, signals the notifier. A lost connection is reopened.
func (b *backend) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	signal := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		backoff := 50 * time.Millisecond
		for ctx.Err() == nil {
			if b.listen(ctx, signal) {
				backoff = 50 * time.Millisecond
			}
			// Disconnected: events may have been missed meanwhile.
			signal()
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, b.cfg.pollInterval, 5*time.Second)
		}
	}()
	return ch
}

// listenerName is the application_name of listening connections.
const listenerName = "evstore listener"

// listen holds one listening connection until it fails or ctx ends, and
// reports whether it got as far as listening.
func (b *backend) listen(ctx context.Context, signal func()) bool {
	cfg := b.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	defer b.closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		return false
	}
	signal() // anything committed before LISTEN took effect
	for {
		wait, cancel := context.WithTimeout(ctx, b.cfg.pollInterval)
		_, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true
		case err == nil, errors.Is(err, context.DeadlineExceeded):
			signal() // a notification, or the poll that backs notifications up
		default:
			return true
		}
		if conn.IsClosed() {
			return true
		}
	}
}
