package sqlite

import (
	"context"
	"database/sql"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/storetest"
	_ "modernc.org/sqlite" // "sqlite", for the read model
)

// A consumer drill's child gets the event file (the read model is
// drillReadModel next to it) and the lease time from these.
const (
	drillDBEnv    = "EVSTORE_TEST_DRILL_DB"
	drillLeaseEnv = "EVSTORE_TEST_DRILL_LEASE"
)

const drillReadModel = "readmodel.db"

// consumeDrill is the consumer drills' setup on the event file path, with
// the read model in a second file next to it, opened with the DSN
// settings package readmodel recommends, and the consumers' lease time.
func consumeDrill(path string, lease time.Duration) storetest.ConsumeDrill {
	rm := "file:" + filepath.Join(filepath.Dir(path), drillReadModel) + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"
	return storetest.ConsumeDrill{
		Open: func(ctx context.Context) (*evstore.Store, error) {
			return Open(ctx, path, WithPollInterval(10*time.Millisecond))
		},
		ReadModel: func() (*sql.DB, error) { return sql.Open("sqlite", rm) },
		Command: func(env []string) *osexec.Cmd {
			cmd := osexec.Command(os.Args[0], "-test.run=^TestConsumeDrillChild$")
			cmd.Env = append(append(os.Environ(), env...), drillDBEnv+"="+path, drillLeaseEnv+"="+lease.String())
			return cmd
		},
		LeaseTime: lease,
	}
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
	os.Exit(storetest.ConsumeDrillChild(consumeDrill(os.Getenv(drillDBEnv), lease)))
}

// TestConsumeKillDrill kills a process running a readmodel projector, 12
// times, while this one writes (see storetest.ConsumeKillDrill): every
// event is applied to the read model's file exactly once. Each restart
// waits for the killed one's lease to expire, so the lease is short.
func TestConsumeKillDrill(t *testing.T) {
	storetest.ConsumeKillDrill(t, consumeDrill(filepath.Join(t.TempDir(), "events.db"), 300*time.Millisecond), 12)
}

// TestConsumeFailoverDrill kills the active one of two consumer processes
// on one file, 6 times (see storetest.ConsumeFailoverDrill): the standby
// takes over once the lease (1s) has expired, from the checkpoint, delivering at
// most the killed one's last batch again (store-kept checkpoints) or
// nothing (readmodel).
func TestConsumeFailoverDrill(t *testing.T) {
	for _, tt := range []struct {
		name      string
		readModel bool
	}{{"Checkpoint", false}, {"ReadModel", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.ConsumeFailoverDrill(t, consumeDrill(filepath.Join(t.TempDir(), "events.db"), time.Second), tt.readModel, 6)
		})
	}
}
