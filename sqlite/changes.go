package sqlite

import (
	"context"
	"log/slog"
	"time"

	"zombiezen.com/go/sqlite"
)

// Changes implements evstore.Backend: a goroutine polls PRAGMA data_version,
// which changes when another connection commits, at the poll interval.
func (b *backend) Changes(ctx context.Context) <-chan struct{} {
	if b.memory {
		return nil // nothing else can reach a private in-memory database
	}
	ch := make(chan struct{}, 1)
	conn, err := b.openConn(ctx, false)
	if err != nil {
		// Fall back on a plain tick: the notifier then checks Head itself.
		conn = nil
		b.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "evstore/sqlite: cannot open the poll's connection; polling the head instead", slog.Any("err", err))
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if conn != nil {
			defer conn.Close()
		}
		tick := time.NewTicker(b.cfg.pollInterval)
		defer tick.Stop()
		var last int64 = -1
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if conn != nil {
				v, err := dataVersion(conn)
				switch {
				case err != nil && !failing: // logged once, not at every poll
					b.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "evstore/sqlite: poll failed; retrying", slog.Any("err", err))
				case err == nil && failing:
					b.cfg.logger.LogAttrs(ctx, slog.LevelInfo, "evstore/sqlite: poll recovered")
				}
				failing = err != nil
				if err == nil && v == last {
					continue
				}
				last = v
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch
}

func dataVersion(conn *sqlite.Conn) (int64, error) {
	return queryInt(conn, "PRAGMA data_version")
}
