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
		for ctx.Err() == nil {
			b.listen(ctx, signal)
			// Disconnected: events may have been missed, and the next
			// attempt waits a poll interval.
			signal()
			select {
			case <-ctx.Done():
			case <-time.After(b.cfg.pollInterval):
			}
		}
	}()
	return ch
}

// listen holds one listening connection until it fails or ctx ends.
func (b *backend) listen(ctx context.Context, signal func()) {
	conn, err := pgx.ConnectConfig(ctx, b.pool.Config().ConnConfig.Copy())
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		return
	}
	signal() // anything committed before LISTEN took effect
	for {
		wait, cancel := context.WithTimeout(ctx, b.cfg.pollInterval)
		_, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil, errors.Is(err, context.DeadlineExceeded):
			signal() // a notification, or the poll that backs notifications up
		default:
			return
		}
		if conn.IsClosed() {
			return
		}
	}
}
