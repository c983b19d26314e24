package evstore

// Hooks for the package's external tests (package evstore_test), which can
// use the memory backend.

// SetLimits shrinks a Store's read pages and its notifier's batches and
// ring, so that tests reach paging and eviction with a few events. Call it
// before the Store's first Read or Watch.
func SetLimits(s *Store, readPage, batchSize, ringEvents, ringBytes int) {
	s.readPage = readPage
	s.notifier.batchSize = batchSize
	s.notifier.ringEvents = ringEvents
	s.notifier.ringBytes = ringBytes
}

// Ring describes the notifier's ring: the events and bytes it holds, how
// many batches, and the Sequences its batches start after and end at (0
// when it is empty).
func Ring(s *Store) (events, bytes, batches int, from, to int64) {
	n := s.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.ring) > 0 {
		from, to = n.ring[0].from, n.ring[len(n.ring)-1].to
	}
	return n.events, n.bytes, len(n.ring), from, to
}

// Followers returns how many consumers follow the Store's notifier.
func Followers(s *Store) int {
	n := s.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.followers
}
