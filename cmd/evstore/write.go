package main

import (
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

func runWrite(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("write", "write STREAM --type T [flags]", `evstore write order-1 --type OrderPlaced --data '{"total":10}' --meta '{"region":"EMEA"}' --tag customer:c7 --expect 2`, stderr)
	sf := addStoreFlags(g, fs)
	typ := fs.String("type", "", "the event's type (required)")
	data := fs.String("data", "", "the payload: JSON text, or @FILE for a file's bytes")
	meta := fs.String("meta", "", "metadata: a JSON object")
	key := fs.String("id", "", "idempotency key")
	expect := fs.Int64("expect", -1, "the version the stream must be at (0: must not exist yet)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var tags listFlag
	fs.Var(&tags, "tag", "a tag (\"course:c1\"), for find and --filter tag=...; repeatable")
	id, err := parseStream(fs, args)
	if err != nil {
		return err
	}
	if *typ == "" {
		return errors.New("--type is required")
	}
	event := evstore.CandidateEvent{ID: *key, Type: *typ, Tags: tags}
	if file, ok := strings.CutPrefix(*data, "@"); ok {
		if event.Data, err = os.ReadFile(file); err != nil {
			return err
		}
	} else if *data != "" {
		if !json.Valid([]byte(*data)) {
			return fmt.Errorf("--data is not valid JSON (use @FILE for other bytes): %q", *data)
		}
		event.Data = []byte(*data)
	}
	if *meta != "" {
		if err := json.Unmarshal([]byte(*meta), &event.Metadata); err != nil {
			return fmt.Errorf("--meta is not a JSON object: %v", err)
		}
	}
	var opts []evstore.WriteOption
	if *expect >= 0 {
		opts = append(opts, evstore.ExpectVersion(*expect))
	}
	store, st, err := sf.stream(ctx, id, readWrite)
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := st.Write(ctx, []evstore.CandidateEvent{event}, opts...)
	var conflict *evstore.ConflictError
	if errors.As(err, &conflict) {
		return fmt.Errorf("conflict on %s: expected version %d, actual %d", id, conflict.Expected, conflict.Actual)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return eventjson.NewEncoder(stdout).Encode(map[string]any{"stream_id": id, "version": v})
	}
	fmt.Fprintln(stdout, v)
	return nil
}
