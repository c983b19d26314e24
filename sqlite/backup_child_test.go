package sqlite

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// backupWriterEnv names the database a re-run of the test binary writes to
// as the other process of TestBackupUnderOtherProcessWrites.
const backupWriterEnv = "EVSTORE_TEST_BACKUP_WRITER"

// init runs before TestMain: the test binary started as the backup
// test's writer does only that.
func init() {
	if path := os.Getenv(backupWriterEnv); path != "" {
		if err := backupWriter(path); err != nil {
			fmt.Fprintln(os.Stderr, "backup writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// Batches of the backup writer: a backup holds whole batches or none.
const backupBatch = 10

// backupWriter appends batches of backupBatch events to stream "child",
// printing the stream's version after each acknowledged write, until its
// standard input closes (or 30s have passed, or 20000 batches).
func backupWriter(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Stream(ctx, "child")
	if err != nil {
		return err
	}
	batch := make([]evstore.CandidateEvent, backupBatch)
	for i := range batch {
		batch[i] = evstore.CandidateEvent{Type: "FromChild", Data: []byte(strings.Repeat("c", 256))}
	}
	for range 20000 {
		v, err := st.Write(ctx, batch, evstore.ExpectVersion(st.Version()))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Println(v)
		time.Sleep(time.Millisecond)
	}
	return nil
}
