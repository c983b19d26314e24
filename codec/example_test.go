package codec_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/codec"
	"github.com/go-event-sourcing/evstore/memory"
)

// The events of a shopping cart: a sealed interface and its types.
type CartEvent interface{ isCartEvent() }

type ItemAdded struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type CheckedOut struct{}

func (ItemAdded) isCartEvent()  {}
func (CheckedOut) isCartEvent() {}

// Events go into the store typed and come out typed, with a type switch the
// compiler checks.
func Example() {
	ctx := context.Background()
	events, err := codec.NewJSON[CartEvent](
		codec.Type[ItemAdded]("ItemAdded"),
		codec.Type[CheckedOut]("CheckedOut"),
	)
	if err != nil {
		panic(err)
	}
	store, err := memory.Open(ctx)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	cart, err := store.Stream(ctx, "cart-7")
	if err != nil {
		panic(err)
	}

	var batch []evstore.CandidateEvent
	for _, e := range []CartEvent{ItemAdded{SKU: "tea", Quantity: 2}, CheckedOut{}} {
		ce, err := events.Encode(e)
		if err != nil {
			panic(err)
		}
		ce.Metadata = map[string]any{"user": "ada"} // Encode leaves Metadata and ID to the caller
		batch = append(batch, ce)
	}
	if _, err := cart.Write(ctx, batch); err != nil {
		panic(err)
	}

	for stored, err := range cart.Read(ctx) {
		if err != nil {
			panic(err)
		}
		e, err := events.Decode(stored)
		if err != nil {
			panic(err)
		}
		switch e := e.(type) {
		case ItemAdded:
			fmt.Printf("v%d %s: %d x %s\n", stored.Version, stored.Type, e.Quantity, e.SKU)
		case CheckedOut:
			fmt.Printf("v%d %s %s\n", stored.Version, stored.Type, stored.Data)
		}
	}
	// Output:
	// v1 ItemAdded: 2 x tea
	// v2 CheckedOut {}
}

// An upcast reads events stored in an old shape: here "ItemAdded.v1",
// which had a single item and called it "product".
func ExampleUpcast() {
	events, err := codec.NewJSON[CartEvent](
		codec.Type[ItemAdded]("ItemAdded"),
		codec.Upcast("ItemAdded.v1", func(e evstore.StoredEvent) (evstore.StoredEvent, error) {
			var old struct{ Product string }
			if err := json.Unmarshal(e.Data, &old); err != nil {
				return e, err
			}
			data, err := json.Marshal(ItemAdded{SKU: old.Product, Quantity: 1})
			if err != nil {
				return e, err
			}
			e.Type, e.Data = "ItemAdded", data
			return e, nil
		}),
	)
	if err != nil {
		panic(err)
	}
	e, err := events.Decode(evstore.StoredEvent{Type: "ItemAdded.v1", Data: []byte(`{"Product":"coffee"}`)})
	fmt.Printf("%#v %v\n", e, err)
	// Output:
	// codec_test.ItemAdded{SKU:"coffee", Quantity:1} <nil>
}

// Registration mistakes are found when the codec is made, not when an
// event first needs them.
func ExampleNewJSON() {
	_, err := codec.NewJSON[CartEvent](
		codec.Type[ItemAdded]("ItemAdded"),
		codec.Type[CheckedOut]("ItemAdded"),
	)
	fmt.Println(errors.Is(err, evstore.ErrInvalidArgument))
	fmt.Println(err)
	// Output:
	// true
	// evstore: invalid argument: codec registration 1: Type[codec_test.CheckedOut]("ItemAdded"): the name is registered already, for codec_test.ItemAdded
}

// Decode of a type name nobody registered wraps ErrUnknownType, so a
// reader that follows every stream can skip what is not its business.
func ExampleErrUnknownType() {
	events, err := codec.NewJSON[CartEvent](codec.Type[ItemAdded]("ItemAdded"))
	if err != nil {
		panic(err)
	}
	_, err = events.Decode(evstore.StoredEvent{StreamID: "user-1", Version: 1, Type: "UserRenamed"})
	fmt.Println(errors.Is(err, codec.ErrUnknownType))
	// Output:
	// true
}
