package open_test

import (
	"context"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/open"
)

// One string picks the store: here the memory store; in a service,
// os.Getenv("EVSTORE_URL"), e.g. "events.db", "file:/var/lib/app/events.db?poll=100ms"
// or "postgres://app@db/app?sslmode=require&evstore_schema=shop".
func ExampleStore() {
	ctx := context.Background()
	store, err := open.Store(ctx, "memory:")
	if err != nil {
		panic(err)
	}
	defer store.Close()

	orders, _ := store.Stream(ctx, "order-1")
	orders.Write(ctx, []evstore.CandidateEvent{{Type: "OrderPlaced"}, {Type: "OrderShipped"}})
	for e, err := range orders.Read(ctx) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Version, e.Type)
	}
	// Output:
	// 1 OrderPlaced
	// 2 OrderShipped
}

// Parse reads a string without opening anything.
func ExampleParse() {
	for _, s := range []string{
		"events.db",
		`C:\data\events.db`,
		"file:///var/lib/app/events.db?readonly=1",
		"postgres://app:secret@db/app?sslmode=require&evstore_schema=shop",
		"memory:",
	} {
		c, err := open.Parse(s)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-8s path=%q schema=%q readonly=%v\n", c.Kind, c.Path, c.Schema, c.ReadOnly)
	}
	_, err := open.Parse("file:events.db?mode=ro")
	fmt.Println(err)
	// Output:
	// sqlite   path="events.db" schema="" readonly=false
	// sqlite   path="C:\\data\\events.db" schema="" readonly=false
	// sqlite   path="/var/lib/app/events.db" schema="" readonly=true
	// postgres path="" schema="shop" readonly=false
	// memory   path="" schema="" readonly=false
	// evstore: invalid argument: file: URL: unknown parameter "mode" (want readonly or poll)
}
