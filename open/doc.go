// Package open opens any evstore store from one string: the SQLite,
// PostgreSQL or memory store, as an operator names it in a flag or an
// environment variable.
//
//	store, err := open.Store(ctx, os.Getenv("EVSTORE_URL"))
//
// A service no longer needs its own switch between sqlite.Open,
// postgres.Open and memory.Open, whose options differ: the string picks
// the backend, and the options that more than one backend has (ReadOnly,
// WithPollInterval) are given once, in the string or in Go, and mapped to
// each backend's own. Options only one backend has are passed through
// WithSQLite, WithPostgres and WithMemory, which apply only when the
// string names that backend.
//
// # Accepted strings
//
//	events.db, ./data/events.db, /var/lib/app/events.db, C:\data\events.db
//	    an SQLite file: any string that does not start with a URL scheme,
//	    taken verbatim (no query, no %-decoding)
//	:memory:
//	    SQLite's private in-memory database
//	file:events.db, file:///var/lib/app/events.db?readonly=1, sqlite:events.db
//	    an SQLite file as a URL: file: or sqlite:, an optional empty or
//	    "localhost" authority, a %-decoded path, evstore's parameters
//	    (file::memory: is SQLite's private in-memory database)
//	postgres://user:pw@host:5432/db?sslmode=disable&evstore_schema=shop
//	postgresql://...
//	    a PostgreSQL database: the URL goes to pgx as it is, without
//	    evstore's own parameters (those that start with "evstore_")
//	memory:
//	    the memory store (package memory): nothing durable, nothing shared
//
// # The rule: path or URL
//
// A string is a URL when it starts with a scheme of at least two
// characters (a letter, then letters, digits, '+', '-' or '.') and a
// colon; anything else is a file path, used exactly as written. So a
// Windows path ("C:\x.db", "C:/x.db", a one-letter "scheme") and a path
// holding '?', '%' or '#' ("a?b.db") are paths, never URLs. A URL whose
// scheme is not one of the above is refused, not taken for a path, so a
// mistyped "postgress://..." or "memroy:" creates no file named so; write
// a file whose name holds a colon as "./events:v2.db" or as a file: URL.
// In a file: URL, '?' starts the parameters and '%' escapes a byte: a
// '?' in the file name is written %3F. On Windows, file:///C:/x.db is the
// path C:/x.db, as SQLite reads it.
//
// PostgreSQL's key=value connection strings ("host=... dbname=...") are
// not accepted (they would read as a file path): give the URL form.
//
// # Parameters
//
// File and memory URLs take these parameters; PostgreSQL URLs take them
// with an "evstore_" prefix, since pgx sends any parameter it does not
// know to the server as a run-time setting:
//
//	readonly (file:)               1, true, ... or bare "readonly": ReadOnly
//	poll, evstore_poll             a Go duration ("50ms"): WithPollInterval
//	evstore_schema (postgres:)     the schema of evstore's tables: postgres.WithSchema
//
// An unknown parameter, a parameter given twice, a parameter the backend
// lacks (readonly on PostgreSQL or memory:) and a bad value are refused
// with an error that wraps evstore.ErrInvalidArgument and names the
// parameter, before anything is opened or created. Errors never quote a
// PostgreSQL URL, which may hold a password.
//
// # Options and the string
//
// Options given in Go are applied after the string's parameters, so where
// both set something the option wins (as with pgx.ParseConfig followed by
// changes to the config): ReadOnly cannot be undone by "readonly=0", and
// WithPostgres(postgres.WithSchema(s)) replaces evstore_schema. Parse
// returns what a string says without opening anything, for a program that
// wants to look before it opens (the evstore command opens SQLite files
// read-only, after checking that they exist, for commands that only read).
package open
