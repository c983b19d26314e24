package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/go-event-sourcing/evstore"
)

// importBatch is how many consecutive events of one stream import writes
// at once.
const importBatch = 1000

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", "import FILE|- [flags]", "evstore --db copy.db import events.jsonl", stderr)
	sf := addStoreFlags(ctx, fs)
	asJSON := fs.Bool("json", false, "print the counts as JSON on standard output")
	positional, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		fmt.Fprintln(stderr, "need one file (or - for standard input)")
		fs.Usage()
		return errUsage
	}
	in := os.Stdin
	var total int64 = 1
	if positional[0] != "-" {
		f, err := os.Open(positional[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
		if fi, err := f.Stat(); err == nil {
			total = max(fi.Size(), 1)
		}
	}
	store, err := sf.open(ctx, readWrite)
	if err != nil {
		return err
	}
	defer store.Close()
	im := &importer{ctx: ctx, store: store, streams: map[string]*evstore.Stream{}}
	bar := newProgress(stderr, isTerminal(stderr) && positional[0] != "-", int(total))
	defer bar.done()
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 1<<20), 64<<20)
	var read int64
	for n := 1; lines.Scan(); n++ {
		read += int64(len(lines.Bytes())) + 1
		var j eventJSON
		if err := json.Unmarshal(lines.Bytes(), &j); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		if err := im.add(j); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if n%1024 == 0 {
			bar.set(int(min(read, total)))
		}
	}
	if err := lines.Err(); err != nil {
		return err
	}
	if err := im.flush(); err != nil {
		return err
	}
	bar.set(int(total))
	if *asJSON {
		return newEncoder(stdout).Encode(map[string]int{"imported": im.written, "already_there": im.skipped})
	}
	fmt.Fprintf(stderr, "imported %d events, %d already there\n", im.written, im.skipped)
	return nil
}

// An importer writes runs of consecutive events of one stream. It keeps
// each event's version: events whose versions the stream already has are
// skipped (it compares versions, not contents), so importing a file twice,
// or again after it grew, adds only what is new; a run that starts beyond
// the stream's next version is an error.
type importer struct {
	ctx              context.Context
	store            *evstore.Store
	streams          map[string]*evstore.Stream
	run              []evstore.CandidateEvent
	runStream        string
	runFrom, runTo   int64 // versions of the run
	written, skipped int
}

func (im *importer) add(j eventJSON) error {
	if j.StreamID == "" || j.Type == "" || j.Version < 1 {
		return fmt.Errorf("an event needs stream_id, type and a version above 0")
	}
	e, err := j.candidate()
	if err != nil {
		return err
	}
	if j.StreamID != im.runStream || j.Version != im.runTo+1 || len(im.run) == importBatch {
		if err := im.flush(); err != nil {
			return err
		}
		im.runStream, im.runFrom = j.StreamID, j.Version
	}
	im.run, im.runTo = append(im.run, e), j.Version
	return nil
}

func (im *importer) flush() error {
	if len(im.run) == 0 {
		return nil
	}
	defer func() { im.run = im.run[:0] }()
	st := im.streams[im.runStream]
	if st == nil {
		var err error
		if st, err = im.store.Stream(im.ctx, im.runStream); err != nil {
			return err
		}
		im.streams[im.runStream] = st
	}
	v := st.Version()
	switch {
	case v >= im.runTo: // imported before
		im.skipped += len(im.run)
		return nil
	case v < im.runFrom-1:
		return fmt.Errorf("stream %s is at version %d: events from version %d do not follow on", im.runStream, v, im.runFrom)
	}
	// The stream may already have the start of the run (a file that grew
	// since the last import): write only what follows its version.
	run := im.run[v-(im.runFrom-1):]
	im.skipped += len(im.run) - len(run)
	after, err := st.Write(im.ctx, run, evstore.ExpectVersion(v))
	if err != nil {
		return err
	}
	im.written += int(after - v)
	im.skipped += len(run) - int(after-v) // keys the stream had
	return nil
}
