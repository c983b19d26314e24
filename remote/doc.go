// Package remote is an evstore Store backed by the HTTP API of `evstore
// serve`: a Go program uses a store across the network with the same API,
// and the same guarantees, as one it opens itself.
//
//	store, err := remote.Open(ctx, "https://events.example.com", remote.Token(os.Getenv("EVSTORE_TOKEN")))
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	s, err := store.Stream(ctx, "order-1")
//	...
//
// Every Backend call is one HTTP request (a read may take several, one
// per page the server returns); expectations, idempotency keys and
// FailIfMatch conditions are checked by the server's store, in its
// transactions. Watch and consumers' wake-ups follow the server's live
// stream of @all (Server-Sent Events), resumed with Last-Event-ID when the
// connection drops.
//
// What a remote Store cannot do: consumers (Store.Consume,
// Store.Consumers and ResetConsumer return evstore.ErrUnsupported, since
// the API has no leases or checkpoints), and Truncate reports no count of
// the events it removed to the Store's tracer. Errors the server reports
// come back as the evstore errors they were (a *evstore.ConflictError, a
// *evstore.ConditionError, errors wrapping ErrInvalidEvent, ...), so
// errors.Is and errors.As work as with a local store.
package remote
