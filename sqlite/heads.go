package sqlite

import "zombiezen.com/go/sqlite"

// maxHeads bounds how many stream versions the cache keeps; past it, the
// cache starts again empty.
const maxHeads = 1 << 16

// heads caches stream versions for the writer connection, so that a write
// checks its expectation without asking the database, and a write that
// conflicts costs next to nothing. Only the holder of the writer connection
// uses it.
//
// The cache is right as long as no other connection has written: each
// transaction starts by reading PRAGMA data_version, which changes when
// another connection (another Store, another process, Python) commits, and
// empties the cache if it did. Versions written by the open transaction
// stay apart until it commits.
type heads struct {
	dataVersion int64
	known       map[string]int64 // committed versions
	tx          map[string]int64 // versions the open transaction wrote
}

// begin starts a transaction; the connection holds the write lock.
func (h *heads) begin(conn *sqlite.Conn) error {
	v, err := dataVersion(conn)
	if err != nil {
		return err
	}
	if h.known == nil {
		h.known, h.tx = make(map[string]int64), make(map[string]int64)
	}
	if v != h.dataVersion || len(h.known) > maxHeads {
		clear(h.known)
		h.dataVersion = v
	}
	clear(h.tx)
	return nil
}

// get returns the stream's version as the open transaction sees it.
func (h *heads) get(conn *sqlite.Conn, streamID string) (int64, error) {
	if v, ok := h.tx[streamID]; ok {
		return v, nil
	}
	if v, ok := h.known[streamID]; ok {
		return v, nil
	}
	v, err := streamHead(conn, streamID)
	if err == nil {
		h.known[streamID] = v // committed: the transaction has not written the stream
	}
	return v, err
}

// set records that the open transaction moved the stream to version v.
func (h *heads) set(streamID string, v int64) { h.tx[streamID] = v }

// commit keeps the transaction's versions; rollback drops them.
func (h *heads) commit() {
	for id, v := range h.tx {
		h.known[id] = v
	}
	clear(h.tx)
}

func (h *heads) rollback() { clear(h.tx) }

// forget empties the cache.
func (h *heads) forget() { clear(h.known) }
