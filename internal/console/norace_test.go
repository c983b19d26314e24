//go:build !race

package console

// raceEnabled reports whether the test binary runs under the race detector.
const raceEnabled = false
