package main

import (
	"context"
	"io"

	"github.com/go-event-sourcing/evstore/internal/bench"
)

// benchChildName is the hidden command "bench --watch" runs as its other
// process, the watcher of the cross-process latency (bench.RunChild).
const benchChildName = "__bench-child"

func runBenchChild(ctx context.Context, g globals, args []string, stdout, _ io.Writer) error {
	return bench.RunChild(ctx, args, stdout)
}
