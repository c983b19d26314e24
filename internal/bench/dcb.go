package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-event-sourcing/evstore"
)

// This file holds the Dynamic Consistency Boundary's workload (Config.DCB,
// "bench --dcb"): the enrolment decider of examples/courses (courses with
// a capacity, students with a limit), each decision a Find of the
// course's and the student's events, a decision, and an append under
// FailIfMatch; and, in the same rounds, single-event writes of the same
// kind of event without tags, with two tags, and with two tags under a
// condition that nothing new matches, so that what tags and conditions
// cost appears as ratios measured side by side.

// The workload's event types, as in examples/courses.
const (
	typeCourseDefined = "CourseDefined"
	typeEnrolled      = "StudentEnrolled"
)

// prefillBatch is how many events one write of the prefill carries, and
// bulkEvents how many the bulk writes of the tags' cost carry.
const (
	prefillBatch = 10_000
	bulkEvents   = 1000
)

// maxDecisionAttempts bounds the retries of one decision: a workload
// whose decisions keep meeting concurrent ones is reported as an error.
const maxDecisionAttempts = 1000

// DCBResults are the figures of the DCB workload: "dcb" in the JSON.
type DCBResults struct {
	// Prefill is how many events the store was grown by before the
	// measurements, at PrefillEventsPerSec; StoreEvents is the store's
	// newest Sequence when they began, StoreEventsAfter when they ended.
	Prefill             int     `json:"prefill"`
	PrefillEventsPerSec float64 `json:"prefill_events_per_sec,omitempty"`
	StoreEvents         int64   `json:"store_events"`
	StoreEventsAfter    int64   `json:"store_events_after"`
	// The decider's figures, as Config gives them.
	Courses      int `json:"courses"`
	Capacity     int `json:"capacity"`
	Students     int `json:"students"`
	StudentLimit int `json:"student_limit"`
	// Rounds is how many times each measurement ran, for RoundSeconds;
	// every rate is the median of the rounds, every ratio the median of
	// the ratios within each round.
	Rounds       int     `json:"rounds"`
	RoundSeconds float64 `json:"round_seconds"`
	// One writer writing bulkEvents events per write, without tags and
	// with two tags per event, and the ratio tagged/untagged.
	BulkUntaggedEventsPerSec float64 `json:"bulk_untagged_events_per_sec"`
	BulkTaggedEventsPerSec   float64 `json:"bulk_tagged_events_per_sec"`
	BulkTagsRatio            float64 `json:"bulk_tags_ratio"`
	// Clients holds the figures of each count of clients (and writers).
	Clients []DCBClients `json:"clients"`
}

// DCBClients are the DCB workload's figures for one count of concurrent
// clients.
type DCBClients struct {
	Clients int `json:"clients"`
	// Enrolment decisions: Find, decide, append under FailIfMatch.
	// Decisions counts them over every round (Enrolled + Refused);
	// Retries counts the appends that failed their condition and were
	// decided again.
	DecisionsPerSec float64 `json:"decisions_per_sec"`
	Decisions       int64   `json:"decisions"`
	Enrolled        int64   `json:"enrolled"`
	Refused         int64   `json:"refused"`
	Retries         int64   `json:"retries"`
	DecisionP50Ms   float64 `json:"decision_p50_ms"`
	DecisionP99Ms   float64 `json:"decision_p99_ms"`
	FindP50Ms       float64 `json:"find_p50_ms"`
	// Writes of one event each, by Clients writers: Stream.Write without
	// tags (untagged) and with two (plain); Store.Append with the same two
	// tags and no condition (unconditional); and with FailIfMatch on the
	// decision's criteria, which nothing new matches (conditional).
	UntaggedAppendsPerSec      float64 `json:"untagged_appends_per_sec"`
	PlainAppendsPerSec         float64 `json:"plain_appends_per_sec"`
	UnconditionalAppendsPerSec float64 `json:"unconditional_appends_per_sec"`
	ConditionalAppendsPerSec   float64 `json:"conditional_appends_per_sec"`
	// ConditionalRatio is conditional/plain, TagsRatio plain/untagged.
	ConditionalRatio float64 `json:"conditional_ratio"`
	TagsRatio        float64 `json:"tags_ratio"`
}

// courseTag and studentTag are the tags of examples/courses.
func courseTag(c string) string  { return "course:" + c }
func studentTag(s string) string { return "student:" + s }

// enrolmentCriteria are the query of an enrolment decision, and its
// condition: the course's definition and enrolments, and the student's
// enrolments.
func enrolmentCriteria(ctag, stag string) evstore.Criteria {
	return evstore.Criteria{
		{Types: []string{typeCourseDefined, typeEnrolled}, Tags: []string{ctag}},
		{Types: []string{typeEnrolled}, Tags: []string{stag}},
	}
}

// enrolment returns a StudentEnrolled event, with its two tags if tagged.
func enrolment(course, student string, tagged bool) evstore.CandidateEvent {
	e := evstore.CandidateEvent{Type: typeEnrolled, Data: []byte(`{"course":"` + course + `","student":"` + student + `"}`)}
	if tagged {
		e.Tags = []string{courseTag(course), studentTag(student)}
	}
	return e
}

// dcbWorkload is the DCB workload on one store.
type dcbWorkload struct {
	store                                   *evstore.Store
	courses, capacity, students, studentCap int
}

func newDCBWorkload(store *evstore.Store, cfg Config) *dcbWorkload {
	return &dcbWorkload{store: store, courses: cfg.Courses, capacity: cfg.Capacity, students: cfg.Students, studentCap: cfg.StudentLimit}
}

// courseName and studentName name course c and student s of the round ns.
func courseName(ns string, c int) string  { return ns + "-c" + strconv.Itoa(c) }
func studentName(ns string, s int) string { return ns + "-s" + strconv.Itoa(s) }

// defineCourses opens the round ns's courses, each in a stream of its
// own, in Appends of up to 500 streams.
func (w *dcbWorkload) defineCourses(ctx context.Context, ns string) error {
	var writes []evstore.StreamWrite
	for c := range w.courses {
		name := courseName(ns, c)
		writes = append(writes, evstore.StreamWrite{StreamID: "course-" + name, Events: []evstore.CandidateEvent{{
			Type: typeCourseDefined,
			Data: []byte(`{"course":"` + name + `","capacity":` + strconv.Itoa(w.capacity) + `}`),
			Tags: []string{courseTag(name)},
		}}})
		if len(writes) == 500 || c == w.courses-1 {
			if _, err := w.store.Append(ctx, writes); err != nil {
				return fmt.Errorf("define courses: %w", err)
			}
			writes = writes[:0]
		}
	}
	return nil
}

// outcome is what one decision did.
type outcome struct {
	enrolled bool
	retries  int
	find     time.Duration // the first attempt's Find
}

// decide enrols student in course if the course has a place and the
// student is under the limit: it finds their events, folds them, and
// appends the enrolment to the student's stream on the condition that no
// event matching the query came after the last one it read; when one did,
// it decides again.
func (w *dcbWorkload) decide(ctx context.Context, course, student string) (outcome, error) {
	ctag, stag := courseTag(course), studentTag(student)
	crit := enrolmentCriteria(ctag, stag)
	var o outcome
	for attempt := 1; ; attempt++ {
		start := time.Now()
		var pos int64
		capacity, inCourse, ofStudent, already := -1, 0, 0, false
		for e, err := range w.store.Find(ctx, crit) {
			if err != nil {
				return o, fmt.Errorf("decide: find: %w", err)
			}
			pos = e.Sequence
			switch e.Type {
			case typeCourseDefined:
				var def struct{ Capacity int }
				if err := json.Unmarshal(e.Data, &def); err != nil {
					return o, fmt.Errorf("decide: event %d: %w", e.Sequence, err)
				}
				capacity = def.Capacity
			case typeEnrolled:
				c, s := slices.Contains(e.Tags, ctag), slices.Contains(e.Tags, stag)
				if c {
					inCourse++
				}
				if s {
					ofStudent++
				}
				already = already || (c && s)
			}
		}
		if attempt == 1 {
			o.find = time.Since(start)
		}
		if capacity < 0 || already || inCourse >= capacity || ofStudent >= w.studentCap {
			return o, nil // refused: no such course, already enrolled, course full, student at the limit
		}
		write := []evstore.StreamWrite{{StreamID: "student-" + student, Events: []evstore.CandidateEvent{enrolment(course, student, true)}}}
		_, err := w.store.Append(ctx, write, evstore.FailIfMatch(crit, pos))
		var ce *evstore.ConditionError
		switch {
		case errors.As(err, &ce):
			if attempt == maxDecisionAttempts {
				return o, fmt.Errorf("decide: %d attempts, each met a concurrent enrolment: %w", attempt, err)
			}
			o.retries++
			continue
		case err != nil:
			return o, fmt.Errorf("decide: append: %w", err)
		}
		o.enrolled = true
		return o, nil
	}
}

// decisionRound is one round of decisions by n clients over d, on the
// courses and students of ns: each client picks a course and a student
// at random and decides, until d is over.
type decisionRound struct {
	decisions, enrolled, retries int64
	perSec                       float64
	latencies, finds             []time.Duration
}

func (w *dcbWorkload) decisions(ctx context.Context, n int, ns string, d time.Duration, seed uint64) (decisionRound, error) {
	if err := w.defineCourses(ctx, ns); err != nil {
		return decisionRound{}, err
	}
	deadline := time.Now().Add(d)
	r, err := w.decideBy(ctx, n, ns, seed, func() bool { return time.Now().Before(deadline) })
	if err != nil {
		return r, err
	}
	return r, w.verify(ctx, ns, r.enrolled)
}

// decideBy has n clients decide on the courses and students of ns, each
// as long as more says so, and returns what they did.
func (w *dcbWorkload) decideBy(ctx context.Context, n int, ns string, seed uint64, more func() bool) (decisionRound, error) {
	var (
		mu   sync.Mutex
		r    decisionRound
		wg   sync.WaitGroup
		errs = make(chan error, n)
	)
	start := time.Now()
	for client := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(client)))
			var mine decisionRound
			for more() {
				t0 := time.Now()
				o, err := w.decide(ctx, courseName(ns, rng.IntN(w.courses)), studentName(ns, rng.IntN(w.students)))
				if err != nil {
					errs <- err
					return
				}
				mine.latencies = append(mine.latencies, time.Since(t0))
				mine.finds = append(mine.finds, o.find)
				mine.decisions++
				mine.retries += int64(o.retries)
				if o.enrolled {
					mine.enrolled++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			r.decisions += mine.decisions
			r.enrolled += mine.enrolled
			r.retries += mine.retries
			r.latencies = append(r.latencies, mine.latencies...)
			r.finds = append(r.finds, mine.finds...)
		}()
	}
	wg.Wait()
	r.perSec = float64(r.decisions) / time.Since(start).Seconds()
	close(errs)
	return r, <-errs
}

// verify reads back the round ns's enrolments by course: no course holds
// more than its capacity, no student more than the limit, no pair twice,
// and there are as many as the decisions enrolled.
func (w *dcbWorkload) verify(ctx context.Context, ns string, enrolled int64) error {
	perStudent := map[string]int{}
	var total int64
	for c := range w.courses {
		ctag := courseTag(courseName(ns, c))
		n := 0
		seen := map[string]bool{}
		for e, err := range w.store.Find(ctx, evstore.Criteria{{Types: []string{typeEnrolled}, Tags: []string{ctag}}}) {
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			n++
			for _, t := range e.Tags {
				if t != ctag {
					if seen[t] {
						return fmt.Errorf("verify: %s enrolled twice in %s", t, ctag)
					}
					seen[t] = true
					if perStudent[t]++; perStudent[t] > w.studentCap {
						return fmt.Errorf("verify: %s holds %d courses, over the limit of %d", t, perStudent[t], w.studentCap)
					}
				}
			}
		}
		if n > w.capacity {
			return fmt.Errorf("verify: %s holds %d students, over its capacity of %d", ctag, n, w.capacity)
		}
		total += int64(n)
	}
	if total != enrolled {
		return fmt.Errorf("verify: %d enrolments stored, %d decisions enrolled", total, enrolled)
	}
	return nil
}

// An appendKind is one of the single-event writes the DCB workload
// compares.
type appendKind int

const (
	appendUntagged      appendKind = iota // Stream.Write, no tags
	appendPlain                           // Stream.Write, two tags
	appendUnconditional                   // Store.Append, two tags
	appendConditional                     // Store.Append, two tags, FailIfMatch
	appendKinds
)

// appends has n writers write one event a call, of kind, for d, and
// returns the events written per second. Writer i writes to a stream of
// its own, with the tags of a course of its own and of one of 100
// students of its own; a conditional write's condition is the enrolment
// decision's criteria on those tags after the writer's last event, which
// nothing new matches, so none fails.
func appends(ctx context.Context, store *evstore.Store, kind appendKind, n int, ns string, d time.Duration) (float64, error) {
	deadline := time.Now().Add(d)
	return appendsBy(ctx, store, kind, n, ns, func() bool { return time.Now().Before(deadline) })
}

// appendsBy has n writers write one event a call, of kind, each as long
// as more says so, and returns the events written per second.
func appendsBy(ctx context.Context, store *evstore.Store, kind appendKind, n int, ns string, more func() bool) (float64, error) {
	var (
		written atomic.Int64
		wg      sync.WaitGroup
		errs    = make(chan error, n)
	)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := appendLoop(ctx, store, kind, ns+"-w"+strconv.Itoa(i), more, &written); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	rate := float64(written.Load()) / time.Since(start).Seconds()
	close(errs)
	return rate, <-errs
}

// appendLoop is one writer of appends.
func appendLoop(ctx context.Context, store *evstore.Store, kind appendKind, name string, more func() bool, written *atomic.Int64) error {
	stream := "writer-" + name
	st, err := store.Stream(ctx, stream)
	if err != nil {
		return err
	}
	var last int64
	for i := 0; more(); i++ {
		student := name + "-s" + strconv.Itoa(i%100)
		events := []evstore.CandidateEvent{enrolment(name, student, kind != appendUntagged)}
		switch kind {
		case appendUntagged, appendPlain:
			_, err = st.Write(ctx, events)
		case appendUnconditional:
			_, err = store.Append(ctx, []evstore.StreamWrite{{StreamID: stream, Events: events}})
		case appendConditional:
			var reports []evstore.WriteReport
			crit := enrolmentCriteria(courseTag(name), studentTag(student))
			reports, err = store.Append(ctx, []evstore.StreamWrite{{StreamID: stream, Events: events}}, evstore.FailIfMatch(crit, last))
			if err == nil {
				last = reports[0].Last
			}
		}
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		written.Add(1)
	}
	return nil
}

// bulk has one writer write bulkEvents events a call, with two tags each
// if tagged, for d, and returns the events written per second.
func bulk(ctx context.Context, store *evstore.Store, tagged bool, ns string, d time.Duration) (float64, error) {
	deadline := time.Now().Add(d)
	return bulkBy(ctx, store, tagged, ns, func() bool { return time.Now().Before(deadline) })
}

// bulkBy has one writer write bulkEvents events a call as long as more
// says so, and returns the events written per second.
func bulkBy(ctx context.Context, store *evstore.Store, tagged bool, ns string, more func() bool) (float64, error) {
	st, err := store.Stream(ctx, "bulk-"+ns)
	if err != nil {
		return 0, err
	}
	var written int
	start := time.Now()
	for k := 0; more(); k++ {
		events := make([]evstore.CandidateEvent, bulkEvents)
		for i := range events {
			n := k*bulkEvents + i
			events[i] = enrolment(ns+"-c"+strconv.Itoa(n%1000), ns+"-s"+strconv.Itoa(n), tagged)
		}
		if _, err := st.Write(ctx, events); err != nil {
			return 0, fmt.Errorf("bulk write: %w", err)
		}
		written += len(events)
	}
	return float64(written) / time.Since(start).Seconds(), nil
}

// prefill grows the store by n enrolments of courses and students no
// round uses, each with their two tags, in writes of prefillBatch events
// by two writers, and returns the events written per second. Every 100
// events share a course and every 10 a student (a million students, then
// they start over), numbered so that each write's tags follow the
// previous write's in the tag index: the prefill is quick, and the tag
// table and index end up with two rows per event. It prints a line to
// out at every tenth.
func prefill(ctx context.Context, store *evstore.Store, n int, out io.Writer) (float64, error) {
	batches := (n + prefillBatch - 1) / prefillBatch
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		errs       = make(chan error, 2)
	)
	start := time.Now()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= batches {
					return
				}
				from := k * prefillBatch
				events := make([]evstore.CandidateEvent, min(prefillBatch, n-from))
				for i := range events {
					seq := from + i
					events[i] = enrolment(fmt.Sprintf("pre-c%07d", seq/100), fmt.Sprintf("pre-s%07d", seq/10%1_000_000), true)
				}
				st, err := store.Stream(ctx, "prefill-"+strconv.Itoa(k))
				if err == nil {
					_, err = st.Write(ctx, events)
				}
				if err != nil {
					errs <- fmt.Errorf("prefill: %w", err)
					return
				}
				if d := done.Add(1); batches >= 10 && d%int64(batches/10) == 0 {
					fmt.Fprintf(out, "  %s of %s events, %.0f s\n", Commas(min(d*prefillBatch, int64(n))), Commas(int64(n)), time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// dcb is the DCB workload's phase: it grows a store of its own by
// cfg.Prefill events, then runs cfg.Rounds rounds, each of which runs, in
// a rotating order, the bulk writes untagged and tagged and, for each
// count of cfg.Clients, the decisions and the four kinds of single-event
// writes, each for cfg.Duration, on courses, students and streams of the
// round's own.
func dcb(ctx context.Context, cfg Config, t target, res *Results, out io.Writer) error {
	store, _, done, err := t.openPhase(ctx, "dcb")
	if err != nil {
		return err
	}
	defer done()
	r := &DCBResults{Prefill: cfg.Prefill, Courses: cfg.Courses, Capacity: cfg.Capacity, Students: cfg.Students,
		StudentLimit: cfg.StudentLimit, Rounds: cfg.Rounds, RoundSeconds: cfg.Duration.Seconds()}
	fmt.Fprintf(out, "\n--- DCB: enrolments in %s courses of %d places by %s students of at most %d courses each ---\n",
		Commas(int64(cfg.Courses)), cfg.Capacity, Commas(int64(cfg.Students)), cfg.StudentLimit)
	if cfg.Prefill > 0 {
		fmt.Fprintf(out, "Prefilling the store with %s tagged events...\n", Commas(int64(cfg.Prefill)))
		if r.PrefillEventsPerSec, err = prefill(ctx, store, cfg.Prefill, out); err != nil {
			return err
		}
		fmt.Fprintf(out, "Prefilled at %s events/sec.\n", commasFloat(r.PrefillEventsPerSec))
	}
	if r.StoreEvents, err = lastSequence(ctx, store); err != nil {
		return err
	}
	fmt.Fprintf(out, "Store of %s events; %d round(s) of %v per measurement.\n", Commas(r.StoreEvents), cfg.Rounds, cfg.Duration)

	w := newDCBWorkload(store, cfg)
	type perClients struct {
		decisions             []float64
		appends               [appendKinds][]float64
		condRatios, tagRatios []float64
		sum                   decisionRound
	}
	per := make([]perClients, len(cfg.Clients))
	var bulkUntagged, bulkTagged, bulkRatios []float64
	for round := range cfg.Rounds {
		// The round's measurements: the bulk pair, then per count of
		// clients the decisions and the four writes.
		type step func() error
		var steps []step
		ns := func(what string) string { return fmt.Sprintf("r%d-%s", round, what) }
		var bu, bt float64
		steps = append(steps,
			func() (err error) { bu, err = bulk(ctx, store, false, ns("bulk-untagged"), cfg.Duration); return err },
			func() (err error) { bt, err = bulk(ctx, store, true, ns("bulk-tagged"), cfg.Duration); return err })
		rates := make([][appendKinds]float64, len(cfg.Clients))
		for ci, n := range cfg.Clients {
			steps = append(steps, func() error {
				d, err := w.decisions(ctx, n, ns(fmt.Sprintf("%d-n%d", ci, n)), cfg.Duration, uint64(round))
				if err != nil {
					return err
				}
				p := &per[ci]
				p.decisions = append(p.decisions, d.perSec)
				p.sum.decisions += d.decisions
				p.sum.enrolled += d.enrolled
				p.sum.retries += d.retries
				p.sum.latencies = append(p.sum.latencies, d.latencies...)
				p.sum.finds = append(p.sum.finds, d.finds...)
				return nil
			})
			for kind := range appendKinds {
				steps = append(steps, func() (err error) {
					rates[ci][kind], err = appends(ctx, store, kind, n, ns(fmt.Sprintf("%d-n%d-k%d", ci, n, kind)), cfg.Duration)
					return err
				})
			}
		}
		// Rotate the order from round to round, so that no measurement
		// always runs on the store the previous one grew.
		for i := range steps {
			if err := steps[(i+round)%len(steps)](); err != nil {
				return err
			}
		}
		bulkUntagged, bulkTagged = append(bulkUntagged, bu), append(bulkTagged, bt)
		bulkRatios = append(bulkRatios, bt/bu)
		for ci := range cfg.Clients {
			p := &per[ci]
			for kind := range appendKinds {
				p.appends[kind] = append(p.appends[kind], rates[ci][kind])
			}
			p.condRatios = append(p.condRatios, rates[ci][appendConditional]/rates[ci][appendPlain])
			p.tagRatios = append(p.tagRatios, rates[ci][appendPlain]/rates[ci][appendUntagged])
		}
		fmt.Fprintf(out, "  round %d of %d done\n", round+1, cfg.Rounds)
	}
	r.BulkUntaggedEventsPerSec, r.BulkTaggedEventsPerSec, r.BulkTagsRatio = median(bulkUntagged), median(bulkTagged), median(bulkRatios)
	for ci, n := range cfg.Clients {
		p := &per[ci]
		c := DCBClients{
			Clients:                    n,
			DecisionsPerSec:            median(p.decisions),
			Decisions:                  p.sum.decisions,
			Enrolled:                   p.sum.enrolled,
			Refused:                    p.sum.decisions - p.sum.enrolled,
			Retries:                    p.sum.retries,
			UntaggedAppendsPerSec:      median(p.appends[appendUntagged]),
			PlainAppendsPerSec:         median(p.appends[appendPlain]),
			UnconditionalAppendsPerSec: median(p.appends[appendUnconditional]),
			ConditionalAppendsPerSec:   median(p.appends[appendConditional]),
			ConditionalRatio:           median(p.condRatios),
			TagsRatio:                  median(p.tagRatios),
		}
		c.DecisionP50Ms, c.DecisionP99Ms = percentiles(p.sum.latencies)
		c.FindP50Ms, _ = percentiles(p.sum.finds)
		r.Clients = append(r.Clients, c)
	}
	if r.StoreEventsAfter, err = lastSequence(ctx, store); err != nil {
		return err
	}
	res.DCB = r
	printDCB(out, r)
	return nil
}

// lastSequence returns the store's newest Sequence.
func lastSequence(ctx context.Context, store *evstore.Store) (int64, error) {
	all, err := store.Stream(ctx, evstore.All)
	if err != nil {
		return 0, err
	}
	return all.Version(), nil
}

// printDCB prints the DCB workload's report.
func printDCB(out io.Writer, r *DCBResults) {
	fmt.Fprintf(out, "Medians of %d round(s); the store grew from %s to %s events.\n", r.Rounds, Commas(r.StoreEvents), Commas(r.StoreEventsAfter))
	fmt.Fprintln(out, "Decisions (Find + decide + Append with FailIfMatch, retried on a ConditionError):")
	for _, c := range r.Clients {
		fmt.Fprintf(out, "  %2d client(s): %s decisions/sec (p50 %.2f ms, p99 %.2f ms; Find p50 %.2f ms); %s enrolled, %s refused, %s retries\n",
			c.Clients, commasFloat(c.DecisionsPerSec), c.DecisionP50Ms, c.DecisionP99Ms, c.FindP50Ms,
			Commas(c.Enrolled), Commas(c.Refused), Commas(c.Retries))
	}
	fmt.Fprintln(out, "Writes of one event (events/sec): untagged, two tags (plain), Store.Append, Store.Append with FailIfMatch:")
	for _, c := range r.Clients {
		fmt.Fprintf(out, "  %2d writer(s): %s, %s, %s, %s; conditional/plain %.2f, tagged/untagged %.2f\n",
			c.Clients, commasFloat(c.UntaggedAppendsPerSec), commasFloat(c.PlainAppendsPerSec),
			commasFloat(c.UnconditionalAppendsPerSec), commasFloat(c.ConditionalAppendsPerSec), c.ConditionalRatio, c.TagsRatio)
	}
	fmt.Fprintf(out, "Writes of %d events, one writer: untagged %s, two tags %s events/sec (tagged/untagged %.2f).\n",
		bulkEvents, commasFloat(r.BulkUntaggedEventsPerSec), commasFloat(r.BulkTaggedEventsPerSec), r.BulkTagsRatio)
}
