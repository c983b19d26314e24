package evstore

import "fmt"

// A condition makes a write depend on what it was decided from: the
// events that Criteria selected, up to a Sequence. If any event matching
// the Criteria has been committed since, the decision may be stale, and
// the write fails with a *ConditionError; read again, decide again, and
// retry, as after a ConflictError.

// FailIfMatch makes a Write or an Append fail with a *ConditionError if
// any event matching c has a Sequence above after: an event the decision
// did not see. The check is made in the database, inside the write's
// transaction, against committed events and the events of the writes
// committed before it in the same group, so two concurrent writes whose
// conditions each match the other's events never both succeed. A write
// whose events all exist already (by key) is a retry of one that went
// through and succeeds whatever the condition. c must not be empty, and
// after must not be negative (ErrInvalidArgument).
func FailIfMatch(c Criteria, after int64) WriteOption {
	return func(w *writeConfig) {
		w.cond = &Condition{Criteria: c, After: after}
	}
}

// A Condition is FailIfMatch's, as a Backend receives it.
type Condition struct {
	Criteria Criteria // at least one Criterion; tags sorted
	After    int64    // the Sequence up to which the decision saw
}

// check returns the condition validated, its Criteria normalized.
func (c *Condition) check() (*Condition, error) {
	if c == nil {
		return nil, nil
	}
	if c.After < 0 {
		return nil, fmt.Errorf("%w: FailIfMatch after %d is negative", ErrInvalidArgument, c.After)
	}
	crit, err := c.Criteria.normal()
	if err != nil {
		return nil, fmt.Errorf("FailIfMatch: %w", err)
	}
	return &Condition{Criteria: crit, After: c.After}, nil
}

// A ConditionError is the error of a write whose FailIfMatch condition
// failed: an event matching its Criteria was committed after After.
// Nothing was written. errors.Is(err, ErrConflict) holds, so code that
// retries on conflicts retries on it too.
type ConditionError struct {
	After int64 // the condition's after
	Match int64 // the Sequence of the first matching event above it
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("evstore: condition failed: event %d matches the criteria, after %d", e.Match, e.After)
}

// Is reports whether target is ErrConflict.
func (e *ConditionError) Is(target error) bool { return target == ErrConflict }
