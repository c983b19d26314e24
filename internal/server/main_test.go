package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: an
// SSE stream's Watch loop, say, that its handler did not wait for.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
