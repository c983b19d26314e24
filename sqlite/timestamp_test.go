package sqlite

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFormatTimestamp(t *testing.T) {
	plus2 := time.FixedZone("+02:00", 2*60*60)
	minus5 := time.FixedZone("-05:00", -5*60*60)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"whole second", time.Date(2026, 11, 26, 16, 52, 23, 0, time.UTC), "2026-11-26T16:52:23"},
		{"microseconds", time.Date(2026, 11, 26, 16, 52, 23, 723453000, time.UTC), "2026-11-26T16:52:23.723453"},
		{"one microsecond", time.Date(2026, 11, 26, 16, 52, 23, 1000, time.UTC), "2026-11-26T16:52:23.000001"},
		{"half second keeps six digits", time.Date(2026, 11, 26, 16, 52, 23, 500000000, time.UTC), "2026-11-26T16:52:23.500000"},
		{"max fraction", time.Date(2026, 11, 26, 16, 52, 23, 999999999, time.UTC), "2026-11-26T16:52:23.999999"},
		{"nanoseconds truncated, not rounded", time.Date(2026, 11, 26, 16, 52, 23, 723453999, time.UTC), "2026-11-26T16:52:23.723453"},
		{"under a microsecond is no fraction", time.Date(2026, 11, 26, 16, 52, 23, 999, time.UTC), "2026-11-26T16:52:23"},
		{"one nanosecond is no fraction", time.Date(2026, 11, 26, 16, 52, 23, 1, time.UTC), "2026-11-26T16:52:23"},
		{"converted to UTC", time.Date(2026, 11, 26, 18, 52, 23, 0, plus2), "2026-11-26T16:52:23"},
		{"converted to UTC with fraction", time.Date(2026, 11, 26, 18, 52, 23, 723453000, plus2), "2026-11-26T16:52:23.723453"},
		{"UTC conversion crosses the year", time.Date(2026, 1, 1, 1, 0, 0, 0, plus2), "2025-12-31T23:00:00"},
		{"negative offset", time.Date(2026, 11, 26, 21, 0, 0, 0, minus5), "2026-11-27T02:00:00"},
		{"leap day", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "2024-02-29T00:00:00"},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00"},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "9999-12-31T23:59:59.999999"},
		{"monotonic clock reading ignored", time.Date(2026, 11, 26, 16, 52, 23, 723453000, time.UTC).Round(0), "2026-11-26T16:52:23.723453"},
	}
	for _, tt := range tests {
		if got := formatTimestamp(tt.t); got != tt.want {
			t.Errorf("%s: formatTimestamp(%v) = %q, want %q", tt.name, tt.t, got, tt.want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		// Python isoformat, both forms.
		{in: "2026-11-26T16:52:23.723453", want: utc(2026, 11, 26, 16, 52, 23, 723453000)},
		{in: "2026-11-26T16:52:23", want: utc(2026, 11, 26, 16, 52, 23, 0)},
		{in: "2026-11-26T16:52:23.000001", want: utc(2026, 11, 26, 16, 52, 23, 1000)},
		{in: "2026-11-26T16:52:23.000000", want: utc(2026, 11, 26, 16, 52, 23, 0)},
		{in: "2026-11-26T00:00:00", want: utc(2026, 11, 26, 0, 0, 0, 0)},
		{in: "2026-12-31T23:59:59.999999", want: utc(2026, 12, 31, 23, 59, 59, 999999000)},
		{in: "2024-02-29T12:00:00", want: utc(2024, 2, 29, 12, 0, 0, 0)},
		{in: "0001-01-01T00:00:00", want: utc(1, 1, 1, 0, 0, 0, 0)},
		{in: "9999-12-31T23:59:59.999999", want: utc(9999, 12, 31, 23, 59, 59, 999999000)},

		// A space instead of the T (SQLite's CURRENT_TIMESTAMP, str(datetime)).
		{in: "2026-11-26 16:52:23.723453", want: utc(2026, 11, 26, 16, 52, 23, 723453000)},
		{in: "2026-11-26 16:52:23", want: utc(2026, 11, 26, 16, 52, 23, 0)},

		// UTC offsets are applied.
		{in: "2026-11-26T16:52:23+00:00", want: utc(2026, 11, 26, 16, 52, 23, 0)},
		{in: "2026-11-26T16:52:23.723453+00:00", want: utc(2026, 11, 26, 16, 52, 23, 723453000)},
		{in: "2026-11-26T16:52:23Z", want: utc(2026, 11, 26, 16, 52, 23, 0)},
		{in: "2026-11-26T16:52:23.723453Z", want: utc(2026, 11, 26, 16, 52, 23, 723453000)},
		{in: "2026-11-26T18:52:23+02:00", want: utc(2026, 11, 26, 16, 52, 23, 0)},
		{in: "2026-11-26T18:52:23.723453+02:00", want: utc(2026, 11, 26, 16, 52, 23, 723453000)},
		{in: "2026-11-26T01:00:00+02:00", want: utc(2026, 11, 25, 23, 0, 0, 0)},
		{in: "2026-11-26T21:00:00-05:00", want: utc(2026, 11, 27, 2, 0, 0, 0)},
		{in: "2026-11-26 16:52:23+00:00", want: utc(2026, 11, 26, 16, 52, 23, 0)},
		{in: "2026-11-26 18:52:23.723453+02:00", want: utc(2026, 11, 26, 16, 52, 23, 723453000)},

		// Bad input.
		{in: "", wantErr: true},
		{in: "garbage", wantErr: true},
		{in: "2026-02-31T00:00:00", wantErr: true},
		{in: "2026-02-29T00:00:00", wantErr: true},
		{in: "2026-04-31T00:00:00", wantErr: true},
		{in: "2026-11-26T25:00:00", wantErr: true},
		{in: "2026-11-26T24:00:00", wantErr: true},
		{in: "2026-11-26T16:60:00", wantErr: true},
		{in: "2026-11-26T16:52:60", wantErr: true},
		{in: "2026-13-01T00:00:00", wantErr: true},
		{in: "2026-00-10T00:00:00", wantErr: true},
		{in: "2026-11-00T00:00:00", wantErr: true},
		{in: "2026-11-32T00:00:00", wantErr: true},
		{in: "2026-11-26", wantErr: true},
		{in: "2026-11-26T16:52", wantErr: true},
		{in: "2026-11-26X16:52:23", wantErr: true},
		{in: "2026/11/26T16:52:23", wantErr: true},
		{in: "2026-11-26T16:52:23.72345x", wantErr: true},
		{in: "2026-11-26T16:52:23,723453", want: time.Date(2026, 11, 26, 16, 52, 23, 723453000, time.UTC)}, // ISO 8601 allows a comma, as Python 3.11 does
		{in: "2026-11-26T16:52:2a", wantErr: true},
		{in: "+026-11-26T16:52:23", wantErr: true},
		{in: "-026-11-26T16:52:23", wantErr: true},
		{in: " 2026-11-26T16:52:23", wantErr: true},
		{in: "2026-11-26T16:52:23 ", wantErr: true},
		{in: "2026-11-26T16:52:23+25:00", wantErr: true},
		{in: "2026-11-26T16:52:23.723453+", wantErr: true},
		{in: "１２３４-11-26T16:52:23", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseTimestamp(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("parseTimestamp(%q) = %v, nil; want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseTimestamp(%q) error = %v, want nil", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("parseTimestamp(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if got.Location() != time.UTC {
			t.Errorf("parseTimestamp(%q).Location() = %v, want UTC", tt.in, got.Location())
		}
	}
}

func TestParseTimestampErrorNamesInput(t *testing.T) {
	const in = "not-a-time"
	_, err := parseTimestamp(in)
	if err == nil || !strings.Contains(err.Error(), in) {
		t.Errorf("parseTimestamp(%q) error = %v, want one naming the input", in, err)
	}
}

func TestTimestampRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{
		time.UTC,
		time.FixedZone("+02:00", 2*60*60),
		time.FixedZone("-09:30", -(9*60+30)*60),
		time.FixedZone("+14:00", 14*60*60),
	}
	lo := time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
	for i := range 2000 {
		sec := lo + r.Int64N(hi-lo)
		ns := r.IntN(1e9)
		switch i % 4 {
		case 0:
			ns = 0 // whole seconds: the short form
		case 1:
			ns = ns / 1000 * 1000 // exact microseconds
		}
		in := time.Unix(sec, int64(ns)).In(zones[r.IntN(len(zones))])
		u := in.UTC()
		want := time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), u.Nanosecond()/1000*1000, time.UTC)

		s := formatTimestamp(in)
		got, err := parseTimestamp(s)
		if err != nil {
			t.Fatalf("parseTimestamp(formatTimestamp(%v)) = parseTimestamp(%q) error = %v, want nil", in, s, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("parseTimestamp(formatTimestamp(%v)) = %v, want %v", in, got, want)
		}
		if again := formatTimestamp(got); again != s {
			t.Fatalf("formatTimestamp(parseTimestamp(%q)) = %q, want %q", s, again, s)
		}
		wantLen := 26
		if want.Nanosecond() == 0 {
			wantLen = 19
		}
		if len(s) != wantLen {
			t.Fatalf("len(formatTimestamp(%v)) = %d (%q), want %d", in, len(s), s, wantLen)
		}
	}
}

var (
	naiveShort = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}$`)
	naiveLong  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\.\d{6}$`)
)

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2026-11-26T16:52:23.723453",
		"2026-11-26T16:52:23",
		"2026-11-26 16:52:23.723453",
		"2026-11-26 16:52:23",
		"2026-11-26T16:52:23.000000",
		"2026-11-26T16:52:23+00:00",
		"2026-11-26T16:52:23.723453Z",
		"2026-11-26T18:52:23.723453+02:00",
		"2026-11-26T16:52:23.123456789",
		"2024-02-29T00:00:00",
		"2026-02-31T00:00:00",
		"2026-11-26T25:00:00",
		"0000-01-01T00:00:00",
		"9999-12-31T23:59:59.999999",
		"garbage",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTimestamp(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Errorf("parseTimestamp(%q).Location() = %v, want UTC", s, got.Location())
		}
		// The strict naive forms, with exactly two digits per field, read
		// back to the text Python would write. Python never writes a
		// ".000000" fraction: it drops it.
		var want string
		switch {
		case naiveLong.MatchString(s) && strings.HasSuffix(s, ".000000"):
			want = s[:19]
		case naiveLong.MatchString(s), naiveShort.MatchString(s):
			want = s
		default:
			return
		}
		want = want[:10] + "T" + want[11:]
		if out := formatTimestamp(got); out != want {
			t.Errorf("formatTimestamp(parseTimestamp(%q)) = %q, want %q", s, out, want)
		}
	})
}
