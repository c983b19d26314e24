package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"unicode"
)

// A Token grants access to the API: reads, and writes too unless
// ReadOnly. Clients send it as "Authorization: Bearer TOKEN".
type Token struct {
	Value    string
	ReadOnly bool
}

// MinTokenLen is the shortest token ParseTokens accepts: shorter ones
// are too easy to guess.
const MinTokenLen = 16

// ParseTokens reads a token file: one token a line, "read:TOKEN" for one
// that only reads; blank lines and lines starting with '#' are skipped,
// and spaces around a token ignored. A file without a token, or with a
// token under MinTokenLen bytes or holding spaces or control characters,
// is refused: a server given a token file must not end up open.
func ParseTokens(r io.Reader) ([]Token, error) {
	var tokens []Token
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t := Token{Value: line}
		if v, ok := strings.CutPrefix(line, "read:"); ok {
			t = Token{Value: v, ReadOnly: true}
		}
		switch {
		case len(t.Value) < MinTokenLen:
			return nil, fmt.Errorf("line %d: a token of %d bytes, under %d: too easy to guess", n, len(t.Value), MinTokenLen)
		case strings.IndexFunc(t.Value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return nil, fmt.Errorf("line %d: a token holds spaces or control characters", n)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, errors.New("no token in the file")
	}
	return tokens, nil
}

// keyring holds the tokens' digests, compared in constant time.
type keyring struct {
	keys []key
}

type key struct {
	digest   [sha256.Size]byte
	readOnly bool
}

func newKeyring(tokens []Token) (*keyring, error) {
	k := &keyring{}
	for i, t := range tokens {
		if t.Value == "" {
			return nil, fmt.Errorf("token %d is empty", i)
		}
		k.keys = append(k.keys, key{digest: sha256.Sum256([]byte(t.Value)), readOnly: t.ReadOnly})
	}
	return k, nil
}

// An access is what a request may do.
type access int

const (
	denied access = iota
	readAccess
	writeAccess
)

// check returns what the request's bearer token grants. It compares the
// token's digest with every key's, in constant time and without stopping
// at a match, so the time taken tells neither which token nor how much
// of one matched.
func (k *keyring) check(r *http.Request) access {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return denied
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(token)))
	got := denied
	for _, key := range k.keys {
		match := subtle.ConstantTimeCompare(d[:], key.digest[:]) == 1
		a := writeAccess
		if key.readOnly {
			a = readAccess
		}
		if match && a > got {
			got = a
		}
	}
	return got
}

// CheckAddr refuses to serve without tokens on anything but a loopback
// address: an API that can write and delete events must not be open to
// the network. addr is host:port; the host must be a loopback IP,
// "localhost", or a name that resolves to loopback addresses only (an
// empty host means every interface, and is refused).
func CheckAddr(ctx context.Context, addr string, tokens bool) error {
	if tokens {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if loopback(ctx, host) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without tokens: give --token-file, or listen on a loopback address (127.0.0.1, [::1], localhost)", addr)
}

// loopback reports whether host names only loopback addresses.
func loopback(ctx context.Context, host string) bool {
	switch {
	case host == "":
		return false
	case strings.EqualFold(host, "localhost"):
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return false
		}
	}
	return true
}
