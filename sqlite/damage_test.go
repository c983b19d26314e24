package sqlite

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-event-sourcing/evstore"
)

// TestDamagedFiles opens truncated and overwritten copies of a database:
// each gives an error wrapping ErrCorrupt, at Open or at the first read,
// and never a panic.
func TestDamagedFiles(t *testing.T) {
	ctx := context.Background()
	good := filepath.Join(t.TempDir(), "good.db")
	s, err := Open(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stream(ctx, "s")
	for range 20 {
		events := make([]evstore.CandidateEvent, 100)
		for i := range events {
			events[i] = evstore.CandidateEvent{Type: "T", Data: make([]byte, 300), Metadata: map[string]any{"i": i}}
		}
		if _, err := st.Write(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	content, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(content) < 100*4096 {
		t.Fatalf("database is only %d bytes", len(content))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2] }},
		{"truncated inside a page", func(b []byte) []byte { return b[:3*4096+100] }},
		{"header overwritten", func(b []byte) []byte { copy(b, make([]byte, 100)); return b }},
		{"schema page overwritten", func(b []byte) []byte {
			for i := 100; i < 4096; i++ {
				b[i] = byte(rng.IntN(256))
			}
			return b
		}},
		{"interior pages overwritten", func(b []byte) []byte {
			for p := 2; p < len(b)/4096; p += 7 {
				for i := p * 4096; i < p*4096+64; i++ {
					b[i] = byte(rng.IntN(256))
				}
			}
			return b
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.db")
			if err := os.WriteFile(path, c.damage(append([]byte(nil), content...)), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(ctx, path)
			if err != nil {
				if !errors.Is(err, evstore.ErrCorrupt) {
					t.Errorf("Open: got %v, want an error wrapping ErrCorrupt", err)
				}
				return
			}
			defer s.Close()
			var readErr error
			n := 0
			for _, id := range []string{evstore.All, "s"} {
				st, err := s.Stream(ctx, id)
				if err != nil {
					readErr = err
					break
				}
				for _, err := range st.Read(ctx) {
					if err != nil {
						readErr = err
						break
					}
					n++
				}
			}
			if readErr == nil {
				t.Fatalf("read %d events from a damaged file without an error", n)
			}
			if !errors.Is(readErr, evstore.ErrCorrupt) {
				t.Errorf("read: got %v, want an error wrapping ErrCorrupt", readErr)
			}
		})
	}
}
