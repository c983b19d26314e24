// Command evstore is evstore's command-line tool.
//
//	evstore bench [flags]    measure write, read, snapshot, watch and fan-out
//	evstore serve [flags]    serve the store's HTTP API (docs/server.md)
//	evstore version          print the module version
//
// Run "evstore COMMAND --help" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"syscall"

	"github.com/go-event-sourcing/evstore/internal/eventjson"
)

// A command is one subcommand: its one-line summary and its entry point,
// which gets the flags given before the command name as g.
type command struct {
	summary string
	run     func(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error
	hidden  bool
}

var commands = map[string]command{
	"bench":     {summary: "measure write, read, snapshot, watch and fan-out performance", run: runBench},
	"version":   {summary: "print the version", run: runVersion},
	"streams":   {summary: "list every stream with its version, event count and last write", run: runStreams},
	"read":      {summary: "print a stream's events (or @all's)", run: runRead},
	"find":      {summary: "print the events matching criteria of types and tags, across every stream", run: runFind},
	"tail":      {summary: "print a stream's events as they are written, until interrupted", run: runTail},
	"write":     {summary: "append one event to a stream", run: runWrite},
	"snapshot":  {summary: "show a stream's snapshot", run: runSnapshot},
	"stats":     {summary: "show totals: streams, events, size, newest sequence", run: runStats},
	"export":    {summary: "print @all as JSON lines", run: runExport},
	"import":    {summary: "append events from JSON lines (as export prints them), idempotently", run: runImport},
	"delete":    {summary: "delete a stream's events for good, leaving a tombstone (asks first)", run: runDelete},
	"truncate":  {summary: "remove a stream's events below a version, keeping its snapshots", run: runTruncate},
	"erase":     {summary: "make what delete and truncate removed unrecoverable from the database's files", run: runErase},
	"backup":    {summary: "copy a live SQLite store into a new file, consistently, while writers go on", run: runBackup},
	"consumers": {summary: "list consumers with their position and lag; \"consumers reset NAME --to N\" moves one", run: runConsumers},
	"serve":     {summary: "serve the store's HTTP API (JSON, live streams over SSE, Prometheus metrics; docs/server.md)", run: runServe},
	// benchChild is the other process of "bench --watch".
	benchChildName: {run: runBenchChild, hidden: true},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g, args, err := splitGlobal(args)
	if err != nil {
		fmt.Fprintln(stderr, "evstore:", err)
		return 2
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "evstore: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err = cmd.run(ctx, g, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "evstore %s: %s\n", args[0], errorText(err))
	return 1
}

// errUsage is returned by a command whose flags were wrong; the flag
// package has printed why.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: evstore [--db FILE | --store URL] COMMAND [flags]")
	fmt.Fprintln(w, "  URL: postgres://..., file:FILE, memory: (see docs/cli.md)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for name, c := range commands {
		if !c.hidden {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	width := 0
	for _, name := range names {
		width = max(width, len(name))
	}
	for _, name := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width, name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun \"evstore COMMAND --help\" for a command's flags.")
}

// newFlagSet returns a flag set for a subcommand that writes its usage,
// with an example, to stderr.
func newFlagSet(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("evstore "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: evstore %s\n\n", synopsis)
		fs.PrintDefaults()
		if example != "" {
			fmt.Fprintf(stderr, "\nexample:\n  %s\n", example)
		}
	}
	return fs
}

// parse parses args, mapping the flag package's errors onto run's. It
// takes no positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	positional, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", positional)
		fs.Usage()
		return errUsage
	}
	return nil
}

// parseMixed parses flags wherever they stand among the positional
// arguments ("read order-1 --limit 5" as well as "read --limit 5 order-1"),
// and returns the positional ones.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func runVersion(_ context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", "evstore version --json", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	version := "(devel)"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	if *asJSON {
		return eventjson.NewEncoder(stdout).Encode(map[string]string{"version": version, "go": runtime.Version()})
	}
	fmt.Fprintln(stdout, "evstore", version)
	return nil
}
