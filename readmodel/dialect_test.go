package readmodel

import (
	"database/sql"
	"testing"

	"github.com/go-event-sourcing/evstore/readmodel/internal/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// TestDialect finds the SQL from the driver, however the *sql.DB was made;
// none of these connects.
func TestDialect(t *testing.T) {
	cfg, err := pgx.ParseConfig("postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	open := func(driver string) *sql.DB {
		db, err := sql.Open(driver, "unused")
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	tests := []struct {
		name string
		db   *sql.DB
		want *core.Queries
	}{
		{`sql.Open("sqlite")`, open("sqlite"), &core.SQLite},
		{`sql.Open("pgx")`, open("pgx"), &core.Postgres},
		{"stdlib.OpenDB", stdlib.OpenDB(*cfg), &core.Postgres},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.db.Close()
			got, err := dialect(tt.db)
			if err != nil || got != tt.want {
				t.Errorf("dialect: got %p, %v, want %p", got, err, tt.want)
			}
		})
	}
}
