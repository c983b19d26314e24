package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/storetest"
	"github.com/jackc/pgx/v5"
)

// The test binary re-runs itself as the writer TestCrashSafety kills.
const childSchema = "EVSTORE_TEST_CRASH_SCHEMA"

// The test binary re-runs itself as the lease holder of
// lease_process_test.go (leaseChild, when set) when leaseChildSchema names
// a schema.
const leaseChildSchema = "EVSTORE_TEST_LEASE_SCHEMA"

var leaseChild func() int

func TestMain(m *testing.M) {
	if leaseChild != nil && os.Getenv(leaseChildSchema) != "" {
		os.Exit(leaseChild())
	}
	if schema := os.Getenv(childSchema); schema != "" {
		s, err := Open(context.Background(), os.Getenv("EVSTORE_POSTGRES_DSN"), WithSchema(schema))
		if err == nil {
			err = storetest.CrashWriter(context.Background(), s, os.Stdout)
		}
		fmt.Fprintln(os.Stderr, "crash writer:", err)
		os.Exit(1)
	}
	if os.Getenv("EVSTORE_POSTGRES_DSN") == "" {
		fmt.Fprintln(os.Stderr, "evstore/postgres: EVSTORE_POSTGRES_DSN is not set, so the PostgreSQL tests skip; run them with EVSTORE_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./postgres")
	}
	os.Exit(m.Run())
}

// TestCrashSafety kills a process writing to PostgreSQL at random moments,
// 10 times (see storetest.Crash): the server rolls back what was not
// acknowledged, and everything acknowledged is there.
//
// A killed client's server session lives on until it notices the client
// is gone, and a COMMIT the client sent before it died still commits. So
// before each check the test waits until the writer's sessions, named by
// their application_name, have ended.
func TestCrashSafety(t *testing.T) {
	dsn, schema := testDSN(t), testSchema(t)
	name := "evstore_crash_writer_" + schema // plain characters: the DSN carries it as is
	childDSN := withAppName(dsn, name)
	storetest.Crash(t, 10,
		func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childSchema+"="+schema, "EVSTORE_POSTGRES_DSN="+childDSN)
			return cmd
		},
		func(t *testing.T) *evstore.Store { return openOnly(t, schema) },
		func(t *testing.T) { waitSessionsGone(t, dsn, name) })
}

// waitSessionsGone waits until the server has no session named name.
func waitSessionsGone(t *testing.T, dsn, name string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed writer still open after 30s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
