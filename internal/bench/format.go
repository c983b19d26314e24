package bench

import (
	"fmt"
	"strconv"
)

// Commas formats n with thousands separators, as the reference prints;
// the command-line tool's progress lines use it too.
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// commasFloat formats f with thousands separators and two decimals.
func commasFloat(f float64) string {
	whole := int64(f)
	return fmt.Sprintf("%s.%02d", Commas(whole), int64((f-float64(whole))*100))
}
