package open

import (
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Parse reads the string s that names a store (see the package
// documentation for the forms and parameters) and returns what it says.
// It does no I/O. A bad string gives an error wrapping
// evstore.ErrInvalidArgument that names what is wrong, never quoting a
// PostgreSQL URL.
func Parse(s string) (Config, error) {
	if s == "" {
		return Config{}, invalid("empty store URL")
	}
	if s == ":memory:" {
		return Config{Kind: SQLite, Path: s}, nil
	}
	scheme, rest, ok := cutScheme(s)
	if !ok {
		return plainPath(s)
	}
	switch strings.ToLower(scheme) {
	case "file", "sqlite":
		return parseFile(scheme, rest)
	case "postgres", "postgresql":
		return parsePostgres(strings.ToLower(scheme), rest)
	case "memory":
		return parseMemory(rest)
	}
	return Config{}, invalid("unknown store URL scheme %q: want file:, sqlite:, postgres://, postgresql:// or memory: (write a file whose name holds a colon as ./NAME)", scheme+":")
}

// plainPath reads s, which has no scheme, as a file path. It refuses a
// NUL byte (SQLite would cut the path there) and what looks like a
// PostgreSQL key=value connection string ("host=db dbname=app"), which
// would otherwise become the name of a new SQLite file; a path that
// begins with '.' or a separator is taken as it is.
func plainPath(s string) (Config, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return Config{}, invalid("the path holds a NUL byte")
	}
	if !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, `\`) && looksLikeKeyValue(s) {
		return Config{}, invalid("a PostgreSQL key=value connection string is not taken: write it as a postgres:// URL (a file of such a name as ./NAME)")
	}
	return Config{Kind: SQLite, Path: s}, nil
}

// looksLikeKeyValue reports whether s reads as libpq's key=value form:
// a key=value pair and a space, or a first key libpq knows.
func looksLikeKeyValue(s string) bool {
	key, _, ok := strings.Cut(s, "=")
	if !ok {
		return false
	}
	switch strings.TrimSpace(key) {
	case "host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "service":
		return true
	}
	return strings.ContainsAny(s, " \t")
}

// cutScheme splits a URL's scheme off s: at least two characters (a
// letter, then letters, digits, '+', '-' or '.'), then a colon. One
// character before the colon is a Windows drive, not a scheme.
func cutScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c == ':' && i >= 2:
			return s[:i], s[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// parseFile reads the rest of a file: or sqlite: URL.
func parseFile(scheme, rest string) (Config, error) {
	rawPath, rawQuery, _ := strings.Cut(rest, "?")
	if strings.Contains(rest, "#") {
		return Config{}, invalid("%s: URL: '#' must be written %%23", scheme)
	}
	if after, ok := strings.CutPrefix(rawPath, "//"); ok {
		host, p, _ := strings.Cut(after, "/")
		if host != "" && !strings.EqualFold(host, "localhost") {
			return Config{}, invalid("%s: URL: host %q: want %s:PATH, %s:///ABSOLUTE/PATH or %s://localhost/ABSOLUTE/PATH", scheme, host, scheme, scheme, scheme)
		}
		rawPath = "/" + p
	}
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return Config{}, invalid("%s: URL: bad escape in path %q", scheme, rawPath)
	}
	if runtime.GOOS == "windows" {
		path = windowsPath(path)
	}
	if path == "" {
		return Config{}, invalid("%s: URL without a path", scheme)
	}
	if strings.IndexByte(path, 0) >= 0 {
		return Config{}, invalid("%s: URL: the path holds a NUL byte", scheme)
	}
	c := Config{Kind: SQLite, Path: path}
	params, err := parseQuery(scheme, rawQuery)
	if err != nil {
		return Config{}, err
	}
	for _, p := range params {
		switch p.name {
		case "readonly":
			if c.ReadOnly, err = parseBool(p); err != nil {
				return Config{}, err
			}
		case "poll":
			if c.PollInterval, err = parsePoll(p); err != nil {
				return Config{}, err
			}
		default:
			return Config{}, invalid("%s: URL: unknown parameter %q (want readonly or poll)", scheme, p.name)
		}
	}
	return c, c.check()
}

// windowsPath turns "/C:/x.db", the path of file:///C:/x.db, into
// "C:/x.db", as SQLite does on Windows.
func windowsPath(p string) string {
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' && ('a' <= p[1]|0x20 && p[1]|0x20 <= 'z') {
		return p[1:]
	}
	return p
}

// parsePostgres reads the rest of a postgres:// or postgresql:// URL: it
// takes out the parameters that start with "evstore_" and leaves every
// other byte for pgx.
func parsePostgres(scheme, rest string) (Config, error) {
	if !strings.HasPrefix(rest, "//") {
		return Config{}, invalid("%s: URL: want %s://...", scheme, scheme)
	}
	base, rawQuery, hasQuery := strings.Cut(rest, "?")
	c := Config{Kind: Postgres}
	var kept []string
	seen := map[string]bool{}
	if hasQuery {
		for _, part := range strings.Split(rawQuery, "&") {
			rawName, rawValue, _ := strings.Cut(part, "=")
			name, err := url.QueryUnescape(rawName)
			if err != nil || !strings.HasPrefix(name, "evstore_") {
				kept = append(kept, part) // pgx's, to judge
				continue
			}
			value, err := url.QueryUnescape(rawValue)
			if err != nil {
				return Config{}, invalid("%s: URL: parameter %s: bad escape", scheme, name)
			}
			if seen[name] {
				return Config{}, invalid("%s: URL: parameter %s given twice", scheme, name)
			}
			seen[name] = true
			p := param{name: name, value: value}
			switch name {
			case "evstore_schema":
				if value == "" {
					return Config{}, invalid("%s: URL: empty evstore_schema", scheme)
				}
				c.Schema = value
			case "evstore_poll":
				if c.PollInterval, err = parsePoll(p); err != nil {
					return Config{}, err
				}
			case "evstore_readonly":
				return Config{}, invalid("%s: URL: evstore_readonly: a PostgreSQL store cannot be opened read-only", scheme)
			default:
				return Config{}, invalid("%s: URL: unknown parameter %q (want evstore_schema or evstore_poll; pgx's own parameters do not start with evstore_)", scheme, name)
			}
		}
	}
	c.DSN = scheme + ":" + base
	if len(kept) > 0 {
		c.DSN += "?" + strings.Join(kept, "&")
	}
	return c, c.check()
}

// parseMemory reads the rest of a memory: URL: nothing, or parameters.
func parseMemory(rest string) (Config, error) {
	opaque, rawQuery, _ := strings.Cut(rest, "?")
	if opaque != "" {
		return Config{}, invalid("memory: URL: unexpected %q after memory: (the memory store has no name; use :memory: or a file for SQLite)", opaque)
	}
	c := Config{Kind: Memory}
	params, err := parseQuery("memory", rawQuery)
	if err != nil {
		return Config{}, err
	}
	for _, p := range params {
		switch p.name {
		case "poll":
			if c.PollInterval, err = parsePoll(p); err != nil {
				return Config{}, err
			}
		case "readonly":
			return Config{}, invalid("memory: URL: readonly: the memory store cannot be opened read-only")
		default:
			return Config{}, invalid("memory: URL: unknown parameter %q (want poll)", p.name)
		}
	}
	return c, nil
}

// A param is one parameter of a URL's query, decoded.
type param struct {
	name, value string
	bare        bool // "name" without "="
}

// parseQuery decodes a query, in order, refusing a name given twice.
func parseQuery(scheme, rawQuery string) ([]param, error) {
	if rawQuery == "" {
		return nil, nil
	}
	var params []param
	seen := map[string]bool{}
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		rawName, rawValue, hasValue := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return nil, invalid("%s: URL: bad escape in parameter %q", scheme, part)
		}
		if seen[name] {
			return nil, invalid("%s: URL: parameter %s given twice", scheme, name)
		}
		seen[name] = true
		params = append(params, param{name: name, value: value, bare: !hasValue})
	}
	return params, nil
}

// parseBool reads a boolean parameter: strconv.ParseBool's forms, and a
// bare name for true.
func parseBool(p param) (bool, error) {
	if p.bare {
		return true, nil
	}
	b, err := strconv.ParseBool(p.value)
	if err != nil {
		return false, invalid("parameter %s=%q: want 1, true, 0 or false", p.name, p.value)
	}
	return b, nil
}

// parsePoll reads a poll interval: a positive Go duration.
func parsePoll(p param) (time.Duration, error) {
	d, err := time.ParseDuration(p.value)
	if err != nil || d <= 0 {
		return 0, invalid("parameter %s=%q: want a positive duration such as 50ms or 1s", p.name, p.value)
	}
	return d, nil
}
