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
		lost := false // the last connection failed
		for ctx.Err() == nil {
			listened, err := b.listen(ctx, signal, lost)
			if listened {
				backoff = 50 * time.Millisecond
			}
			if ctx.Err() != nil {
				return
			}
			// Disconnected: events may have been missed meanwhile.
			lost = true
			b.log().LogAttrs(ctx, slog.LevelWarn, "evstore/postgres: listener lost; reconnecting", slog.Any("err", err), slog.Duration("retry_in", backoff))
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
		b.log().LogAttrs(ctx, slog.LevelInfo, "evstore/postgres: listener reconnected")
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

// log returns the logger of WithLogger, or one that discards.
func (b *backend) log() *slog.Logger {
	if b.cfg.logger != nil {
		return b.cfg.logger
	}
	return discardLogger
}

// discardLogger logs nothing.
var discardLogger = slog.New(slog.DiscardHandler)
