package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/storetest"
)

// The test binary re-runs itself as the writer TestCrashSafety kills.
const childSchema = "EVSTORE_TEST_CRASH_SCHEMA"

func TestMain(m *testing.M) {
	if schema := os.Getenv(childSchema); schema != "" {
		s, err := Open(context.Background(), os.Getenv("EVSTORE_POSTGRES_DSN"), WithSchema(schema))
		if err == nil {
			err = storetest.CrashWriter(context.Background(), s, os.Stdout)
		}
		fmt.Fprintln(os.Stderr, "crash writer:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestCrashSafety kills a process writing to PostgreSQL at random moments,
// 10 times (see storetest.Crash): the server rolls back what was not
// acknowledged, and everything acknowledged is there.
func TestCrashSafety(t *testing.T) {
	dsn, schema := testDSN(t), testSchema(t)
	storetest.Crash(t, 10,
		func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childSchema+"="+schema, "EVSTORE_POSTGRES_DSN="+dsn)
			return cmd
		},
		func(t *testing.T) *evstore.Store { return openOnly(t, schema) },
		nil)
}
