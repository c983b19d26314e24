package main

import (
	"strings"

	"github.com/go-event-sourcing/evstore/internal/errs"
)

// errorText is err's message as run prints it, after "evstore COMMAND: ":
// without the prefixes evstore's packages start their messages with
// ("evstore: ", "evstore/sqlite: ", as errs.Trim takes them off), at the
// start and after every ": ", where a command's context wraps one
// ("line 3: evstore: invalid event: ..."). The command name is the one
// prefix a message has.
func errorText(err error) string {
	msg := err.Error()
	var b strings.Builder
	for {
		msg = errs.Trim(msg)
		i := strings.Index(msg, ": ")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+2])
		msg = msg[i+2:]
	}
}
