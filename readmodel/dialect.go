package readmodel

import (
	"database/sql"
	"fmt"
	"reflect"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/readmodel/internal/core"
)

// The drivers are recognised by the type of db.Driver(), by package path
// and name, so that this package links neither: a PostgreSQL program does
// not carry a SQLite engine, nor a SQLite program pgx.
const (
	sqliteDriver = "modernc.org/sqlite.Driver"             // sql.Open("sqlite", ...)
	pgxDriver    = "github.com/jackc/pgx/v5/stdlib.Driver" // sql.Open("pgx", ...), stdlib.OpenDB, stdlib.OpenDBFromPool
)

// dialect returns the SQL for db's driver.
func dialect(db *sql.DB) (*core.Queries, error) {
	t := reflect.TypeOf(db.Driver())
	if t != nil && t.Kind() == reflect.Pointer {
		switch t.Elem().PkgPath() + "." + t.Elem().Name() {
		case sqliteDriver:
			return &core.SQLite, nil
		case pgxDriver:
			return &core.Postgres, nil
		}
	}
	return nil, fmt.Errorf("%w: readmodel: database/sql driver %v: only modernc.org/sqlite (\"sqlite\") and github.com/jackc/pgx/v5/stdlib (\"pgx\") are supported",
		evstore.ErrUnsupported, t)
}
