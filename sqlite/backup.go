package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-event-sourcing/evstore"
	"github.com/go-event-sourcing/evstore/internal/errs"
	"zombiezen.com/go/sqlite"
)

// A BackupOption configures Backup.
type BackupOption func(*backupConfig)

type backupConfig struct {
	overwrite   bool
	every       time.Duration
	progress    func(written, total int64)
	busyTimeout time.Duration
}

// BackupOverwrite lets Backup replace a file that already exists at the
// target. The old file stays whole until the new copy is complete: the copy
// is written beside it and renamed over it.
func BackupOverwrite() BackupOption { return func(c *backupConfig) { c.overwrite = true } }

// BackupProgress makes Backup call fn every interval while it copies, from a
// goroutine of its own that has stopped when Backup returns, with the bytes
// of the copy written so far and the size the copy is expected to reach
// (the pages of the source in use when the copy started). written may stay
// behind total until the end: SQLite writes the last pages when it
// commits. Once the copy is complete, fn is called a last time with both
// equal to its size. fn is not called after Backup returns.
func BackupProgress(interval time.Duration, fn func(written, total int64)) BackupOption {
	return func(c *backupConfig) { c.every, c.progress = interval, fn }
}

// BackupBusyTimeout sets how long Backup waits when SQLite reports the
// source as busy (default 5s). A reader in WAL mode is busy only for a
// moment: while another connection opens or recovers the WAL, or runs a
// RESTART or TRUNCATE checkpoint.
func BackupBusyTimeout(d time.Duration) BackupOption {
	return func(c *backupConfig) { c.busyTimeout = d }
}

// Backup copies the event store at path into a new file at to, while other
// connections, Stores and processes go on writing to it.
//
// The copy is consistent: it is the database as one read transaction saw
// it, taken when Backup starts copying, so it holds every transaction
// committed before Backup was called (every acknowledged Write and
// checkpoint) and none of those committed while it runs, whole or in part.
// It is made with SQLite's VACUUM INTO on a read-only connection of its
// own: Backup changes nothing in the source, takes no lock that stops
// writers (in WAL mode, as evstore's files are, readers and the writer do
// not block each other), and works on a file that another process is
// writing. It does not restart when the source changes, as SQLite's
// stepped online backup API does, so it ends under steady writes.
// While it runs, its read transaction keeps checkpoints from moving the
// WAL past the snapshot it reads: the WAL may grow for that long.
//
// The copy is one self-contained file, compacted (no free pages), in
// rollback-journal mode (not WAL: there is no -wal or -shm file to copy
// with it), synced to disk before it appears at to. sqlite.Open of the copy
// turns WAL mode back on; a ReadOnly Store reads it as it is. It has the
// source's permission bits. Restore by stopping the writers and putting the
// copy in place of the file, after removing that file's -wal and -shm
// files.
//
// The copy is written to a temporary file in to's directory and renamed to
// to once complete, so to never holds a partial copy, and nothing is left
// behind when Backup fails or ctx ends (which interrupts the copy). A
// target that exists is refused unless BackupOverwrite is given, and so are
// a target in a directory that does not exist, a target that is the source
// itself, and a target with a -wal or -journal file beside it (SQLite would
// apply that file to the copy); these errors wrap
// evstore.ErrInvalidArgument. A source that does not exist is
// ErrInvalidArgument too; one that is not an event store is
// evstore.ErrCorrupt.
func Backup(ctx context.Context, path, to string, opts ...BackupOption) (err error) {
	cfg := backupConfig{busyTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkBackup(path, to, cfg); err != nil {
		return err
	}
	b := &backend{path: path, cfg: config{readOnly: true, busyTimeout: cfg.busyTimeout}}
	conn, err := b.openConn(ctx, false)
	if err != nil {
		return errs.Wrapf("evstore/sqlite", err, "back up %s", path)
	}
	defer conn.Close()
	if err := b.checkReadOnly(conn); err != nil {
		return errs.Wrapf("evstore/sqlite", err, "back up %s", path)
	}
	total, err := usedBytes(conn)
	if err != nil {
		return errs.Wrapf("evstore/sqlite", translate(err), "back up %s", path)
	}

	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".tmp-*")
	if err != nil {
		return errs.Wrapf("evstore/sqlite", err, "back up %s to %s", path, to)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
			os.Remove(tmpName + "-journal")
		}
	}()
	stop := startProgress(cfg, tmpName, total)
	conn.SetInterrupt(ctx.Done())
	err = vacuumInto(conn, tmpName)
	conn.SetInterrupt(nil)
	stop()
	if err == nil {
		// SQLite checks for interrupts while it copies rows, not while it
		// writes the copy out: a ctx that ended then discards the copy.
		err = ctx.Err()
	}
	if err != nil {
		return errs.Wrapf("evstore/sqlite", interrupted(ctx, err), "back up %s to %s", path, to)
	}
	// The source's permissions, once the copy is written: a read-only
	// source would make the copy unwritable before VACUUM INTO.
	if fi, err := os.Stat(path); err == nil {
		os.Chmod(tmpName, fi.Mode().Perm())
	}
	if err := syncFile(tmpName); err != nil {
		return errs.Wrapf("evstore/sqlite", err, "back up %s to %s", path, to)
	}
	if err := publish(tmpName, to, cfg.overwrite); err != nil {
		return err
	}
	syncFile(filepath.Dir(to)) // the rename; not every system can sync a directory
	if cfg.progress != nil {
		n := fileBytes(to)
		cfg.progress(n, n)
	}
	return nil
}

// checkBackup refuses bad arguments before anything is opened or written.
func checkBackup(path, to string, cfg backupConfig) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: back up %s to %s: "+format, append([]any{evstore.ErrInvalidArgument, path, to}, args...)...)
	}
	switch {
	case path == "" || to == "":
		return fmt.Errorf("%w: back up: empty source or target path", evstore.ErrInvalidArgument)
	case path == ":memory:" || to == ":memory:":
		return bad("a private in-memory database has no file to back up or to write")
	case cfg.busyTimeout < 0:
		return bad("busy timeout %v is negative", cfg.busyTimeout)
	case cfg.progress != nil && cfg.every <= 0:
		return bad("progress interval %v is not positive", cfg.every)
	}
	src, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return bad("no database at %s", path)
	case err != nil:
		return errs.Wrapf("evstore/sqlite", err, "back up %s", path)
	case src.IsDir():
		return bad("%s is a directory", path)
	}
	dir := filepath.Dir(to)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return bad("directory %s does not exist", dir)
	case err != nil:
		return errs.Wrapf("evstore/sqlite", err, "back up %s to %s", path, to)
	case !fi.IsDir():
		return bad("%s is not a directory", dir)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if strings.HasSuffix(to, suffix) {
			return bad("a target named *%s would be taken for a database's %s file (the source's, if it is %s%s)", suffix, suffix, path, suffix)
		}
	}
	switch fi, err := os.Lstat(to); {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return bad("the target is a symbolic link: name the file it points to")
	case err == nil && fi.IsDir():
		return bad("the target is a directory")
	case err == nil && os.SameFile(fi, src):
		return bad("the target is the source")
	case err == nil && !cfg.overwrite:
		return bad("the target exists (overwrite it with BackupOverwrite, or --force)")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return errs.Wrapf("evstore/sqlite", err, "back up %s to %s", path, to)
	}
	for _, suffix := range []string{"-wal", "-journal"} {
		if _, err := os.Stat(to + suffix); err == nil {
			return bad("%s%s exists: the target may be a database in use, and SQLite would apply that file to the copy (remove it if no one uses the target)", to, suffix)
		}
	}
	return nil
}

// usedBytes returns the size of the database's pages in use: about the
// size of its VACUUM INTO copy.
func usedBytes(conn *sqlite.Conn) (int64, error) {
	pages, err := queryInt(conn, "PRAGMA page_count")
	if err != nil {
		return 0, err
	}
	free, err := queryInt(conn, "PRAGMA freelist_count")
	if err != nil {
		return 0, err
	}
	size, err := queryInt(conn, "PRAGMA page_size")
	if err != nil {
		return 0, err
	}
	return (pages - free) * size, nil
}

// startProgress calls cfg.progress every cfg.every with the size of the
// file at path, until the returned func is called; that func waits for the
// goroutine to end.
func startProgress(cfg backupConfig, path string, total int64) (stop func()) {
	if cfg.progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(cfg.every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				cfg.progress(min(fileBytes(path), total), total)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func fileBytes(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// publish moves the finished copy tmp to to. Without overwrite it links
// it, which fails if to has appeared meanwhile, instead of renaming over it.
func publish(tmp, to string, overwrite bool) error {
	if !overwrite {
		err := os.Link(tmp, to)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: back up to %s: the target was created while the copy was made (overwrite it with BackupOverwrite, or --force)", evstore.ErrInvalidArgument, to)
		}
		if err == nil {
			os.Remove(tmp)
			return nil
		}
		// A file system without hard links: check, then rename.
		if _, err := os.Lstat(to); err == nil {
			return fmt.Errorf("%w: back up to %s: the target was created while the copy was made (overwrite it with BackupOverwrite, or --force)", evstore.ErrInvalidArgument, to)
		}
	}
	if err := os.Rename(tmp, to); err != nil {
		return errs.Wrapf("evstore/sqlite", err, "back up to %s", to)
	}
	return nil
}

// syncFile flushes a file (or a directory's entries) to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// vacuumInto copies conn's database into the empty file at path.
func vacuumInto(conn *sqlite.Conn, path string) error {
	stmt, _, err := conn.PrepareTransient("VACUUM INTO ?")
	if err != nil {
		return err
	}
	defer stmt.Finalize()
	stmt.BindText(1, path)
	_, err = stmt.Step()
	return err
}
