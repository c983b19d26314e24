package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/go-event-sourcing/evstore"
)

func runFind(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("find", "find --type T --tag X [--or --type T --tag X ...] [flags]",
		"evstore find --tag course:c1 --type StudentEnrolled --type StudentLeft --or --tag student:s7 --type StudentEnrolled", stderr)
	sf := addStoreFlags(g, fs)
	var cb criteriaBuilder
	fs.Var(typeFlag{&cb}, "type", "an event `type`: the criterion matches events of any of the types given; repeatable")
	fs.Var(tagFlag{&cb}, "tag", "a `tag`: the criterion matches events that carry every tag given; repeatable")
	fs.Var(orFlag{&cb}, "or", "start another criterion (the --type and --tag after it): find prints the events that match any criterion")
	after := fs.Int64("after", 0, "only events after this Sequence")
	limit := fs.Int("limit", 0, "at most this many events (0: all)")
	backwards := fs.Bool("backwards", false, "newest first")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := parse(fs, args); err != nil {
		return err
	}
	criteria, err := cb.criteria()
	if err != nil {
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return errUsage
	}
	if *limit < 0 || *after < 0 {
		return fmt.Errorf("--limit and --after must not be negative")
	}
	opts := []evstore.ReadOption{evstore.After(*after)}
	if *limit > 0 {
		opts = append(opts, evstore.Limit(*limit))
	}
	if *backwards {
		opts = append(opts, evstore.Backwards())
	}
	store, err := sf.open(ctx, readOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	return printEvents(stdout, *asJSON, store.Find(ctx, criteria, opts...))
}

// A criteriaBuilder collects find's --type, --tag and --or flags, in
// the order given, into Criteria: --type and --tag add to the current
// Criterion, --or starts the next one.
type criteriaBuilder struct {
	c evstore.Criteria
}

// current returns the Criterion the next --type or --tag adds to.
func (b *criteriaBuilder) current() *evstore.Criterion {
	if len(b.c) == 0 {
		b.c = append(b.c, evstore.Criterion{})
	}
	return &b.c[len(b.c)-1]
}

// criteria returns what the flags built, or an error when a criterion
// has neither a type nor a tag (none at all, or --or first, last or
// twice in a row). The Store checks the types and tags themselves.
func (b *criteriaBuilder) criteria() (evstore.Criteria, error) {
	if len(b.c) == 0 {
		return nil, fmt.Errorf("need a criterion: --type T, --tag X or both")
	}
	for _, c := range b.c {
		if len(c.Types) == 0 && len(c.Tags) == 0 {
			return nil, fmt.Errorf("--or stands between two criteria, each with --type, --tag or both")
		}
	}
	return b.c, nil
}

// typeFlag, tagFlag and orFlag are find's --type, --tag and --or.
type (
	typeFlag struct{ b *criteriaBuilder }
	tagFlag  struct{ b *criteriaBuilder }
	orFlag   struct{ b *criteriaBuilder }
)

func (f typeFlag) String() string { return "" }
func (f typeFlag) Set(s string) error {
	c := f.b.current()
	c.Types = append(c.Types, s)
	return nil
}

func (f tagFlag) String() string { return "" }
func (f tagFlag) Set(s string) error {
	c := f.b.current()
	c.Tags = append(c.Tags, s)
	return nil
}

func (f orFlag) String() string   { return "" }
func (f orFlag) IsBoolFlag() bool { return true }
func (f orFlag) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil || !on {
		return fmt.Errorf("--or takes no value")
	}
	f.b.current() // an --or first leaves an empty criterion, which criteria refuses
	f.b.c = append(f.b.c, evstore.Criterion{})
	return nil
}
