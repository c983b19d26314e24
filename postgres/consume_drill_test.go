package postgres

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/storetest"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", for the read model
)

// The schemas of a consumer drill's child: the store's, and the read
// model's; and its lease time.
const (
	drillSchemaEnv          = "EVSTORE_TEST_DRILL_SCHEMA"
	drillReadModelSchemaEnv = "EVSTORE_TEST_DRILL_READMODEL_SCHEMA"
	drillLeaseEnv           = "EVSTORE_TEST_DRILL_LEASE"
)

// drillLease is the drills' lease time. A killed child's session ends at
// once, but its successor waits for the rest of its lease time (see
// lease.go, "Overlap"): a short one keeps the drills short.
const drillLease = 300 * time.Millisecond

// consumeDrill is the consumer drills' setup: the store in schema, the
// read model's tables in rmSchema (through pgx's database/sql driver,
// with rmSchema as the search_path), and the consumers' lease time.
func consumeDrill(dsn, schema, rmSchema string, lease time.Duration) storetest.ConsumeDrill {
	return storetest.ConsumeDrill{
		Open: func(ctx context.Context) (*evstore.Store, error) {
			return Open(ctx, dsn, WithSchema(schema))
		},
		ReadModel: func() (*sql.DB, error) { return sql.Open("pgx", withParam(dsn, "search_path", rmSchema)) },
		Command: func(env []string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^TestConsumeDrillChild$")
			cmd.Env = append(append(os.Environ(), env...),
				"EVSTORE_POSTGRES_DSN="+dsn, drillSchemaEnv+"="+schema, drillReadModelSchemaEnv+"="+rmSchema, drillLeaseEnv+"="+lease.String())
			return cmd
		},
		LeaseTime: lease,
	}
}

// withParam returns dsn (a URL) with the parameter name=value, which must
// be made of plain characters.
func withParam(dsn, name, value string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + name + "=" + value
	}
	return dsn + "?" + name + "=" + value
}

// drillSchemas returns a schema for the store and a created one for the
// read model, both dropped when the test ends.
func drillSchemas(t *testing.T) (schema, rmSchema string) {
	schema, rmSchema = testSchema(t), testSchema(t)
	if _, err := testConn(t).Exec(context.Background(), "CREATE SCHEMA "+pgx.Identifier{rmSchema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return schema, rmSchema
}

// TestConsumeDrillChild is not a test: it is the child process of the
// consumer drills, which run the test binary again to select it.
func TestConsumeDrillChild(t *testing.T) {
	if os.Getenv(storetest.ConsumeDrillEnv) == "" {
		t.Skip("the child process of the consumer drills, which start it")
	}
	lease, err := time.ParseDuration(os.Getenv(drillLeaseEnv))
	if err != nil {
		t.Fatal(err)
	}
	os.Exit(storetest.ConsumeDrillChild(consumeDrill(os.Getenv("EVSTORE_POSTGRES_DSN"), os.Getenv(drillSchemaEnv), os.Getenv(drillReadModelSchemaEnv), lease)))
}

// TestConsumeKillDrill kills a process running a readmodel projector, 16
// times (a restart takes the lock as soon as the killed session ends, and
// waits for the rest of the killed one's lease time), while this one
// writes (see storetest.ConsumeKillDrill): every event is applied to the
// read model's tables exactly once.
func TestConsumeKillDrill(t *testing.T) {
	dsn := testDSN(t)
	schema, rmSchema := drillSchemas(t)
	storetest.ConsumeKillDrill(t, consumeDrill(dsn, schema, rmSchema, drillLease), 16)
}

// TestConsumeFailoverDrill kills the active one of two consumer processes,
// 6 times (see storetest.ConsumeFailoverDrill): the standby takes the lock
// as soon as the killed one's session ends, and takes over once the rest
// of the killed one's lease time has passed, from the checkpoint, delivering
// at most the killed one's last batch again (store-kept checkpoints) or
// nothing (readmodel).
func TestConsumeFailoverDrill(t *testing.T) {
	dsn := testDSN(t)
	for _, tt := range []struct {
		name      string
		readModel bool
	}{{"Checkpoint", false}, {"ReadModel", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			schema, rmSchema := drillSchemas(t)
			storetest.ConsumeFailoverDrill(t, consumeDrill(dsn, schema, rmSchema, drillLease), tt.readModel, 6)
		})
	}
}
