package readmodel_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// The benchmarks run a projector that inserts one row per event, in
// batches of benchBatch (Store.Consume's default BatchSize): one op is one
// event, and events/s is the throughput.
const benchBatch = 256

func BenchmarkProjectorSQLite(b *testing.B) { benchProjector(b, sqliteDatabase(b, sqliteParams)) }

func BenchmarkProjectorPostgres(b *testing.B) { benchProjector(b, postgresDatabase(b)) }

func benchProjector(b *testing.B, d database) {
	ctx := context.Background()
	db := d.conn(b)
	if _, err := db.Exec(`CREATE TABLE model (seq BIGINT PRIMARY KEY, stream_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT)`); err != nil {
		b.Fatal(err)
	}
	p := newProjector(b, db, "bench", func(ctx context.Context, tx *sql.Tx, e evstore.StoredEvent) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO model (seq, stream_id, type, data) VALUES ($1, $2, $3, $4)`,
			e.Sequence, e.StreamID, e.Type, string(e.Data))
		return err
	})
	batch := make([]evstore.StoredEvent, benchBatch)
	streams := make([]string, 64)
	for i := range streams {
		streams[i] = fmt.Sprintf("account-%d", i)
	}
	data := []byte(`{"amount":100,"currency":"EUR"}`)
	var seq int64
	b.ReportAllocs()
	b.ResetTimer()
	for n := b.N; n > 0; {
		k := min(n, benchBatch)
		for i := range k {
			seq++
			batch[i] = evstore.StoredEvent{StreamID: streams[seq%64], Sequence: seq, Version: seq/64 + 1, Type: "Deposited", Data: data}
		}
		if err := p.Handle(ctx, batch[:k]); err != nil {
			b.Fatal(err)
		}
		n -= k
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
