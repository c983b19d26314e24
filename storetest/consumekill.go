package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// ConsumeKillDrill is the exactly-once drill of package readmodel, in child
// processes. A child runs a readmodel.Projector under Store.Consume that
// inserts a row per event into a table of the read model with no unique
// constraint, while the test keeps writing events; the test kills the
// child with SIGKILL, kills times, and starts another each time: at a
// random moment within 300ms after it became active or, every other round,
// right after a Handle began, while its transaction is open. At the end a
// last child catches up, and each event must have been applied exactly
// once: no Sequence is in the table twice, none is missing, and the
// Projector's position is the last event. It logs the figures: kills,
// events, how many kills hit a Handle, the time to catch up.
//
// It skips under the race detector: it runs for seconds (a restart waits
// for the killed child's lease, up to d.LeaseTime), and CI runs the tests
// once without it.
func ConsumeKillDrill(t *testing.T, d ConsumeDrill, kills int) {
	skipUnderRace(t)
	began := time.Now()
	s, db := openDrill(t, d)
	w := startDrillWriter(t, s)
	var inHandle, batches, conflicts int
	var waits []time.Duration
	for round := range kills {
		p := d.start(t, drillReadModel, "")
		started := time.Now()
		l, i := p.await(t, time.Minute, 0, "its position", lineKind("position"))
		waits = append(waits, l.at.Sub(started))
		if round%2 == 0 {
			time.Sleep(rand.N(300 * time.Millisecond))
		} else {
			p.await(t, time.Minute, i, "a batch beginning", lineKind("begin"))
			time.Sleep(rand.N(time.Millisecond))
		}
		p.kill(t)
		lines := p.lines()
		if lines[len(lines)-1].kind == "begin" {
			inHandle++
		}
		for _, l := range lines {
			switch l.kind {
			case "batch":
				batches++
			case "error":
				conflicts++
			}
		}
	}
	w.stop(t)
	seqs := drillSequences(t, s)
	last := seqs[len(seqs)-1]

	p := d.start(t, drillReadModel, "")
	started := time.Now()
	l, i := p.await(t, time.Minute, 0, "its position", lineKind("position"))
	from := l.a
	if from != last {
		l, _ = p.await(t, time.Minute, i, fmt.Sprintf("a batch ending at %d", last), func(l drillLine) bool { return l.kind == "batch" && l.b == last })
	}
	catchUp := l.at.Sub(started)
	p.stop(t)

	checkExactlyOnce(t, db, seqs)
	if batches == 0 {
		t.Errorf("the killed children committed no batch: the drill did not run")
	}
	t.Logf("%d kills (%d during a Handle), %d batches committed by the killed children, %d conflicts; %d events from %d writes, each applied once",
		kills, inHandle, batches, conflicts, len(seqs), w.writes)
	t.Logf("restart to active: %s; last child: %d events to catch up in %v (start included); drill %v",
		spread(waits), last-from, catchUp.Round(time.Millisecond), time.Since(began).Round(100*time.Millisecond))
}

// spread describes durations as their minimum, median and maximum.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v, median %v, max %v (%d)", r(ds[0]), r(ds[len(ds)/2]), r(ds[len(ds)-1]), len(ds))
}
