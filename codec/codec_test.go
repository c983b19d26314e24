package codec_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/codec"
)

// The events of an account, as a sealed interface.
type event interface{ isEvent() }

type opened struct {
	Owner string `json:"owner"`
}
type deposited struct {
	Amount int64 `json:"amount"`
}
type withdrawn struct {
	Amount int64  `json:"amount"`
	Note   string `json:"note,omitempty"`
}
type closed struct{}

func (opened) isEvent()     {}
func (deposited) isEvent()  {}
func (*withdrawn) isEvent() {}
func (closed) isEvent()     {}

// frozen is an event that no test codec registers.
type frozen struct{}

func (frozen) isEvent() {}

// notAnEvent has no isEvent method.
type notAnEvent struct{}

func newCodec(t testing.TB, extra ...codec.Registration) *codec.JSON[event] {
	t.Helper()
	regs := append([]codec.Registration{
		codec.Type[opened]("Opened"),
		codec.Type[deposited]("Deposited"),
		codec.Type[*withdrawn]("Withdrawn"),
		codec.Type[closed]("Closed"),
	}, extra...)
	c, err := codec.NewJSON[event](regs...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func stored(c evstore.CandidateEvent) evstore.StoredEvent {
	return evstore.StoredEvent{StreamID: "acc-1", Version: 1, Sequence: 1, Type: c.Type, Data: c.Data}
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t)
	tests := []struct {
		name     string
		in       event
		wantType string
		wantData string
	}{
		{"value type", opened{Owner: "ada"}, "Opened", `{"owner":"ada"}`},
		{"another value type", deposited{Amount: 5}, "Deposited", `{"amount":5}`},
		{"pointer type", &withdrawn{Amount: 3, Note: "rent"}, "Withdrawn", `{"amount":3,"note":"rent"}`},
		{"no fields", closed{}, "Closed", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ce, err := c.Encode(tt.in)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if ce.Type != tt.wantType || string(ce.Data) != tt.wantData {
				t.Errorf("Encode: got %s %s, want %s %s", ce.Type, ce.Data, tt.wantType, tt.wantData)
			}
			if ce.ID != "" || ce.Metadata != nil {
				t.Errorf("Encode set ID %q and Metadata %v; want them left to the caller", ce.ID, ce.Metadata)
			}
			got, err := c.Decode(stored(ce))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.in) {
				t.Errorf("Decode: got %#v, want %#v", got, tt.in)
			}
		})
	}
}

func TestDecodeKinds(t *testing.T) {
	c := newCodec(t)
	tests := []struct {
		name string
		in   evstore.StoredEvent
		want event
	}{
		{"value decodes as value", evstore.StoredEvent{Type: "Deposited", Data: []byte(`{"amount":7}`)}, deposited{Amount: 7}},
		{"pointer decodes as pointer", evstore.StoredEvent{Type: "Withdrawn", Data: []byte(`{"amount":2}`)}, &withdrawn{Amount: 2}},
		{"empty data is the zero value", evstore.StoredEvent{Type: "Deposited"}, deposited{}},
		{"empty data of a pointer type is a pointer to a zero value", evstore.StoredEvent{Type: "Withdrawn"}, &withdrawn{}},
		{"unknown fields are ignored", evstore.StoredEvent{Type: "Opened", Data: []byte(`{"owner":"bo","extra":1}`)}, opened{Owner: "bo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decode(tt.in)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// blank is a registered event whose JSON is null.
type blank struct{}

func (blank) isEvent()                     {}
func (blank) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// TestNull: a nil pointer event, and stored Data that is JSON null for a
// pointer or struct type, are refused with ErrInvalidEvent rather than
// read back as a zero value; null stays a value of the other kinds.
func TestNull(t *testing.T) {
	c := newCodec(t, codec.Type[blank]("Blank"),
		codec.Upcast("Deposited.null", func(e evstore.StoredEvent) (evstore.StoredEvent, error) {
			e.Type, e.Data = "Deposited", []byte("null")
			return e, nil
		}))
	scalars, err := codec.NewJSON[any](codec.Type[int]("Int"), codec.Type[[]string]("List"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     func() (any, error)
		want    any   // when wantErr is nil
		wantErr error // errors.Is
	}{
		{"encode of a nil pointer", func() (any, error) { return c.Encode((*withdrawn)(nil)) }, nil, evstore.ErrInvalidEvent},
		{"encode of a value whose JSON is null", func() (any, error) { return c.Encode(blank{}) }, nil, evstore.ErrInvalidEvent},
		{"decode of null for a pointer type", func() (any, error) {
			return c.Decode(evstore.StoredEvent{Type: "Withdrawn", Data: []byte(`null`)})
		}, nil, evstore.ErrInvalidEvent},
		{"decode of null for a struct type", func() (any, error) {
			return c.Decode(evstore.StoredEvent{Type: "Deposited", Data: []byte(" null\n")})
		}, nil, evstore.ErrInvalidEvent},
		{"decode of null for a struct without fields", func() (any, error) {
			return c.Decode(evstore.StoredEvent{Type: "Closed", Data: []byte(`null`)})
		}, nil, evstore.ErrInvalidEvent},
		{"decode of null from an upcast", func() (any, error) {
			return c.Decode(evstore.StoredEvent{Type: "Deposited.null", Data: []byte(`{}`)})
		}, nil, evstore.ErrInvalidEvent},
		{"decode of null for an int", func() (any, error) {
			return scalars.Decode(evstore.StoredEvent{Type: "Int", Data: []byte(`null`)})
		}, 0, nil},
		{"decode of null for a slice", func() (any, error) {
			return scalars.Decode(evstore.StoredEvent{Type: "List", Data: []byte(`null`)})
		}, []string(nil), nil},
		{"a field that is null is fine", func() (any, error) {
			return c.Decode(evstore.StoredEvent{Type: "Withdrawn", Data: []byte(`{"amount":null}`)})
		}, &withdrawn{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.run()
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("got %#v, %v; want an error wrapping %v", got, err, tt.wantErr)
			case tt.wantErr != nil && errors.Is(err, codec.ErrUnknownType):
				t.Errorf("got %v; want it not to wrap ErrUnknownType: the type is registered", err)
			case tt.wantErr == nil && err != nil:
				t.Errorf("got error %v, want %#v", err, tt.want)
			case tt.wantErr == nil && !reflect.DeepEqual(got, tt.want):
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	c := newCodec(t)
	t.Run("decode of an unregistered type", func(t *testing.T) {
		_, err := c.Decode(evstore.StoredEvent{StreamID: "acc-1", Version: 4, Type: "Frozen", Data: []byte(`{}`)})
		if !errors.Is(err, codec.ErrUnknownType) {
			t.Fatalf("got %v, want ErrUnknownType", err)
		}
		if !strings.Contains(err.Error(), `"Frozen"`) || !strings.Contains(err.Error(), "version 4") {
			t.Errorf("error %q does not name the event", err)
		}
	})
	t.Run("encode of an unregistered Go type", func(t *testing.T) {
		_, err := c.Encode(frozen{})
		if !errors.Is(err, codec.ErrUnknownType) {
			t.Fatalf("got %v, want ErrUnknownType", err)
		}
	})
	t.Run("encode of nil", func(t *testing.T) {
		_, err := c.Encode(nil)
		if !errors.Is(err, codec.ErrUnknownType) {
			t.Fatalf("got %v, want ErrUnknownType", err)
		}
	})
	t.Run("data that is not JSON of the type", func(t *testing.T) {
		for _, data := range []string{`{`, `{"amount":"five"}`, `[1]`, `"x"`} {
			_, err := c.Decode(evstore.StoredEvent{Type: "Deposited", Data: []byte(data)})
			if err == nil || errors.Is(err, codec.ErrUnknownType) {
				t.Errorf("Decode(%s): got %v, want a decoding error", data, err)
			}
			var syn *json.SyntaxError
			var typ *json.UnmarshalTypeError
			if !errors.As(err, &syn) && !errors.As(err, &typ) {
				t.Errorf("Decode(%s): got %v, want it to wrap encoding/json's error", data, err)
			}
		}
	})
}

func TestRegistrationMistakes(t *testing.T) {
	up := func(e evstore.StoredEvent) (evstore.StoredEvent, error) { return e, nil }
	tests := []struct {
		name string
		regs []codec.Registration
		want string // in the error
	}{
		{"empty name", []codec.Registration{codec.Type[opened]("")}, "empty type name"},
		{"empty upcast name", []codec.Registration{codec.Upcast("", up)}, "empty type name"},
		{"name used twice", []codec.Registration{codec.Type[opened]("A"), codec.Type[deposited]("A")}, "name is registered already"},
		{"type registered twice", []codec.Registration{codec.Type[opened]("A"), codec.Type[opened]("B")}, "type is registered already"},
		{"not assignable to E", []codec.Registration{codec.Type[notAnEvent]("N")}, "not assignable"},
		{"pointer receiver type as a value", []codec.Registration{codec.Type[withdrawn]("W")}, "not assignable"},
		{"interface type", []codec.Registration{codec.Type[event]("E")}, "interface type"},
		{"nil upcast function", []codec.Registration{codec.Upcast("A", nil)}, "nil function"},
		{"zero Registration", []codec.Registration{{}}, "nil function"},
		{"two upcasts of one name", []codec.Registration{codec.Upcast("A", up), codec.Upcast("A", up)}, "second upcast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := codec.NewJSON[event](tt.regs...)
			if !errors.Is(err, evstore.ErrInvalidArgument) {
				t.Fatalf("got %v, %v; want an error wrapping ErrInvalidArgument", c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestConcreteE: E may be a concrete type, and T any type assignable to it.
func TestConcreteE(t *testing.T) {
	type shape = struct{ N int }
	type named struct{ N int }
	c, err := codec.NewJSON[named](codec.Type[named]("Named"), codec.Type[shape]("Shape"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"Named", "Shape"} {
		got, err := c.Decode(evstore.StoredEvent{Type: typ, Data: []byte(`{"N":3}`)})
		if err != nil || got != (named{N: 3}) {
			t.Errorf("Decode %s: got %v, %v; want {3}", typ, got, err)
		}
	}
	anything, err := codec.NewJSON[any](codec.Type[int]("Int"), codec.Type[string]("String"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := anything.Decode(evstore.StoredEvent{Type: "Int", Data: []byte(`42`)})
	if err != nil || got != 42 {
		t.Errorf("Decode Int: got %v, %v; want 42", got, err)
	}
}

// rename returns an upcast that renames an event and maps its Data with f.
func rename(to string, f func(map[string]any)) func(evstore.StoredEvent) (evstore.StoredEvent, error) {
	return func(e evstore.StoredEvent) (evstore.StoredEvent, error) {
		var m map[string]any
		if err := json.Unmarshal(e.Data, &m); err != nil {
			return e, err
		}
		if m == nil {
			m = map[string]any{}
		}
		f(m)
		data, err := json.Marshal(m)
		if err != nil {
			return e, err
		}
		e.Type, e.Data = to, data
		return e, nil
	}
}

func TestUpcast(t *testing.T) {
	boom := errors.New("boom")
	c := newCodec(t,
		// v1 counted in units, v2 in cents under "cents", v3 is Deposited.
		codec.Upcast("Deposited.v1", rename("Deposited.v2", func(m map[string]any) { m["cents"] = m["units"].(float64) * 100 })),
		codec.Upcast("Deposited.v2", rename("Deposited", func(m map[string]any) { m["amount"] = m["cents"] })),
		// a rewrite under the same name: an old "name" field becomes "owner".
		codec.Upcast("Opened", func(e evstore.StoredEvent) (evstore.StoredEvent, error) {
			e.Data = []byte(strings.Replace(string(e.Data), `"name"`, `"owner"`, 1))
			return e, nil
		}),
		codec.Upcast("Ping", rename("Pong", func(map[string]any) {})),
		codec.Upcast("Pong", rename("Ping", func(map[string]any) {})),
		codec.Upcast("Broken", func(e evstore.StoredEvent) (evstore.StoredEvent, error) { return e, boom }),
		codec.Upcast("Nameless", func(e evstore.StoredEvent) (evstore.StoredEvent, error) { e.Type = ""; return e, nil }),
		codec.Upcast("Gone", rename("Unknown", func(map[string]any) {})),
	)
	tests := []struct {
		name    string
		in      evstore.StoredEvent
		want    event
		wantErr error  // errors.Is
		errText string // in the error
	}{
		{name: "chain of two", in: evstore.StoredEvent{Type: "Deposited.v1", Data: []byte(`{"units":3}`)}, want: deposited{Amount: 300}},
		{name: "last step only", in: evstore.StoredEvent{Type: "Deposited.v2", Data: []byte(`{"cents":42}`)}, want: deposited{Amount: 42}},
		{name: "current shape untouched", in: evstore.StoredEvent{Type: "Deposited", Data: []byte(`{"amount":1}`)}, want: deposited{Amount: 1}},
		{name: "rewrite under the same name", in: evstore.StoredEvent{Type: "Opened", Data: []byte(`{"name":"cy"}`)}, want: opened{Owner: "cy"}},
		{name: "cycle", in: evstore.StoredEvent{Type: "Ping", Data: []byte(`{}`)}, errText: "upcast cycle: Ping -> Pong -> Ping"},
		{name: "upcast error", in: evstore.StoredEvent{Type: "Broken"}, wantErr: boom},
		{name: "upcast to an empty type", in: evstore.StoredEvent{Type: "Nameless"}, errText: "empty Type"},
		{name: "upcast to an unregistered type", in: evstore.StoredEvent{Type: "Gone", Data: []byte(`{}`)}, wantErr: codec.ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decode(tt.in)
			switch {
			case tt.wantErr != nil || tt.errText != "":
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("got %v, %v; want an error (%v, %q)", got, err, tt.wantErr, tt.errText)
				}
			case err != nil:
				t.Fatalf("Decode: %v", err)
			case !reflect.DeepEqual(got, tt.want):
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// FuzzDecode: Decode never panics, whatever the stored bytes, and what it
// decodes encodes and decodes back to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct{ typ, data string }{
		{"Opened", `{"owner":"ada"}`}, {"Deposited", `{"amount":5}`}, {"Withdrawn", `{"amount":1,"note":"x"}`},
		{"Closed", ``}, {"Deposited.v1", `{"units":2}`}, {"Withdrawn", `null`}, {"Opened", `{"owner":"\u00e9\\"}`},
		{"Deposited", `{"amount":1e400}`}, {"Nope", `{}`}, {"Opened", "{\"owner\":\"\xff\"}"},
	} {
		f.Add(s.typ, []byte(s.data))
	}
	c := newCodec(f, codec.Upcast("Deposited.v1", rename("Deposited", func(m map[string]any) { m["amount"] = m["units"] })))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		got, err := c.Decode(evstore.StoredEvent{StreamID: "s", Version: 1, Type: typ, Data: data})
		if err != nil {
			return
		}
		ce, err := c.Encode(got)
		if err != nil {
			t.Fatalf("Encode of decoded %#v: %v", got, err)
		}
		again, err := c.Decode(stored(ce))
		if err != nil {
			t.Fatalf("Decode of re-encoded %s: %v", ce.Data, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip: got %#v, want %#v", again, got)
		}
	})
}
