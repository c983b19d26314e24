// Package memory is an evstore store that keeps everything in the memory of
// the process: no database, no files, no goroutines.
//
//	store, err := memory.Open(ctx)
//	if err != nil { ... }
//	defer store.Close()
//
// It has two uses.
//
// It is a fast store for unit tests of code built on evstore. It behaves as
// the sqlite and postgres stores do, since it passes the same conformance
// kit (storetest.Run) in full: the same versions, idempotency, conflicts,
// filters, snapshots, watches and errors. Open a store per test; there is
// nothing to set up or clean up beyond Close.
//
// It is also the reference implementation of the evstore.Backend contract,
// kept plain so that it can be read as one: someone writing a backend reads
// it first, and then the database backends, which do the same with SQL,
// pools and group commit. One sync.RWMutex plays the part of a database
// transaction: Append and SaveSnapshot hold it exclusively, every other
// call holds it shared, so each call sees every write whole or not at all.
// Append applies evstore.PlanAppend to the stream's version and key index,
// read under that lock; Read walks the positions a Query selects and keeps
// the events evstore.Filter.Match selects.
//
// Nothing is durable. The events live as long as the Store: they are gone
// when it is closed or the process exits, and no other Store or process can
// see them, so Watch sees exactly this Store's own writes. Every event stays
// in memory until Close; there is no limit on how many.
//
// Stored events share no memory with the caller's: Append copies Data and
// metadata, and every event a Read returns is a fresh copy, with metadata
// decoded from JSON as a database backend decodes it (numbers are
// float64). Snapshots are copied both ways too. (Live events of a Watch
// are shared by the Store between its watchers, whatever the backend: see
// evstore.Stream.Watch.) As in every backend,
// Sequences start at 1 and increase; here they also have no gaps, which
// code should not rely on, since databases may skip some.
package memory
