package main

import (
	"fmt"
	"github.com/go-event-sourcing/evstore/internal/bench"
	"io"
	"os"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a bar on a terminal, and nothing elsewhere.
type progress struct {
	w       io.Writer
	on      bool
	total   int
	lastPct int
}

// newProgress returns a bar for total steps, drawn on w if on.
func newProgress(w io.Writer, on bool, total int) *progress {
	return &progress{w: w, on: on, total: total, lastPct: -1}
}

// Set draws the bar at n of the total steps.
func (p *progress) Set(n int) {
	if !p.on {
		return
	}
	pct := n * 100 / p.total
	if pct == p.lastPct {
		return
	}
	p.lastPct = pct
	const width = 40
	fill := pct * width / 100
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < fill {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\r[%s] %3d%% %s/%s", bar, pct, bench.Commas(int64(n)), bench.Commas(int64(p.total)))
}

// Done ends the bar's line.
func (p *progress) Done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
