package open

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Config
	}{
		// Plain paths: verbatim, whatever they hold.
		{"events.db", Config{Kind: SQLite, Path: "events.db"}},
		{"./x.db", Config{Kind: SQLite, Path: "./x.db"}},
		{"/abs/x.db", Config{Kind: SQLite, Path: "/abs/x.db"}},
		{"a?b.db", Config{Kind: SQLite, Path: "a?b.db"}},
		{"a?readonly=1", Config{Kind: SQLite, Path: "a?readonly=1"}},
		{"50%25 #1.db", Config{Kind: SQLite, Path: "50%25 #1.db"}},
		{`C:\data\events.db`, Config{Kind: SQLite, Path: `C:\data\events.db`}},
		{"C:/data/events.db", Config{Kind: SQLite, Path: "C:/data/events.db"}},
		{"c:events.db", Config{Kind: SQLite, Path: "c:events.db"}},
		{`\\server\share\events.db`, Config{Kind: SQLite, Path: `\\server\share\events.db`}},
		{"./memory:", Config{Kind: SQLite, Path: "./memory:"}},
		{"./events:v2.db", Config{Kind: SQLite, Path: "./events:v2.db"}},
		{"a=b.db", Config{Kind: SQLite, Path: "a=b.db"}},
		{"./host=x y.db", Config{Kind: SQLite, Path: "./host=x y.db"}},
		{"1ab:x.db", Config{Kind: SQLite, Path: "1ab:x.db"}},
		{":memory:", Config{Kind: SQLite, Path: ":memory:"}},

		// file: and sqlite: URLs.
		{"file:events.db", Config{Kind: SQLite, Path: "events.db"}},
		{"file:./data/events.db", Config{Kind: SQLite, Path: "./data/events.db"}},
		{"file:/abs/events.db", Config{Kind: SQLite, Path: "/abs/events.db"}},
		{"file:///abs/events.db", Config{Kind: SQLite, Path: "/abs/events.db"}},
		{"file://localhost/abs/events.db", Config{Kind: SQLite, Path: "/abs/events.db"}},
		{"FILE:events.db", Config{Kind: SQLite, Path: "events.db"}},
		{"file:my%20events%3F.db", Config{Kind: SQLite, Path: "my events?.db"}},
		{"file:events.db?readonly=1", Config{Kind: SQLite, Path: "events.db", ReadOnly: true}},
		{"file:events.db?readonly", Config{Kind: SQLite, Path: "events.db", ReadOnly: true}},
		{"file:events.db?readonly=false", Config{Kind: SQLite, Path: "events.db"}},
		{"file:events.db?poll=10ms&readonly=true", Config{Kind: SQLite, Path: "events.db", ReadOnly: true, PollInterval: 10 * time.Millisecond}},
		{"file:events.db?", Config{Kind: SQLite, Path: "events.db"}},
		{"file::memory:", Config{Kind: SQLite, Path: ":memory:"}},
		{"sqlite:events.db?poll=1s", Config{Kind: SQLite, Path: "events.db", PollInterval: time.Second}},
		{"sqlite:///abs/events.db", Config{Kind: SQLite, Path: "/abs/events.db"}},
		{"sqlite::memory:", Config{Kind: SQLite, Path: ":memory:"}},

		// PostgreSQL: the DSN as given, without evstore_ parameters.
		{"postgres://u:p@h:5432/db", Config{Kind: Postgres, DSN: "postgres://u:p@h:5432/db"}},
		{"postgresql://h/db?sslmode=disable", Config{Kind: Postgres, DSN: "postgresql://h/db?sslmode=disable"}},
		{"POSTGRES://h/db", Config{Kind: Postgres, DSN: "postgres://h/db"}},
		{"postgres://h1,h2/db?evstore_schema=shop", Config{Kind: Postgres, DSN: "postgres://h1,h2/db", Schema: "shop"}},
		{"postgres://u:p%3F@h/db?sslmode=disable&evstore_schema=t%201&search_path=x&evstore_poll=20ms&application_name=a%26b",
			Config{Kind: Postgres, DSN: "postgres://u:p%3F@h/db?sslmode=disable&search_path=x&application_name=a%26b", Schema: "t 1", PollInterval: 20 * time.Millisecond}},

		// memory:
		{"memory:", Config{Kind: Memory}},
		{"MEMORY:", Config{Kind: Memory}},
		{"memory:?poll=5ms", Config{Kind: Memory, PollInterval: 5 * time.Millisecond}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseWindowsDrive(t *testing.T) {
	got, err := Parse("file:///C:/data/events.db")
	if err != nil {
		t.Fatal(err)
	}
	want := "/C:/data/events.db"
	if runtime.GOOS == "windows" {
		want = "C:/data/events.db"
	}
	if got.Path != want {
		t.Errorf("Parse(file:///C:/data/events.db).Path = %q, want %q", got.Path, want)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		in, want string // want: in the message
	}{
		{"", "empty store URL"},
		{"memroy:", `scheme "memroy:"`},
		{"postgress://h/db", `scheme "postgress:"`},
		{"mysql://h/db", `scheme "mysql:"`},
		{"events:v2.db", `scheme "events:"`},
		{"file:", "without a path"},
		{"file:?readonly=1", "without a path"},
		{"file:events.db?mode=ro", `unknown parameter "mode"`},
		{"file:events.db?readonly=maybe", `readonly="maybe"`},
		{"file:events.db?poll=-1s", `poll="-1s"`},
		{"file:events.db?poll=0", `poll="0"`},
		{"file:events.db?poll=soon", `poll="soon"`},
		{"file:events.db?poll=1s&poll=2s", "poll given twice"},
		{"file:events.db?poll=%zz", "bad escape"},
		{"file:ev%zzents.db", "bad escape"},
		{"file:events.db#x", "'#'"},
		{"file://server/share/events.db", `host "server"`},
		{"sqlite://events.db", `host "events.db"`},
		{"file::memory:?readonly=1", "cannot be opened read-only"},
		{"postgres:h/db", "want postgres://"},
		{"postgres://h/db?evstore_schema=", "empty evstore_schema"},
		{"postgres://h/db?evstore_poll=x", `evstore_poll="x"`},
		{"postgres://h/db?evstore_readonly=1", "cannot be opened read-only"},
		{"postgres://h/db?evstore_scheme=a", `unknown parameter "evstore_scheme"`},
		{"postgres://h/db?evstore_schema=a&evstore_schema=b", "evstore_schema given twice"},
		{"memory:x", `unexpected "x"`},
		{"memory://", `unexpected "//"`},
		{"memory:?readonly=1", "cannot be opened read-only"},
		{"memory:?schema=a", `unknown parameter "schema"`},
		{"host=127.0.0.1 dbname=test user=postgres", "key=value connection string"},
		{"dbname=test", "key=value connection string"},
		{"a\x00b.db", "NUL byte"},
		{"file:a%00b.db", "NUL byte"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if !errors.Is(err, evstore.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want ErrInvalidArgument saying %q", tt.in, err, tt.want)
		}
	}
}

// TestParseHidesPasswords: no error quotes a PostgreSQL URL.
func TestParseHidesPasswords(t *testing.T) {
	for _, in := range []string{
		"postgres://u:secret@h/db?evstore_bad=1",
		"postgres://u:secret@h/db?evstore_schema=",
		"postgres:secret@h",
	} {
		if _, err := Parse(in); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q) = %v", in, err)
		}
	}
}

// TestOptionsWin: options are applied after the string's parameters, and
// checked before anything is opened.
func TestOptionsWin(t *testing.T) {
	c, err := Parse("file:x.db?readonly=0&poll=1s")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := c.with([]Option{ReadOnly(), WithPollInterval(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{Kind: SQLite, Path: "x.db", ReadOnly: true, PollInterval: time.Minute}); got != want {
		t.Errorf("with options: %+v, want %+v", got, want)
	}
	bad := []struct {
		c    Config
		opts []Option
		want string
	}{
		{Config{Kind: SQLite, Path: "x.db"}, []Option{WithPollInterval(0)}, "poll interval 0s is not positive"},
		{Config{Kind: SQLite, Path: ":memory:"}, []Option{ReadOnly()}, "read-only"},
		{Config{Kind: Postgres, DSN: "postgres://h/db"}, []Option{ReadOnly()}, "read-only"},
		{Config{Kind: Memory}, []Option{ReadOnly()}, "read-only"},
		{Config{Kind: SQLite}, nil, "empty SQLite database path"},
		{Config{Kind: Postgres}, nil, "empty PostgreSQL URL"},
		{Config{Kind: SQLite, Path: "x.db", Schema: "s"}, nil, "for PostgreSQL"},
		{Config{Kind: SQLite, Path: "x.db", PollInterval: -1}, nil, "negative"},
		{Config{}, nil, "unknown store kind"},
	}
	for _, tt := range bad {
		if _, _, err := tt.c.with(tt.opts); !errors.Is(err, evstore.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v with %d options: %v, want ErrInvalidArgument saying %q", tt.c, len(tt.opts), err, tt.want)
		}
	}
}
