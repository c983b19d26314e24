package core

// sqliteNow is the time as naive UTC ISO-8601 text, the form the event
// store's SQLite file uses.
const sqliteNow = `strftime('%Y-%m-%dT%H:%M:%f', 'now')`

// SQLite is the SQL of modernc.org/sqlite.
var SQLite = Queries{
	Create: `CREATE TABLE IF NOT EXISTS ` + Table + ` (
		name TEXT NOT NULL PRIMARY KEY,
		position BIGINT NOT NULL,
		updated TEXT NOT NULL)`,
	Insert:  `INSERT INTO ` + Table + ` (name, position, updated) VALUES ($1, $2, ` + sqliteNow + `) ON CONFLICT (name) DO NOTHING`,
	Advance: `UPDATE ` + Table + ` SET position = $1, updated = ` + sqliteNow + ` WHERE name = $2 AND position = $3`,
	Read:    `SELECT position FROM ` + Table + ` WHERE name = $1`,
	Reset: `INSERT INTO ` + Table + ` (name, position, updated) VALUES ($1, 0, ` + sqliteNow + `)
		ON CONFLICT (name) DO UPDATE SET position = 0, updated = excluded.updated`,
}

// Postgres is the SQL of PostgreSQL, through database/sql or pgx.
var Postgres = Queries{
	Create: `CREATE TABLE IF NOT EXISTS ` + Table + ` (
		name TEXT NOT NULL PRIMARY KEY,
		position BIGINT NOT NULL,
		updated TIMESTAMPTZ NOT NULL DEFAULT now())`,
	Insert:  `INSERT INTO ` + Table + ` (name, position) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
	Advance: `UPDATE ` + Table + ` SET position = $1, updated = now() WHERE name = $2 AND position = $3`,
	Read:    `SELECT position FROM ` + Table + ` WHERE name = $1`,
	Reset: `INSERT INTO ` + Table + ` (name, position) VALUES ($1, 0)
		ON CONFLICT (name) DO UPDATE SET position = 0, updated = now()`,
}
