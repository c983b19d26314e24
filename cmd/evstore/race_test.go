//go:build race

package main

// raceEnabled reports whether the test binary runs under the race
// detector, which makes the tests that parse lines of tens of MiB take
// tens of seconds.
const raceEnabled = true
