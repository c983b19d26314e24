package postgres

import (
	"context"
	"errors"
	"log/slog"
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
		failures := 0 // connections in a row that failed, or lasted less than steady
		for ctx.Err() == nil {
			start := time.Now()
			// A reconnection is logged when the loss before it was.
			listened, err := b.listen(ctx, signal, failures > 0 && failures&(failures-1) == 0)
			if listened {
				backoff = 50 * time.Millisecond
			}
			if ctx.Err() != nil {
				return
			}
			// Disconnected: events may have been missed meanwhile. A
			// connection that fails again and again (a server down, a
			// pooler that ends sessions) is logged at the 1st, 2nd, 4th,
			// 8th, ... failure in a row, not at each.
			if listened && time.Since(start) >= steady {
				failures = 0
			}
			failures++
			msg := "evstore/postgres: listener lost; reconnecting"
			if !listened {
				msg = "evstore/postgres: listener cannot connect; retrying"
			}
			if failures&(failures-1) == 0 {
				b.cfg.logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.Any("err", err), slog.Int("failures", failures), slog.Duration("retry_in", backoff))
			}
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

// steady is how long a listening connection must last for its loss to
// start a new count of failures, in what is logged.
const steady = time.Minute

// listenerName is the application_name of listening connections.
const listenerName = "evstore listener"

// listen holds one listening connection until it fails or ctx ends, and
// reports whether it got as far as listening, and why it stopped.
// reconnect says a connection was lost before: a new one is logged.
func (b *backend) listen(ctx context.Context, signal func(), reconnect bool) (bool, error) {
	cfg := b.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer b.closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		return false, err
	}
	if reconnect {
		b.cfg.logger.LogAttrs(ctx, slog.LevelInfo, "evstore/postgres: listener reconnected")
	}
	signal() // anything committed before LISTEN took effect
	for {
		wait, cancel := context.WithTimeout(ctx, b.cfg.pollInterval)
		_, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case err == nil, errors.Is(err, context.DeadlineExceeded):
			signal() // a notification, or the poll that backs notifications up
		default:
			return true, err
		}
		if conn.IsClosed() {
			return true, errors.New("connection closed")
		}
	}
}
