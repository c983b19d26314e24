package readmodel_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite" // "sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sqliteParams are the DSN settings doc.go recommends.
const sqliteParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"

// A database is a fresh read-model database that several *sql.DB can reach.
type database struct {
	driver, dsn string
}

// conn opens another *sql.DB on d, closed when the test ends.
func (d database) conn(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open(d.driver, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sqliteDatabase returns a new SQLite file with the given DSN parameters.
func sqliteDatabase(t testing.TB, params string) database {
	return database{"sqlite", "file:" + filepath.Join(t.TempDir(), "rm.db") + "?" + params}
}

// postgresDSN returns the test server's address, or skips the test.
func postgresDSN(t testing.TB) string {
	t.Helper()
	d := os.Getenv("EVSTORE_POSTGRES_DSN")
	if d == "" {
		t.Skip("PostgreSQL tests need a server: set EVSTORE_POSTGRES_DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable (CI sets it)")
	}
	return d
}

var schemas atomic.Int64

// postgresDatabase returns a new schema on the test server, dropped when the
// test ends; its DSN puts the schema first on the search_path.
func postgresDatabase(t testing.TB) database {
	t.Helper()
	base := postgresDSN(t)
	schema := fmt.Sprintf("evstore_rmtest_%d_%d", os.Getpid(), schemas.Add(1))
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return database{"pgx", withSearchPath(t, base, schema)}
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// eachDatabase runs f on SQLite and on PostgreSQL (skipped without a server).
func eachDatabase(t *testing.T, f func(t *testing.T, d database)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteDatabase(t, sqliteParams)) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresDatabase(t)) })
}

// The test model: one row per applied event, tagged with who applied it.
const modelDDL = `CREATE TABLE IF NOT EXISTS applied (projector TEXT NOT NULL, seq BIGINT NOT NULL)`

// createModel creates the model's table.
func createModel(t testing.TB, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec(modelDDL); err != nil {
		t.Fatal(err)
	}
}

// recorder returns an ApplyFunc that inserts (tag, Sequence) into applied,
// and a counter of its calls.
func recorder(tag string) (readmodel.ApplyFunc, *atomic.Int64) {
	calls := new(atomic.Int64)
	return func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
		calls.Add(1)
		_, err := tx.ExecContext(ctx, `INSERT INTO applied (projector, seq) VALUES ($1, $2)`, tag, e.Sequence)
		return err
	}, calls
}

// applied returns the Sequences in the model applied by tag (every tag if ""), in order.
func applied(t testing.TB, db *sql.DB, tag string) []int64 {
	t.Helper()
	rows, err := db.Query(`SELECT seq FROM applied WHERE $1 = '' OR projector = $1 ORDER BY seq`, tag)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// events returns events with Sequences from to to, in order.
func events(from, to int64) []evstore.StoredEvent {
	var es []evstore.StoredEvent
	for s := from; s <= to; s++ {
		es = append(es, event(s))
	}
	return es
}

func event(seq int64) evstore.StoredEvent {
	return evstore.StoredEvent{
		StreamID:  fmt.Sprintf("account-%d", seq%3),
		Sequence:  seq,
		Version:   seq/3 + 1,
		Timestamp: time.Unix(1_800_000_000+seq, 0).UTC(),
		Type:      "Deposited",
		Data:      []byte(`{"amount":1}`),
	}
}

// seqs returns from, from+1, ..., to.
func seqs(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// newProjector returns readmodel.New's Projector or fails the test.
func newProjector(t testing.TB, db *sql.DB, name string, apply readmodel.ApplyFunc) *readmodel.Projector {
	t.Helper()
	p, err := readmodel.New(context.Background(), db, name, apply)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// position returns p.Position or fails the test.
func position(t testing.TB, p *readmodel.Projector) int64 {
	t.Helper()
	pos, err := p.Position(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pos
}
