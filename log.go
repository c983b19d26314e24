package evstore

import (
	"context"
	"log/slog"
)

// This file holds how a Store tells its operators what its background
// goroutines meet: failures retried, leases taken and lost.

// A LoggingBackend is a Backend given a logger at Open (sqlite.WithLogger,
// postgres.WithLogger, memory.WithLogger). Its Store logs through it what
// happens out of any caller's sight:
//
//   - the notifier's read of new commits failing, and being retried (Warn:
//     the 1st, 2nd, 4th, 8th, ... failure in a row), and reading again
//     (Info);
//   - a consumer becoming active (Info, with its start position), losing
//     its lease and standing by (Warn), failing to reach its lease, to
//     read events or to save a checkpoint, and retrying (Warn), a
//     Handle that failed and will be retried (Warn), and Consume ending
//     with an error (Error).
//
// Backends log their own (a PostgreSQL listener that reconnects, say).
// Records carry the attributes "consumer", "partition" and "members" for
// a consumer, and "err". Nothing is logged on the paths of Write, Read and
// Watch, and nothing at all without a logger.
type LoggingBackend interface {
	Backend
	// Logger returns the logger given at Open; nil for none.
	Logger() *slog.Logger
}

// discard is the logger of a Store whose Backend has none.
var discard = slog.New(slog.DiscardHandler)

// loggerOf returns b's logger, or one that discards.
func loggerOf(b Backend) *slog.Logger {
	if lb, ok := b.(LoggingBackend); ok {
		if l := lb.Logger(); l != nil {
			return l
		}
	}
	return discard
}

// logAttrs are the attributes that name a consumer in its records.
func (c *consumer) logAttrs(attrs ...slog.Attr) []slog.Attr {
	return append([]slog.Attr{slog.String("consumer", c.key.Name), slog.Int("partition", c.key.Partition), slog.Int("members", c.key.Members)}, attrs...)
}

// log logs a record of a consumer at level.
func (c *consumer) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	c.s.log.LogAttrs(context.WithoutCancel(ctx), level, msg, c.logAttrs(attrs...)...)
}

// logWorthy reports whether the nth failure in a row of a loop that
// retries quickly (the notifier's 100ms) is logged: the 1st, 2nd, 4th,
// 8th, ...: a few records an hour, not one each retry.
func logWorthy(n int) bool { return n > 0 && n&(n-1) == 0 }
