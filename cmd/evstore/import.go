package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// importBatch is how many consecutive events of one stream import writes
// at once, and importBatchBytes about how many bytes of data and metadata:
// big events go a few at a time, so that a run never holds more than a
// couple of them in memory.
const (
	importBatch      = 1000
	importBatchBytes = 2 * evstore.MaxEventSize
)

// maxLineBytes is the longest line import reads: the longest an event within
// evstore.MaxEventSize can be written as, with every byte of its data as
// base64 text in which each character is a six-byte \u escape (8 bytes of
// line per byte of event), plus room for its other fields. A longer line
// is refused without reading the rest of it into memory.
const maxLineBytes = 8*evstore.MaxEventSize + 1<<20

func runImport(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", "import FILE|- [flags]", "evstore --db copy.db import events.jsonl", stderr)
	sf := addStoreFlags(g, fs)
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
	im := &importer{ctx: ctx, store: store, streams: map[string]*evstore.Stream{}, seen: map[string]bool{}}
	bar := newProgress(stderr, isTerminal(stderr) && positional[0] != "-", int(total))
	defer bar.Done()
	lines := newLineReader(in, maxLineBytes)
	var read int64
	for n := 1; ; n++ {
		text, err := lines.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return im.stop(fmt.Errorf("line %d: %w", n, err))
		}
		read += int64(len(text)) + 1
		if err := im.add(n, text); err != nil {
			return im.stop(err)
		}
		if n%1024 == 0 {
			bar.Set(int(min(read, total)))
		}
	}
	if err := im.flush(); err != nil {
		return im.stop(err)
	}
	bar.Set(int(total))
	if *asJSON {
		return eventjson.NewEncoder(stdout).Encode(map[string]int{"imported": im.written, "already_there": im.skipped})
	}
	fmt.Fprintf(stderr, "imported %d events, %d already there\n", im.written, im.skipped)
	return nil
}

// errLineTooLong is a line over maxLineBytes.
var errLineTooLong = fmt.Errorf("%w: line over %s, longer than any event within MaxEventSize (%s)",
	evstore.ErrInvalidEvent, humanBytes(maxLineBytes), humanBytes(evstore.MaxEventSize))

// A lineReader reads lines of any length up to a limit.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<20), max: max}
}

// next returns the next line without its "\n", valid until the next call,
// or io.EOF after the last. A line over the limit gives errLineTooLong.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.buf = append(lr.buf, chunk...)
		if len(lr.buf) > lr.max+1 { // the line and its "\n"
			return nil, errLineTooLong
		}
		line := lr.buf
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == nil:
			line = line[:len(line)-1]
		case err != io.EOF || len(line) == 0:
			return nil, err
		} // else the last line, without "\n"
		if len(line) > lr.max {
			return nil, errLineTooLong
		}
		return line, nil
	}
}

// An importer writes runs of consecutive events of one stream. It keeps
// each event's version: events whose versions the stream already has are
// skipped (it compares versions, not contents), so importing a file twice,
// or again after it grew, adds only what is new; a run that starts beyond
// the stream's next version is an error, except in two cases that a store
// with deleted or truncated streams exports:
//
//   - A tombstone (Type evstore.Deleted) at version N, always a run of its
//     own, is reproduced by Stream.Delete at version N-1: the stream is
//     filled with placeholder events up to N-1 if it is not there yet,
//     and Delete removes them with whatever the stream had.
//   - A stream whose first event in the file is at version N > 1 and that
//     the target does not have (truncated, or cut by export --after) is
//     filled with placeholders 1 to N-1, its events written after them,
//     and then truncated before N (Stream.Truncate), which removes the
//     placeholders. An import that stopped in between finishes the job
//     when it runs again: a stream whose oldest event is a placeholder is
//     filled on and truncated.
type importer struct {
	ctx              context.Context
	store            *evstore.Store
	streams          map[string]*evstore.Stream
	seen             map[string]bool // streams whose first run in the file was written
	run              []evstore.CandidateEvent
	runBytes         int // of data and metadata in run
	runStream        string
	runFrom, runTo   int64 // versions of the run
	runLine          int   // line of the run's first event
	runTombstone     bool  // the run is one tombstone
	written, skipped int
}

// placeholderType is the Type of the events import writes below a
// stream's first version in the file, so that its events keep their
// versions, and removes again (by Delete or Truncate) before it returns.
const placeholderType = "evstore.import.placeholder"

// add reads line n and adds its event to the run, writing the run first
// if the event does not continue it. Its errors name the line, or the
// lines of the run it failed to write.
func (im *importer) add(n int, line []byte) error {
	j, e, size, err := parseLine(line)
	if err != nil {
		return fmt.Errorf("line %d: %w", n, err)
	}
	tombstone := j.Type == evstore.Deleted
	if j.StreamID != im.runStream || j.Version != im.runTo+1 || len(im.run) == importBatch || im.runBytes+size > importBatchBytes ||
		tombstone || im.runTombstone {
		if err := im.flush(); err != nil {
			return err
		}
		im.runStream, im.runFrom, im.runLine, im.runTombstone = j.StreamID, j.Version, n, tombstone
	}
	im.run, im.runTo, im.runBytes = append(im.run, e), j.Version, im.runBytes+size
	return nil
}

// parseLine reads one line: the event, as written and as it is to be
// written, and its size.
func parseLine(line []byte) (j eventjson.Event, e evstore.CandidateEvent, size int, err error) {
	if err = json.Unmarshal(line, &j); err != nil {
		return j, e, 0, fmt.Errorf("%w: %v", evstore.ErrInvalidEvent, err)
	}
	if j.StreamID == "" || j.Type == "" || j.Version < 1 {
		return j, e, 0, fmt.Errorf("%w: an event needs stream_id, type and a version above 0", evstore.ErrInvalidEvent)
	}
	if strings.HasPrefix(j.Type, "$") && j.Type != evstore.Deleted {
		return j, e, 0, fmt.Errorf("%w: type %q: types beginning with '$' are evstore's, and import reproduces only %s (through Stream.Delete)",
			evstore.ErrInvalidEvent, j.Type, evstore.Deleted)
	}
	if e, err = j.Candidate(); err != nil {
		return j, e, 0, err
	}
	size, err = eventSize(e)
	return j, e, size, err
}

// eventSize returns the bytes of data and encoded metadata of e, which
// Write limits to evstore.MaxEventSize, or an error if it is over: import
// checks it itself so that the error names the line.
func eventSize(e evstore.CandidateEvent) (int, error) {
	size := len(e.Data)
	if len(e.Metadata) > 0 {
		var buf bytes.Buffer
		if err := eventjson.NewEncoder(&buf).Encode(e.Metadata); err != nil {
			return 0, fmt.Errorf("%w: metadata: %v", evstore.ErrInvalidEvent, err)
		}
		size += buf.Len() - 1 // without Encode's "\n", as the store encodes it
	}
	if size > evstore.MaxEventSize {
		return 0, fmt.Errorf("%w: %d bytes of data and metadata (%s), over MaxEventSize (%s)",
			evstore.ErrInvalidEvent, size, humanBytes(int64(size)), humanBytes(evstore.MaxEventSize))
	}
	return size, nil
}

// flush writes the run.
func (im *importer) flush() error {
	if len(im.run) == 0 {
		return nil
	}
	defer func() { im.run, im.runBytes = im.run[:0], 0 }()
	if err := im.write(); err != nil {
		if len(im.run) == 1 {
			return fmt.Errorf("line %d (stream %s, version %d): %w", im.runLine, im.runStream, im.runFrom, err)
		}
		return fmt.Errorf("lines %d-%d (stream %s, versions %d-%d): %w", im.runLine, im.runLine+len(im.run)-1, im.runStream, im.runFrom, im.runTo, err)
	}
	return nil
}

func (im *importer) write() error {
	st := im.streams[im.runStream]
	if st == nil {
		var err error
		if st, err = im.store.Stream(im.ctx, im.runStream); err != nil {
			return err
		}
		im.streams[im.runStream] = st
	}
	first := !im.seen[im.runStream]
	im.seen[im.runStream] = true
	if im.runTombstone {
		return im.writeTombstone(st)
	}
	v := st.Version()
	// A stream that starts beyond version 1 in the file: give it
	// placeholders below, then truncate them away.
	truncate := false
	if first && im.runFrom > 1 {
		pending, err := im.placeholders(st)
		if err != nil {
			return err
		}
		truncate = v == 0 || pending
		if truncate && v < im.runFrom-1 {
			if err := im.fill(st, im.runFrom-1); err != nil {
				return err
			}
			v = st.Version()
		}
	}
	switch {
	case v >= im.runTo: // imported before
		im.skipped += len(im.run)
	case v < im.runFrom-1:
		return fmt.Errorf("stream %s is at version %d: events from version %d do not follow on "+
			"(import the export it continues first, or import into a store without stream %s)", im.runStream, v, im.runFrom, im.runStream)
	default:
		// The stream may already have the start of the run (a file that
		// grew since the last import): write only what follows its version.
		run := im.run[v-(im.runFrom-1):]
		im.skipped += len(im.run) - len(run)
		after, err := st.Write(im.ctx, run, evstore.ExpectVersion(v))
		if err != nil {
			return err
		}
		im.written += int(after - v)
		im.skipped += len(run) - int(after-v) // keys the stream had
	}
	if truncate {
		if err := st.Truncate(im.ctx, im.runFrom); err != nil {
			return fmt.Errorf("removing the placeholders below version %d: %w (import again to finish)", im.runFrom, err)
		}
	}
	return nil
}

// writeTombstone reproduces the run's tombstone, at version runFrom, with
// Stream.Delete: it cannot be written, and Delete puts it at the stream's
// version + 1, after removing everything the stream had (placeholders
// included).
func (im *importer) writeTombstone(st *evstore.Stream) error {
	at := im.runFrom
	switch {
	case st.Version() >= at: // imported before
		im.skipped++
		return nil
	case at == 1:
		return fmt.Errorf("a %s event at version 1 cannot be reproduced: Delete leaves a stream with no events as it is", evstore.Deleted)
	}
	if err := im.fill(st, at-1); err != nil {
		return err
	}
	v, err := st.Delete(im.ctx, evstore.ExpectVersion(at-1))
	if err != nil {
		return err
	}
	if v != at {
		return fmt.Errorf("stream %s: Delete left it at version %d, not at its tombstone's %d (its only event was a tombstone already)", im.runStream, v, at)
	}
	im.written++
	return nil
}

// fill writes placeholder events to st up to version to, a batch at a time.
func (im *importer) fill(st *evstore.Stream, to int64) error {
	for v := st.Version(); v < to; {
		batch := make([]evstore.CandidateEvent, min(to-v, importBatch))
		for i := range batch {
			batch[i].Type = placeholderType
		}
		after, err := st.Write(im.ctx, batch, evstore.ExpectVersion(v))
		if err != nil {
			return fmt.Errorf("writing placeholders up to version %d: %w", to, err)
		}
		v = after
	}
	return nil
}

// placeholders reports whether st's oldest event is a placeholder: an
// import stopped before it truncated them.
func (im *importer) placeholders(st *evstore.Stream) (bool, error) {
	if st.Version() == 0 {
		return false, nil
	}
	for e, err := range st.Read(im.ctx, evstore.Limit(1)) {
		if err != nil {
			return false, err
		}
		return e.Type == placeholderType, nil
	}
	return false, nil
}

// stop ends an import that failed with err, at a line or at a run it
// could not write: it writes the events of the lines before, none from
// there on, and says what it did.
func (im *importer) stop(err error) error {
	if ferr := im.flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return fmt.Errorf("%w; imported %d events from the lines before it, %d already there", err, im.written, im.skipped)
}
