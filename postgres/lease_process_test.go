//go:build unix

package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// leaseChildTTL is the holder's lease time.
const leaseChildTTL = time.Second

var leaseChildKey = evstore.ConsumerKey{Name: "process"}

func init() { leaseChild = runLeaseChild }

// runLeaseChild takes the lease, says "held", and renews it every third
// of its ttl until that fails; it says why, and exits with 3 when the
// lease was lost.
func runLeaseChild() int {
	ctx := context.Background()
	b, err := open(ctx, os.Getenv("EVSTORE_POSTGRES_DSN"), []Option{WithSchema(os.Getenv(leaseChildSchema))})
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	defer b.Close()
	l, err := b.AcquireLease(ctx, leaseChildKey, leaseChildTTL)
	if err != nil || l == nil {
		fmt.Println("acquire:", l, err)
		return 1
	}
	fmt.Println("held")
	for {
		time.Sleep(leaseChildTTL / 3)
		if err := l.Renew(ctx); err != nil {
			fmt.Println("renew:", err)
			if errors.Is(err, evstore.ErrLeaseLost) {
				return 3
			}
			return 1
		}
	}
}

// startHolder starts a process that holds the lease, and returns it with
// its output once it holds it.
func startHolder(t *testing.T, schema string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), leaseChildSchema+"="+schema, "EVSTORE_POSTGRES_DSN="+testDSN(t))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("holder: got %q, %v; want %q", line, err, "held\n")
	}
	return cmd, r
}

// takeOver polls for the lease until it gets it, and returns how long that
// took.
func takeOver(t *testing.T, b *backend) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if l := acquire(t, b, leaseChildKey, testTTL); l != nil {
			l.Release(context.Background())
			return time.Since(start)
		}
		if time.Since(start) > time.Minute {
			t.Fatal("no takeover within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeaseHolderKilled: when the holder's process is killed (SIGKILL),
// the server ends its session, and a standby takes the lock at once; it
// takes over once the holder's lease time since its last renewal (a third
// of it ago at most) has passed, since it cannot tell a dead holder from
// one whose session ended while it runs on.
func TestLeaseHolderKilled(t *testing.T) {
	schema := testSchema(t)
	b := testBackend(t, schema)
	cmd, _ := startHolder(t, schema)
	mustBeHeld(t, b, leaseChildKey)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	took := takeOver(t, b)
	t.Logf("takeover %v after SIGKILL of the holder (its lease time %v)", took.Round(time.Millisecond), leaseChildTTL)
	if took < leaseChildTTL/2 || took > leaseChildTTL+5*time.Second {
		t.Errorf("takeover %v after SIGKILL of the holder, want between two thirds of its lease time (%v) and about that", took.Round(time.Millisecond), leaseChildTTL)
	}
}

// TestLeaseHolderStopped: a holder stopped with SIGSTOP keeps its TCP
// connection, but the server ends its idle session after its lease time,
// so a standby takes over; when the holder continues, its next Renew
// returns ErrLeaseLost.
func TestLeaseHolderStopped(t *testing.T) {
	var version int
	if err := testConn(t).QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 140000 {
		t.Skipf("server version %d has no idle_session_timeout: a stopped holder keeps its lease", version)
	}
	schema := testSchema(t)
	b := testBackend(t, schema)
	cmd, out := startHolder(t, schema)
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("takeover %v after SIGSTOP of the holder (its lease time %v)", takeOver(t, b).Round(time.Millisecond), leaseChildTTL)
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(string(rest), evstore.ErrLeaseLost.Error()) {
		t.Errorf("holder after SIGCONT: got %q, %v; want its Renew to fail with %v (exit status 3)", rest, err, evstore.ErrLeaseLost)
	}
}
