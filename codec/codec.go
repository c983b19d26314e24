package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-event-sourcing/evstore"
)

// ErrUnknownType means an event whose type the codec has no registration
// for: Encode of a Go type no Type registered, or Decode of a stored type
// name no Type registered (after upcasting).
var ErrUnknownType = errors.New("codec: unknown event type")

// A Codec turns events of Go type E into events to append, and stored
// events back into E.
type Codec[E any] interface {
	// Encode returns e as an event to append. It sets Type and Data only:
	// ID (the idempotency key) and Metadata are left for the caller.
	Encode(e E) (evstore.CandidateEvent, error)
	// Decode returns the E that a stored event holds.
	Decode(e evstore.StoredEvent) (E, error)
}

// A Registration is one entry of a JSON codec's table: a Go type and the
// name it is stored under (Type), or a rewrite of old stored events
// (Upcast). Pass them to NewJSON.
type Registration struct {
	name   string
	typ    reflect.Type                   // Type: the Go type
	decode func(data []byte) (any, error) // Type: a T from JSON
	upcast func(evstore.StoredEvent) (evstore.StoredEvent, error)
	isType bool
	// refuseNull: T is a pointer or struct type, for which JSON null is
	// a nil pointer or nothing at all, not an event.
	refuseNull bool
}

// Type registers Go type T under the stored type name name: Encode of a T
// stores JSON under name, and Decode of an event named name yields a T. A
// value type registered as a value decodes as a value; a pointer type (Type[*T])
// decodes as a pointer to a fresh T. T must be assignable to the codec's E,
// and must not be an interface type. Empty Data decodes as T's zero value
// (for a pointer type: a pointer to a zero value). When T is a pointer or
// a struct type, JSON null is not a T: Encode of a nil pointer (or of a
// value whose JSON is null) and Decode of Data that is null are errors
// wrapping evstore.ErrInvalidEvent.
func Type[T any](name string) Registration {
	t := reflect.TypeFor[T]()
	r := Registration{name: name, typ: t, isType: true, refuseNull: t.Kind() == reflect.Pointer || t.Kind() == reflect.Struct}
	if t.Kind() == reflect.Pointer {
		elem := t.Elem()
		r.decode = func(data []byte) (any, error) {
			p := reflect.New(elem).Interface()
			if len(data) > 0 {
				if err := json.Unmarshal(data, p); err != nil {
					return nil, err
				}
			}
			return p, nil
		}
	} else {
		r.decode = func(data []byte) (any, error) {
			var v T
			if len(data) > 0 {
				if err := json.Unmarshal(data, &v); err != nil {
					return nil, err
				}
			}
			return v, nil
		}
	}
	return r
}

// Upcast registers fn to rewrite stored events of type from before they
// are decoded: to change an old shape of Data into the current one, or to
// rename the type (fn sets the new Type). Upcasts chain: if the event fn
// returns has a type with an upcast of its own, that one runs next, and so
// on. Each upcast runs at most once per Decode: an upcast that keeps the
// type name ends the chain (fn must then tell old Data from new itself),
// and one that leads back to an upcast already run is a cycle, reported as
// an error. fn must not change the event's Data in place: return a copy.
func Upcast(from string, fn func(evstore.StoredEvent) (evstore.StoredEvent, error)) Registration {
	return Registration{name: from, upcast: fn}
}

// JSON is a Codec that stores events as JSON (encoding/json) under the type
// names registered with Type, and upcasts old stored events with the
// functions registered with Upcast. It is safe for concurrent use.
type JSON[E any] struct {
	byName  map[string]*entry
	byType  map[reflect.Type]*entry
	upcasts map[string]func(evstore.StoredEvent) (evstore.StoredEvent, error)
}

// entry is a registered Go type, as a JSON codec keeps it.
type entry struct {
	name   string
	typ    reflect.Type
	decode func(data []byte) (any, error)
	// assert: the decoded value converts to E by a type assertion (E is
	// an interface, or T is E); otherwise reflect assigns it.
	assert bool
	// refuseNull: JSON null is not an event of this type; see Type.
	refuseNull bool
}

var _ Codec[any] = (*JSON[any])(nil)

// NewJSON returns a JSON codec for events of type E with the given
// registrations. Mistakes in them are errors wrapping
// evstore.ErrInvalidArgument: an empty name, a name registered by two
// Types, a Go type registered twice, a type that is not assignable to E
// or is an interface type, two Upcasts of one name, a nil fn (or a zero
// Registration).
func NewJSON[E any](regs ...Registration) (*JSON[E], error) {
	c := &JSON[E]{
		byName:  make(map[string]*entry),
		byType:  make(map[reflect.Type]*entry),
		upcasts: make(map[string]func(evstore.StoredEvent) (evstore.StoredEvent, error)),
	}
	eType := reflect.TypeFor[E]()
	for i, r := range regs {
		var problem string
		switch {
		case r.name == "" && (r.isType || r.upcast != nil):
			problem = "empty type name"
		case r.isType && r.typ.Kind() == reflect.Interface:
			problem = fmt.Sprintf("Type[%s](%q): an interface type, which JSON cannot decode into", r.typ, r.name)
		case r.isType && !r.typ.AssignableTo(eType):
			problem = fmt.Sprintf("Type[%s](%q): %s is not assignable to %s", r.typ, r.name, r.typ, eType)
		case r.isType && c.byName[r.name] != nil:
			problem = fmt.Sprintf("Type[%s](%q): the name is registered already, for %s", r.typ, r.name, c.byName[r.name].typ)
		case r.isType && c.byType[r.typ] != nil:
			problem = fmt.Sprintf("Type[%s](%q): the type is registered already, as %q", r.typ, r.name, c.byType[r.typ].name)
		case r.isType:
			e := &entry{name: r.name, typ: r.typ, decode: r.decode, assert: eType.Kind() == reflect.Interface || r.typ == eType, refuseNull: r.refuseNull}
			c.byName[r.name], c.byType[r.typ] = e, e
		case r.upcast == nil:
			problem = fmt.Sprintf("Upcast(%q): nil function (or a zero Registration)", r.name)
		case c.upcasts[r.name] != nil:
			problem = fmt.Sprintf("Upcast(%q): a second upcast of the name", r.name)
		default:
			c.upcasts[r.name] = r.upcast
		}
		if problem != "" {
			return nil, fmt.Errorf("%w: codec registration %d: %s", evstore.ErrInvalidArgument, i, problem)
		}
	}
	return c, nil
}

// Encode returns e as JSON under its registered type name. It sets Type
// and Data only. An e whose dynamic Go type is not registered (or a nil e)
// is an error wrapping ErrUnknownType. A nil pointer of a registered
// pointer type, or any e of a pointer or struct type whose JSON is null,
// is an error wrapping evstore.ErrInvalidEvent: it would decode as a zero
// value, an event that never happened.
func (c *JSON[E]) Encode(e E) (evstore.CandidateEvent, error) {
	v := any(e)
	t := reflect.TypeOf(v)
	r := c.byType[t]
	if r == nil {
		if t == nil {
			return evstore.CandidateEvent{}, fmt.Errorf("%w: encode of a nil event", ErrUnknownType)
		}
		return evstore.CandidateEvent{}, fmt.Errorf("%w: encode of Go type %s, which no Type registers", ErrUnknownType, t)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return evstore.CandidateEvent{}, fmt.Errorf("codec: encode %s as %q: %w", t, r.name, err)
	}
	if r.refuseNull && isNull(data) {
		if t.Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil() {
			return evstore.CandidateEvent{}, fmt.Errorf("%w: codec: encode of a nil %s", evstore.ErrInvalidEvent, t)
		}
		return evstore.CandidateEvent{}, fmt.Errorf("%w: codec: encode of a %s whose JSON is null", evstore.ErrInvalidEvent, t)
	}
	return evstore.CandidateEvent{Type: r.name, Data: data}, nil
}

// Decode returns the Go value a stored event holds: its upcasts applied,
// then its Data decoded into the Go type registered under its (new) type
// name. A type name with no registration is an error wrapping
// ErrUnknownType; Data that is JSON null for a pointer or struct type is
// an error wrapping evstore.ErrInvalidEvent (see Type); Data that is not
// JSON of the type is an error that names the event.
func (c *JSON[E]) Decode(e evstore.StoredEvent) (E, error) {
	var zero E
	if len(c.upcasts) > 0 {
		var err error
		if e, err = c.upcast(e); err != nil {
			return zero, err
		}
	}
	r := c.byName[e.Type]
	if r == nil {
		return zero, fmt.Errorf("%w: %q (stream %q, version %d)", ErrUnknownType, e.Type, e.StreamID, e.Version)
	}
	if r.refuseNull && isNull(e.Data) {
		return zero, fmt.Errorf("%w: codec: decode %q (stream %q, version %d): Data is null, which is no %s", evstore.ErrInvalidEvent, e.Type, e.StreamID, e.Version, r.typ)
	}
	v, err := r.decode(e.Data)
	if err != nil {
		return zero, fmt.Errorf("codec: decode %q (stream %q, version %d) into %s: %w", e.Type, e.StreamID, e.Version, r.typ, err)
	}
	if r.assert {
		return v.(E), nil
	}
	out := reflect.New(reflect.TypeFor[E]()).Elem()
	out.Set(reflect.ValueOf(v))
	return out.Interface().(E), nil
}

// upcast applies the upcasts that apply to e, in a chain, each at most once.
func (c *JSON[E]) upcast(e evstore.StoredEvent) (evstore.StoredEvent, error) {
	var done []string // upcasts run so far, in order; chains are short
	for {
		fn := c.upcasts[e.Type]
		if fn == nil {
			return e, nil
		}
		for _, d := range done {
			if d == e.Type {
				return e, fmt.Errorf("codec: upcast cycle: %s -> %s (stream %q, version %d)", strings.Join(done, " -> "), e.Type, e.StreamID, e.Version)
			}
		}
		from := e.Type
		done = append(done, from)
		out, err := fn(e)
		if err != nil {
			return e, fmt.Errorf("codec: upcast of %q (stream %q, version %d): %w", from, e.StreamID, e.Version, err)
		}
		if out.Type == "" {
			return e, fmt.Errorf("codec: upcast of %q (stream %q, version %d) returned an empty Type", from, e.StreamID, e.Version)
		}
		e = out
		if e.Type == from {
			return e, nil // a rewrite of Data under the same name ends the chain
		}
	}
}

// isNull reports whether data is the JSON value null, with or without JSON
// whitespace around it.
func isNull(data []byte) bool {
	return string(bytes.Trim(data, " \t\r\n")) == "null"
}
