// Package errs gives evstore's errors one prefix each.
//
// Every package of evstore names itself at the start of the errors it
// makes ("evstore: ...", "evstore/sqlite: ..."). When one of them wraps
// another's error, both prefixes would end up in the message:
// `evstore: open stream "x": evstore: store closed`. Wrap keeps the
// outer one only, and the wrapped error stays matchable with errors.Is
// and errors.As.
package errs

import (
	"fmt"
	"strings"
)

// Wrap returns err with context: "prefix: op: message", where message is
// err's message without its own leading evstore prefix. It returns nil
// for a nil err.
func Wrap(prefix, op string, err error) error {
	if err == nil {
		return nil
	}
	return &wrapped{msg: prefix + ": " + op + ": " + Trim(err.Error()), err: err}
}

// Wrapf is Wrap with op formatted from format and args.
func Wrapf(prefix string, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return Wrap(prefix, fmt.Sprintf(format, args...), err)
}

// Trim returns msg without a leading "evstore: " or "evstore/NAME: ".
func Trim(msg string) string {
	if !strings.HasPrefix(msg, "evstore") {
		return msg
	}
	rest := msg[len("evstore"):]
	if strings.HasPrefix(rest, "/") {
		i := strings.Index(rest, ": ")
		if i < 0 || strings.ContainsAny(rest[:i], " \n") {
			return msg
		}
		return rest[i+2:]
	}
	if strings.HasPrefix(rest, ": ") {
		return rest[2:]
	}
	return msg
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }
