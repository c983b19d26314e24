package evstore

import (
	"fmt"
	"slices"
)

// Tags label events across streams ("course:c1", "student:s7"), so that
// Find and FailIfMatch can select them wherever they are: the Dynamic
// Consistency Boundary's index. A Backend stores them as a set, in a
// table of evstore's own on SQLite (the Python library ignores it).

// MaxTagLen is the longest tag, in bytes.
const MaxTagLen = 255

// MaxTags is the most distinct tags an event may carry.
const MaxTags = 32

// CheckTags returns nil if tags are acceptable on an event, and otherwise
// an error wrapping ErrInvalidEvent that names the first problem: the
// rule Write applies, for code that tells its users before it writes (an
// import that names the bad line, say).
func CheckTags(tags []string) error {
	if _, err := normalTags(tags); err != nil {
		return fmt.Errorf("%w: tags: %v", ErrInvalidEvent, err)
	}
	return nil
}

// checkTag returns an error naming what is wrong with tag, or nil.
func checkTag(tag string) error {
	switch {
	case tag == "":
		return fmt.Errorf("empty tag")
	case len(tag) > MaxTagLen:
		return fmt.Errorf("tag %.20q...: %d bytes, over the limit of %d", tag, len(tag), MaxTagLen)
	case !text(tag):
		return fmt.Errorf("tag %q is not UTF-8 text without NUL bytes", tag)
	}
	return nil
}

// normalTags returns tags checked, sorted and without repeats; nil when
// there are none. It returns tags itself when they are already so.
func normalTags(tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	for _, t := range tags {
		if err := checkTag(t); err != nil {
			return nil, err
		}
	}
	if !slices.IsSorted(tags) || hasRepeat(tags) {
		tags = slices.Compact(slices.Sorted(slices.Values(tags)))
	}
	if len(tags) > MaxTags {
		return nil, fmt.Errorf("%d distinct tags, over the limit of %d", len(tags), MaxTags)
	}
	return tags, nil
}

// hasRepeat reports whether sorted holds a value twice.
func hasRepeat(sorted []string) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return true
		}
	}
	return false
}

// hasTags reports whether the sorted set tags holds every one of want
// (sorted too).
func hasTags(tags, want []string) bool {
	i := 0
	for _, w := range want {
		for i < len(tags) && tags[i] < w {
			i++
		}
		if i == len(tags) || tags[i] != w {
			return false
		}
	}
	return true
}
