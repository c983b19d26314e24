package core

import "errors"

// sqliteNow is the time as naive UTC ISO-8601 text, the form the event
// store's SQLite file uses.
const sqliteNow = `strftime('%Y-%m-%dT%H:%M:%f', 'now')`

// SQLite is the SQL of modernc.org/sqlite. New runs no transaction and
// writes nothing when the table and the row exist: a Projector starting
// while another connection holds the file's write lock does not wait for
// it.
var SQLite = Queries{
	Busy:   sqliteBusy,
	Schema: `SELECT count(*), count(*) FILTER (WHERE name = '` + ClaimColumn + `') FROM pragma_table_info('` + Table + `')`,
	Create: `CREATE TABLE IF NOT EXISTS ` + Table + ` (
		name TEXT NOT NULL PRIMARY KEY,
		position BIGINT NOT NULL,
		updated TEXT NOT NULL,
		` + ClaimColumn + ` TEXT)`,
	AddClaim: `ALTER TABLE ` + Table + ` ADD COLUMN ` + ClaimColumn + ` TEXT`,
	Insert: `INSERT INTO ` + Table + ` (name, position, updated, ` + ClaimColumn + `) VALUES ($1, $2, ` + sqliteNow + `, $3)
		ON CONFLICT (name) DO NOTHING`,
	Advance: `UPDATE ` + Table + ` SET position = $1, updated = ` + sqliteNow + ` WHERE name = $2 AND position = $3`,
	AdvanceAs: `UPDATE ` + Table + ` SET position = $1, updated = ` + sqliteNow + `, ` + ClaimColumn + ` = $4
		WHERE name = $2 AND position = $3 AND (` + ClaimColumn + ` IS NULL OR ` + ClaimColumn + ` = $4)`,
	Claim: `UPDATE ` + Table + ` SET ` + ClaimColumn + ` = $2 WHERE name = $1 AND ` + ClaimColumn + ` IS NULL`,
	Read:  `SELECT position, ` + ClaimColumn + ` FROM ` + Table + ` WHERE name = $1`,
	Reset: `INSERT INTO ` + Table + ` (name, position, updated) VALUES ($1, 0, ` + sqliteNow + `)
		ON CONFLICT (name) DO UPDATE SET position = 0, updated = excluded.updated, ` + ClaimColumn + ` = NULL`,
}

// sqliteBusy reports whether err is SQLITE_BUSY (with any extended code).
func sqliteBusy(err error) bool {
	var c interface{ Code() int }
	return errors.As(err, &c) && c.Code()&0xff == sqliteBusyCode
}

// sqliteBusyCode is SQLITE_BUSY.
const sqliteBusyCode = 5

// Postgres is the SQL of PostgreSQL, through database/sql or pgx. Every
// transaction, New's included, starts with Setup: its lock waits and its
// idle time are bounded.
var Postgres = Queries{
	// A timeout the session already has (from the DSN, the role, the
	// database or the server's configuration) is kept: a deliberate
	// choice of the application or its administrator.
	Setup: `SELECT
		CASE current_setting('lock_timeout') WHEN '0' THEN set_config('lock_timeout', $1, true) END,
		CASE current_setting('idle_in_transaction_session_timeout') WHEN '0' THEN set_config('idle_in_transaction_session_timeout', $2, true) END`,
	InitInTx: true,
	// current_schema() is where CREATE TABLE puts an unqualified table:
	// the first schema of the search_path that exists.
	Schema: `SELECT count(*), count(*) FILTER (WHERE column_name = '` + ClaimColumn + `')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '` + Table + `'`,
	Create: `CREATE TABLE IF NOT EXISTS ` + Table + ` (
		name TEXT NOT NULL PRIMARY KEY,
		position BIGINT NOT NULL,
		updated TIMESTAMPTZ NOT NULL DEFAULT now(),
		` + ClaimColumn + ` TEXT)`,
	AddClaim: `ALTER TABLE ` + Table + ` ADD COLUMN IF NOT EXISTS ` + ClaimColumn + ` TEXT`,
	Insert:   `INSERT INTO ` + Table + ` (name, position, ` + ClaimColumn + `) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
	Advance:  `UPDATE ` + Table + ` SET position = $1, updated = now() WHERE name = $2 AND position = $3`,
	AdvanceAs: `UPDATE ` + Table + ` SET position = $1, updated = now(), ` + ClaimColumn + ` = $4
		WHERE name = $2 AND position = $3 AND (` + ClaimColumn + ` IS NULL OR ` + ClaimColumn + ` = $4)`,
	Claim: `UPDATE ` + Table + ` SET ` + ClaimColumn + ` = $2 WHERE name = $1 AND ` + ClaimColumn + ` IS NULL`,
	Read:  `SELECT position, ` + ClaimColumn + ` FROM ` + Table + ` WHERE name = $1`,
	Reset: `INSERT INTO ` + Table + ` (name, position) VALUES ($1, 0)
		ON CONFLICT (name) DO UPDATE SET position = 0, updated = now(), ` + ClaimColumn + ` = NULL`,
}
