package sqlite

import (
	"fmt"
	"time"
)

// formatTimestamp writes t as Python's datetime.isoformat() writes a naive
// UTC datetime: microseconds, and no fraction when they are zero.
func formatTimestamp(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

// parseTimestamp reads the timestamps formatTimestamp and Python write:
// "2026-11-26T16:52:23", "2026-11-26T16:52:23.723453", a space instead of
// the T, and an optional UTC offset ("+00:00", "Z"), which is applied.
func parseTimestamp(s string) (time.Time, error) {
	if t, ok := parseNaive(s); ok {
		return t, nil
	}
	for _, layout := range []string{
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}

// parseNaive is the fast path for "YYYY-MM-DDTHH:MM:SS[.ffffff]".
func parseNaive(s string) (time.Time, bool) {
	if len(s) != 19 && len(s) != 26 {
		return time.Time{}, false
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	micro, ok7 := 0, true
	if len(s) == 26 {
		if s[19] != '.' {
			return time.Time{}, false
		}
		micro, ok7 = num(20, 6)
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) ||
		month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	if t.Day() != day { // 31 February and the like
		return time.Time{}, false
	}
	return t, true
}
