package main

import (
	"fmt"
	"strings"
)

// globals are the flags given before the command name
// ("evstore --db FILE read ..."): --db and --store. run passes them to
// the command, whose own --db and --store they are the defaults of.
type globals struct {
	db, dsn string
}

// splitGlobal takes --db and --store given before the command name off
// args, and returns them and the rest, the command name first.
func splitGlobal(args []string) (globals, []string, error) {
	var global globals
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if name != "db" && name != "store" {
			return global, args, nil
		}
		if !hasValue {
			if len(args) < 2 {
				return global, nil, fmt.Errorf("flag --%s needs a value", name)
			}
			value, args = args[1], args[1:]
		}
		args = args[1:]
		if name == "db" {
			global.db = value
		} else {
			global.dsn = value
		}
	}
	return global, args, nil
}
