package filtertext

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in     string
		op     evstore.Op
		field  string
		values []any
	}{
		{"stream_id=order-1", evstore.OpEquals, "stream_id", []any{"order-1"}},
		{"event_type=A|B", evstore.OpIn, "event_type", []any{"A", "B"}},
		{"event_type~order%", evstore.OpLike, "event_type", []any{"order%"}},
		{"version=3", evstore.OpEquals, "version", []any{int64(3)}},
		{"tag=course:c1|student:s7", evstore.OpIn, "tag", []any{"course:c1", "student:s7"}},
		{"metadata.total=10", evstore.OpEquals, "metadata", []any{10.0}},
		{"metadata.vip=true", evstore.OpEquals, "metadata", []any{true}},
		{`metadata.code="007"`, evstore.OpEquals, "metadata", []any{"007"}},
		{"metadata.code=007", evstore.OpEquals, "metadata", []any{"007"}},
		{"metadata.region=EMEA|10", evstore.OpIn, "metadata", []any{"EMEA", 10.0}},
		{"stream_id=a~b", evstore.OpEquals, "stream_id", []any{"a~b"}},
	} {
		cl, err := Parse(c.in)
		if err != nil || cl.Op() != c.op || cl.Field() != c.field || !reflect.DeepEqual(cl.Values(), c.values) {
			t.Errorf("Parse(%q) = %v %q %#v, %v; want %v %q %#v", c.in, cl.Op(), cl.Field(), cl.Values(), err, c.op, c.field, c.values)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	for _, in := range []string{"stream_id", "version=x", "nope=1", "version~1%"} {
		if _, err := Build([]string{"stream_id=a", in}); !errors.Is(err, evstore.ErrInvalidFilter) {
			t.Errorf("Build(%q): got %v, want ErrInvalidFilter", in, err)
		}
	}
	f, err := Build(nil)
	if err != nil || len(f) != 0 {
		t.Errorf("Build(nil) = %v, %v; want an empty filter", f, err)
	}
}
