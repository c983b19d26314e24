package readmodel

import "time"

// SetTimeouts sets the bounds of p's PostgreSQL transactions, which are
// LockTimeout and IdleTimeout otherwise, so that tests of them run in a
// fraction of a second.
func SetTimeouts(p *Projector, lock, idle time.Duration) { p.p.SetTimeouts(lock, idle) }
