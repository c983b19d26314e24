package postgres

import (
	"context"
	"slices"
	"sort"
	"testing"

	"github.com/go-event-sourcing/evstore"
	"github.com/jackc/pgx/v5"
)

// TestStreamsByteOrderWithCollation: Streams orders ids by bytes, as
// SQLite does, even when stream_id has a linguistic collation (the test
// server's database may well be C.UTF-8, which hides the difference).
func TestStreamsByteOrderWithCollation(t *testing.T) {
	for _, collation := range []string{"und-x-icu", "en-US-x-icu"} {
		t.Run(collation, func(t *testing.T) {
			schema := testSchema(t)
			s := testStore(t, schema, nil)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, testDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var found bool
			if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = $1)", collation).Scan(&found); err != nil {
				t.Fatal(err)
			}
			if !found {
				t.Skipf("the server has no collation %q", collation)
			}
			alter := "ALTER TABLE " + pgx.Identifier{schema, "events"}.Sanitize() +
				" ALTER COLUMN stream_id TYPE text COLLATE " + pgx.Identifier{collation}.Sanitize()
			if _, err := conn.Exec(ctx, alter); err != nil {
				t.Fatal(err)
			}
			ids := []string{"B", "a", "_x", "é", "Z9", "a-b", "aB", "ab", "A", "e", "Ω", "~", "0", " x", "ä"}
			for _, id := range ids {
				if _, err := mustStream(t, s, id).Write(ctx, []evstore.CandidateEvent{{Type: "E"}}); err != nil {
					t.Fatal(err)
				}
			}
			// The collation does order them differently.
			var collated []string
			rows, err := conn.Query(ctx, "SELECT DISTINCT stream_id FROM "+pgx.Identifier{schema, "events"}.Sanitize()+" ORDER BY stream_id")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				collated = append(collated, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(ids)
			sort.Strings(want)
			if slices.Equal(collated, want) {
				t.Fatalf("collation %q orders %q as bytes do: the test proves nothing", collation, collated)
			}
			var got []string
			for m, err := range s.Streams(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m.StreamID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Streams with column collation %q:\n got %q\nwant %q (byte order)", collation, got, want)
			}
		})
	}
}
