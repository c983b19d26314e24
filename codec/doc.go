// Package codec turns Go values into stored events and back: typed events
// instead of a type switch on strings.
//
// An event store keeps events as a type name and bytes (evstore.CandidateEvent
// and evstore.StoredEvent). An application thinks in Go types: an account
// is opened, money is deposited, money is withdrawn, each with its own
// fields. Between the two sits a table: which Go type is stored under which
// name, and how its bytes are read back. Written by hand, that table is a
// type switch repeated in every reader and a string constant repeated in
// every writer, and the compiler checks none of it. A Codec is the table,
// written once:
//
//	type Event interface{ isEvent() } // the events of an account
//
//	type Opened struct{ Owner string }
//	type Deposited struct{ Amount int64 }
//
//	func (Opened) isEvent()    {}
//	func (Deposited) isEvent() {}
//
//	events, err := codec.NewJSON[Event](
//		codec.Type[Opened]("AccountOpened"),
//		codec.Type[Deposited]("MoneyDeposited"),
//	)
//
// Encode(Deposited{Amount: 5}) returns an event of Type "MoneyDeposited"
// with Data {"Amount":5}; Decode of a stored "MoneyDeposited" returns a
// Deposited, ready for a type switch over Event that the compiler can
// check. Encode sets only Type and Data: the idempotency key (ID) and the
// Metadata belong to the caller, and package aggregate sets them from a
// command's id and options.
//
// # Types and names
//
// E is the type every event of the codec has: usually an interface that
// only the application's event types implement (a "sealed" interface, as
// above), or any. Type[T](name) registers one Go type T, which must be
// assignable to E. A value type registered as a value decodes as a value;
// register a pointer type, Type[*Opened], to get pointers back. Names are
// what the database keeps, so they outlive Go identifiers: pick them as
// you would pick column names, and never reuse one for a different shape.
//
// The registrations are checked once, by NewJSON, not at the first event
// that happens to need them: an empty name, a name or a Go type registered
// twice, a type that is not an E, and an Upcast without a function are
// errors wrapping evstore.ErrInvalidArgument.
//
// Encode of a Go type with no registration, and Decode of a stored type
// name with none, are errors wrapping ErrUnknownType. A reader that should
// skip events it does not know (a read model that follows @all, say) tests
// for it with errors.Is and moves on.
//
// # Upcasting
//
// Events are immutable, but the code that reads them is not: a field gets
// renamed, an amount in units becomes an amount in cents, one event type
// is split in two. The stored events keep their old shape forever, so the
// codec rewrites them as they are read. Upcast(from, fn) registers fn for
// stored events of type from; it returns the event as the current code
// expects it, with new Data, a new Type, or both:
//
//	codec.Upcast("MoneyDeposited.v1", func(e evstore.StoredEvent) (evstore.StoredEvent, error) {
//		var old struct{ Units int64 }
//		if err := json.Unmarshal(e.Data, &old); err != nil {
//			return e, err
//		}
//		e.Type = "MoneyDeposited"
//		e.Data, _ = json.Marshal(Deposited{Amount: old.Units * 100})
//		return e, nil
//	})
//
// Upcasts chain: when the event an upcast returns has a type with an
// upcast of its own, that one runs too, so v1 -> v2 -> v3 is written as two
// small steps and each step is tested once. Each upcast runs at most once
// per Decode. An upcast that keeps the type name (a rewrite of Data in
// place) ends the chain, and its function must tell an old shape from the
// current one itself; the clearer way is to give each shape its own name
// ("MoneyDeposited.v1"). A chain that leads back to an upcast it has run
// already is a cycle, and Decode reports it as an error rather than loop.
//
// # JSON
//
// JSON stores events with encoding/json, so struct tags, json.Marshaler and
// json.Unmarshaler work as everywhere in Go. Empty Data decodes as the
// type's zero value, which suits events that carry no fields. JSON null
// does not: for a pointer or struct type it is a nil pointer or nothing,
// not an event, so Encode of a nil pointer and Decode of Data that is null
// are errors wrapping evstore.ErrInvalidEvent (for other kinds, such as a
// registered int or slice type, null decodes as encoding/json decodes it).
// The choice
// of encoding/json over a faster third-party library was made by
// measurement (see the package's benchmarks): the faster libraries either
// panic on some malformed inputs, which a store must never do on the bytes
// it reads, or compile machine code at run time and support one
// architecture, for a gain that most applications, whose events are read
// from a database, would not see.
package codec
