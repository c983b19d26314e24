// Package rawsqlite writes and reads event rows through the SQLite driver
// directly, with none of evstore's work: the baseline `evstore bench
// --baseline` compares the library with.
package rawsqlite

import (
	"fmt"
	"time"

	evsqlite "github.com/go-event-sourcing/evstore/sqlite"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// A Row is an event row as the schema stores it.
type Row struct {
	ID        int64
	StreamID  string
	Key       string
	Type      string
	Timestamp string
	Metadata  string
	Data      []byte
	Version   int64
}

// Open opens path with evstore's pragmas (its readers' memory map included)
// and schema.
func Open(path string) (*sqlite.Conn, error) {
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		return nil, err
	}
	for _, pragma := range []string{"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA mmap_size=268435456"} {
		if err := sqlitex.ExecuteTransient(conn, pragma, nil); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if err := sqlitex.ExecuteScript(conn, evsqlite.Schema, nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Write inserts n events into one stream in transactions of batch rows,
// through one prepared single-row INSERT reused for every row.
func Write(conn *sqlite.Conn, stream string, n, batch int, keys bool) error {
	stmt, err := conn.Prepare(`INSERT INTO events (stream_id, idempotency_key, event_type, timestamp, metadata, data, version)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	data := []byte(`{"amount": 1}`)
	for done := 0; done < n; {
		if err := sqlitex.ExecuteTransient(conn, "BEGIN IMMEDIATE", nil); err != nil {
			return err
		}
		ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000")
		for i := 0; i < batch && done < n; i++ {
			done++
			stmt.BindText(1, stream)
			if keys {
				stmt.BindText(2, fmt.Sprintf("event-%d", done))
			} else {
				stmt.BindNull(2)
			}
			stmt.BindText(3, "Increment")
			stmt.BindText(4, ts)
			stmt.BindNull(5)
			stmt.BindBytes(6, data)
			stmt.BindInt64(7, int64(done))
			if _, err := stmt.Step(); err != nil {
				return err
			}
			if err := stmt.Reset(); err != nil {
				return err
			}
		}
		if err := sqlitex.ExecuteTransient(conn, "COMMIT", nil); err != nil {
			return err
		}
	}
	return nil
}

// ReadStream reads the rows of one stream in version order, with one
// statement, as Stream.Read does in pages: the like-for-like baseline.
func ReadStream(conn *sqlite.Conn, stream string, f func(*Row)) error {
	stmt, err := conn.Prepare("SELECT id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version FROM events WHERE stream_id = ? ORDER BY version")
	if err != nil {
		return err
	}
	stmt.BindText(1, stream)
	return scan(stmt, f)
}

// Scan reads every event row of the database in table order, the cheapest
// way SQLite can return them.
func Scan(conn *sqlite.Conn, f func(*Row)) error {
	stmt, err := conn.Prepare("SELECT id, stream_id, idempotency_key, event_type, timestamp, metadata, data, version FROM events ORDER BY id")
	if err != nil {
		return err
	}
	return scan(stmt, f)
}

// scan steps through stmt, decoding each column into Go values, and calls
// f with each row; the Row is reused between calls.
func scan(stmt *sqlite.Stmt, f func(*Row)) error {
	defer stmt.Reset()
	var r Row
	for {
		ok, err := stmt.Step()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		r.ID = stmt.ColumnInt64(0)
		r.StreamID = stmt.ColumnText(1)
		r.Key = stmt.ColumnText(2)
		r.Type = stmt.ColumnText(3)
		r.Timestamp = stmt.ColumnText(4)
		r.Metadata = stmt.ColumnText(5)
		r.Data = make([]byte, stmt.ColumnLen(6))
		stmt.ColumnBytes(6, r.Data)
		r.Version = stmt.ColumnInt64(7)
		f(&r)
	}
}
