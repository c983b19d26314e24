//go:build race

package console

// raceEnabled reports whether the test binary runs under the race
// detector. The browser tests skip then: CI runs them in its other pass,
// and Chromium under a raced test binary only adds minutes.
const raceEnabled = true
