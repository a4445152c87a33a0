package anomaly

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/telegraf"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history"
)

// With [processors.anomaly.history], a series the processor has no model
// for (first seen since start or restore, evicted or expired) is learned from
// its recent history in InfluxDB before its first live point is scored, so
// it is scored from that point on instead of warming up.
//
// Series are held per tag set: the metrics of a measurement and identifying
// tags (identify's base key, which all their fields share) wait together, in
// order, until every new field's history is learned or max_wait has passed.
// New series are gathered per measurement for a moment (gatherDelay,
// gatherSeries) and fetched together on a goroutine of their own; the client
// bounds the queries in flight. Known series never wait: a metric whose tag
// set holds nothing goes on at once.
//
// The loader is a type of its own beside the processor: it shares the
// processor's Scorer and the lock that guards it (with the housekeeping),
// and passes metrics on in the order they were scored (ordered.go), whichever
// goroutine scored them: Add's, a fetch's or the one that watches max_wait.
// History is learned with the same Detector.Update as live points, into a
// model of its own outside the lock, which then takes the series' place in
// the table; the held metrics are then scored in order (collect, score,
// mark, as Score does) and passed on. So a series bootstrapped from its
// complete history scores its live points exactly as if it had been
// streamed whole.
//
// A series whose history has not come after max_wait (or that could not be
// held: max_held_metrics metrics are held, or max_wait is 0) goes on in
// warm-up, and its fetch goes on: the points its warm-up model learns are
// kept meanwhile (maxKeptPoints in all), and when the history comes the
// series' model is rebuilt from the history and those points, which is
// again the model of the series streamed whole. No second query, and no
// wait for the live points to reach the database.
//
// Failures (InfluxDB down, slow, answering errors or garbage, refusing the
// credentials) release the series at once, to warm up live; the reason is
// counted per series and logged once until a query succeeds again, and new
// series are not fetched for a backoff that doubles with each failed query.

// How new series are gathered into one Fetch. Not settings: the client
// cuts a Fetch into statements of at most 500 series anyway.
const (
	gatherDelay  = 100 * time.Millisecond
	gatherSeries = 500
)

// The backoff after a failed query: new series are not fetched (they warm
// up live) for this long, doubled for each failed query in a row.
const (
	backoffFirst = time.Second
	backoffMax   = time.Minute
)

// maxKeptPoints bounds the live points kept for the series whose history
// comes after they went on in warm-up, 32 bytes each: 32 MB. A series that
// would pass it is not rebuilt (bootstrap_failed_overflow).
const maxKeptPoints = 1 << 20

// loader is the history bootstrap: it scores the metrics of the processor
// with history on, and holds those of new series while their history is read.
// Its fields are guarded by mu, but for those set once in newLoader and start.
type loader struct {
	client  *history.Client
	maxWait time.Duration
	timeout time.Duration
	maxHeld int
	log     telegraf.Logger
	now     func() time.Time // the processor's clock
	stats   *bootStats

	// mu guards the scorer, shared with the processor's housekeeping, and
	// the loader's state below.
	mu     *sync.Mutex
	scorer *Scorer
	// order passes metrics on in the order they were scored: a turn is
	// taken under mu, so a metric released by a goroutine is not overtaken
	// by a later one of its series scored by Add.
	order ordered
	idle  *sync.Cond // on mu: signalled when holding falls to 0

	acc    telegraf.Accumulator // start's: for the metrics released off Add's goroutine
	ctx    context.Context      // canceled by stop: the fetches still running are dropped
	cancel context.CancelFunc
	wake   chan struct{} // the deadline goroutine: a first series is held
	quit   chan struct{}
	wg     sync.WaitGroup // the deadline goroutine and the fetches

	series    map[uint64]*pending // by tag set (base key)
	queue     []*pending          // holding, in the order of their deadlines
	gathering map[string]*gather  // per measurement, not sent yet
	holding   int                 // series holding metrics
	held      int                 // metrics held
	kept      int                 // live points kept for rebuilds
	fresh     []int               // scratch: the points of new series

	backoffUntil time.Time
	failedInRow  int
	lastFailure  error                   // the failure counted last: a query's series share it
	logged       map[history.Reason]bool // reasons logged since the last answered query
	waitLogged   bool                    // a max_wait passed with history unanswered was logged since then
}

// pending is a tag set with series whose history is awaited.
type pending struct {
	base     xxhash.Digest
	key      uint64
	tags     []*telegraf.Tag // of its first metric: what the calendar says of its history goes by them
	wants    []*want
	waiting  int // wants not delivered yet
	holding  bool
	held     []telegraf.Metric
	since    time.Time // when it started holding
	deadline time.Time
}

// want is one series (a field of the tag set) whose history is awaited.
type want struct {
	key   uint64 // the series' key in the table
	start int64  // t0: the event time of its first live point
	done  bool
	// kept are the points the series' warm-up model learned since it went
	// on without its history, to rebuild the model when the history comes.
	kept []detector.Point
}

// find returns the want of the series key, or nil.
func (r *pending) find(key uint64) *want {
	for _, w := range r.wants {
		if w.key == key {
			return w
		}
	}
	return nil
}

// gather is the new series of one measurement, fetched together.
type gather struct {
	measurement string
	series      []history.Series
	wants       []*want
	owners      []*pending
	timer       *time.Timer
}

// newLoader makes the loader of the history sub-table cfg, scoring with s
// under mu, on the clock now.
func newLoader(cfg *history.Config, s *Scorer, mu *sync.Mutex, now func() time.Time, log telegraf.Logger) (*loader, error) {
	client, err := history.New(cfg, history.Identity{Tags: s.seriesTags, AnomalyTag: s.anomalyTag})
	if err != nil {
		return nil, err
	}
	l := &loader{
		client:    client,
		maxWait:   time.Duration(cfg.MaxWait),
		timeout:   time.Duration(cfg.Timeout),
		maxHeld:   cfg.MaxHeld,
		log:       log,
		now:       now,
		stats:     s.stats.boot,
		mu:        mu,
		scorer:    s,
		idle:      sync.NewCond(mu),
		wake:      make(chan struct{}, 1),
		series:    make(map[uint64]*pending),
		gathering: make(map[string]*gather),
		logged:    make(map[history.Reason]bool),
	}
	l.order.init()
	return l, nil
}

// start starts the goroutine that releases the series whose max_wait
// passed; the metrics released off Add's goroutine go to acc.
func (l *loader) start(acc telegraf.Accumulator) {
	l.acc = acc
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.quit = make(chan struct{})
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.releaseOnDeadlines()
	}()
}

// add is the processor's Add with history on: m is scored and passed on to
// acc, after the metrics it releases, or held while the history of its
// new series is read.
func (l *loader) add(m telegraf.Metric, acc telegraf.Accumulator) {
	s := l.scorer
	base := s.identify(m)
	l.mu.Lock()
	var rec *pending
	if len(l.series) > 0 {
		rec = l.series[base.Sum64()]
	}
	upstream := s.collect(m, base)
	if fresh := l.unknown(rec); len(fresh) > 0 {
		if now := l.now(); now.Before(l.backoffUntil) {
			l.stats.failure(reasonBackoff).Incr(int64(len(fresh)))
		} else {
			rec = l.request(rec, m, base, fresh, now)
		}
	}
	var before []telegraf.Metric // metrics released before m
	if rec != nil && rec.holding {
		if l.held < l.maxHeld {
			rec.held = append(rec.held, m)
			l.held++
			l.stats.held.Set(int64(l.held))
			l.mu.Unlock()
			return
		}
		// The bound: this tag set goes on in warm-up, m after its held
		// metrics, and is rebuilt when its history comes.
		l.stats.overflow.Incr(int64(len(rec.held)) + 1)
		before = l.release(rec, true)
		upstream = s.recollect(m, base)
	}
	s.scoreAndMark(m, upstream)
	if rec != nil {
		l.keep(rec)
	}
	incidents := s.appendIncidents(nil)
	turn := l.order.take()
	l.mu.Unlock()
	l.order.pass(turn, func() {
		for _, r := range before {
			acc.AddMetric(r)
		}
		acc.AddMetric(m)
		for _, e := range incidents {
			acc.AddMetric(e)
		}
	})
}

// unknown returns the indexes of the collected points whose series have no
// model and no history awaited in rec: new series.
func (l *loader) unknown(rec *pending) []int {
	s := l.scorer
	l.fresh = l.fresh[:0]
	for i := range s.points {
		key := s.points[i].Key
		if !s.table.Has(key) && (rec == nil || rec.find(key) == nil) {
			l.fresh = append(l.fresh, i)
		}
	}
	return l.fresh
}

// request asks for the history of the new series among the points of m (the
// indexes fresh), adding them to rec, which it makes if nil: a tag set that
// holds its metrics while max_wait is above 0.
func (l *loader) request(rec *pending, m telegraf.Metric, base xxhash.Digest, fresh []int, now time.Time) *pending {
	s := l.scorer
	if rec == nil {
		rec = &pending{base: base, key: base.Sum64(), holding: l.maxWait > 0, since: now, deadline: now.Add(l.maxWait)}
		if s.calendars != nil {
			for _, t := range m.TagList() { // copied: mark changes the anomaly tag in place
				rec.tags = append(rec.tags, &telegraf.Tag{Key: t.Key, Value: t.Value})
			}
		}
		l.series[rec.key] = rec
		if rec.holding {
			l.holding++
			l.queue = append(l.queue, rec)
			if len(l.queue) == 1 {
				select {
				case l.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	g := l.gathering[m.Name()]
	if g == nil {
		g = &gather{measurement: m.Name()}
		l.gathering[g.measurement] = g
		g.timer = time.AfterFunc(gatherDelay, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.send(g)
		})
	}
	tags := m.Tags()
	start := m.Time().UnixNano()
	if !rec.holding {
		l.stats.late.Incr(int64(len(fresh)))
	}
	for _, i := range fresh {
		w := &want{key: s.points[i].Key, start: start}
		rec.wants = append(rec.wants, w)
		rec.waiting++
		g.series = append(g.series, history.Series{Tags: tags, Field: s.scored[i].Key, Start: start})
		g.wants = append(g.wants, w)
		g.owners = append(g.owners, rec)
	}
	if len(g.series) >= gatherSeries {
		g.timer.Stop()
		l.send(g)
	}
	return rec
}

// send fetches the gathered series on a goroutine of their own, unless they
// were sent already. mu is held.
func (l *loader) send(g *gather) {
	if l.gathering[g.measurement] != g {
		return
	}
	delete(l.gathering, g.measurement)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		start := l.now()
		l.client.Fetch(l.ctx, g.measurement, g.series, func(i int, r *history.Result) { l.deliver(g, i, r) })
		l.log.Debugf("History of %d series of %q read in %s", len(g.series), g.measurement, l.now().Sub(start).Round(time.Millisecond))
	}()
}

// deliver learns the history of the i-th series of g, on the fetching
// goroutine, and installs it in the table; the tag set's held metrics go
// on once its last series is in.
func (l *loader) deliver(g *gather, i int, r *history.Result) {
	w, rec := g.wants[i], g.owners[i]
	model, learned := l.learn(rec, r)
	l.mu.Lock()
	out := l.install(rec, w, r, &model, learned)
	if out == nil {
		l.mu.Unlock()
		return
	}
	turn := l.order.take()
	l.mu.Unlock()
	l.passOn(turn, out)
}

// learn learns the points of r, the history of a series of rec, into a
// model of its own, outside mu, and returns it and how many points it
// learned.
func (l *loader) learn(rec *pending, r *history.Result) (model detector.Model, learned int) {
	if r.Err != nil || len(r.Points) == 0 {
		return model, 0
	}
	s := l.scorer
	start := l.now()
	// What the calendar says of each point is read under mu, as Score
	// reads it: the calendar caches its last answer (Calendar.At), and
	// housekeeping replaces it when its files change. The points are
	// learned outside mu, beside Score, with a detector of its own, as the
	// detector caches the time zone's offset: forked under mu too, since
	// Score writes that cache.
	var conds []detector.Condition
	l.mu.Lock()
	d := s.detector.Fork()
	if s.calendars != nil {
		conds = make([]detector.Condition, len(r.Points))
		for i, pt := range r.Points {
			conds[i] = s.calendars.condition(rec.tags, pt.Time)
		}
	}
	l.mu.Unlock()
	for i, pt := range r.Points {
		cond := detector.Ordinary
		if conds != nil {
			cond = conds[i]
		}
		if _, err := d.UpdateIn(&model, pt.Time, pt.Value, cond); err == nil {
			learned++
		}
	}
	l.stats.learnNs.Incr(l.now().Sub(start).Nanoseconds())
	return model, learned
}

// install counts the history r of w, a series of rec, and puts its model
// (learned points of it) in the table; it returns the held metrics of rec,
// scored, once its last series is in, to pass on. mu is held.
func (l *loader) install(rec *pending, w *want, r *history.Result, model *detector.Model, learned int) []telegraf.Metric {
	s := l.scorer
	if l.series[rec.key] != rec || w.done { // stopped, or abandoned (maxKeptPoints)
		return nil
	}
	w.done = true
	rec.waiting--
	switch {
	case r.Err != nil:
		l.failed(r.Err)
	case len(r.Points) == 0:
		l.succeeded()
		l.stats.empty.Incr(1)
	default:
		l.succeeded()
		if rec.holding {
			l.stats.bootstrapped.Incr(1)
		} else {
			// Late: its live points went on in warm-up. The model is the
			// history and the points the warm-up model learned since.
			for _, pt := range w.kept {
				_, _ = s.detector.UpdateIn(model, pt.Time, pt.Value, pt.Condition)
			}
			l.stats.rebuilt.Incr(1)
		}
		m, created := s.table.Get(w.key, s.wall)
		*m = *model
		if created {
			s.stats.onSeriesCreated(s.table)
		}
		l.stats.points.Incr(int64(learned))
	}
	l.kept -= len(w.kept)
	w.kept = nil
	if rec.waiting > 0 {
		return nil
	}
	l.forget(rec)
	if !rec.holding {
		return nil
	}
	return l.release(rec, false)
}

// release scores the held metrics of rec in order and returns them, each
// followed by its incident events; late says its max_wait passed or its
// metrics went past max_held_metrics, and its series not delivered yet go on
// in warm-up. A tag set with history still awaited stays in l.series, its
// live points kept for a rebuild. mu is held.
func (l *loader) release(rec *pending, late bool) []telegraf.Metric {
	s := l.scorer
	rec.holding = false
	l.holding--
	if l.holding == 0 {
		l.idle.Broadcast()
	}
	l.stats.latency.Incr(l.now().Sub(rec.since).Nanoseconds())
	if late {
		for _, w := range rec.wants {
			if !w.done {
				l.stats.late.Incr(1)
			}
		}
	}
	out := make([]telegraf.Metric, 0, len(rec.held))
	for _, m := range rec.held {
		s.scoreAndMark(m, s.recollect(m, rec.base))
		l.keep(rec)
		out = s.appendIncidents(append(out, m))
	}
	l.held -= len(rec.held)
	l.stats.held.Set(int64(l.held))
	clear(rec.held)
	rec.held = nil
	if rec.waiting == 0 {
		l.forget(rec)
	}
	return out
}

// keep keeps the points just scored and learned of rec's series whose
// history is awaited after they went on in warm-up. mu is held.
func (l *loader) keep(rec *pending) {
	s := l.scorer
	if rec.holding || rec.waiting == 0 {
		return
	}
	for i := range s.points {
		if s.outcomes[i].Err != nil {
			continue
		}
		w := rec.find(s.points[i].Key)
		if w == nil || w.done {
			continue
		}
		if l.kept >= maxKeptPoints {
			l.abandon(rec)
			return
		}
		w.kept = append(w.kept, s.points[i])
		l.kept++
	}
}

// abandon gives up rebuilding rec's series: they keep their warm-up models.
func (l *loader) abandon(rec *pending) {
	for _, w := range rec.wants {
		if !w.done {
			w.done = true
			l.kept -= len(w.kept)
			w.kept = nil
			l.stats.failure(reasonOverflow).Incr(1)
		}
	}
	rec.waiting = 0
	l.forget(rec)
}

// forget drops rec, whose history is all in (or given up).
func (l *loader) forget(rec *pending) {
	if l.series[rec.key] == rec {
		delete(l.series, rec.key)
	}
}

// passOn passes out on to start's accumulator in its turn.
func (l *loader) passOn(turn uint64, out []telegraf.Metric) {
	l.order.pass(turn, func() {
		for _, m := range out {
			l.acc.AddMetric(m)
		}
	})
}

// releaseOnDeadlines releases the tag sets whose max_wait passed, until
// stop. Deadlines come in the order series are held (max_wait after), so
// the queue is in their order.
func (l *loader) releaseOnDeadlines() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.mu.Lock()
		now := l.now()
		var out []telegraf.Metric
		for len(l.queue) > 0 {
			rec := l.queue[0]
			if rec.holding && rec.deadline.After(now) {
				break
			}
			l.queue[0] = nil
			l.queue = l.queue[1:]
			if rec.holding {
				l.noteMaxWait(rec)
				out = append(out, l.release(rec, true)...)
			}
		}
		next := time.Hour
		if len(l.queue) > 0 {
			next = l.queue[0].deadline.Sub(now)
		}
		var turn uint64
		if len(out) > 0 {
			turn = l.order.take()
		}
		l.mu.Unlock()
		if len(out) > 0 {
			l.passOn(turn, out)
		}
		timer.Reset(next)
		select {
		case <-l.quit:
			return
		case <-l.wake:
		case <-timer.C:
		}
	}
}

// drain passes on every metric held: it sends the series being gathered at
// once, waits for their history, at most max_wait, and for the metrics
// released to be passed on.
func (l *loader) drain() {
	if l.quit == nil {
		return
	}
	l.mu.Lock()
	for _, g := range l.gathering {
		g.timer.Stop()
		l.send(g)
	}
	for l.holding > 0 {
		l.idle.Wait()
	}
	l.mu.Unlock()
	// The last release may still be passing its metrics on: it took its
	// turn before it let go of mu.
	l.order.wait()
}

// stop drains, drops the fetches still running (for rebuilds) and waits
// for every goroutine, so nothing is passed on once it has returned.
func (l *loader) stop() {
	if l.quit == nil {
		return
	}
	l.drain()
	l.cancel()
	close(l.quit)
	l.wg.Wait()
	l.quit = nil
	l.mu.Lock()
	clear(l.series)
	l.kept = 0
	l.mu.Unlock()
	l.client.Close()
}

// failed counts a series whose history could not be read, and, once per
// failed query, backs off; the first failure of each kind since the last
// answered query is logged. mu is held.
func (l *loader) failed(err error) {
	reason := history.ReasonConnection
	var he *history.Error
	if errors.As(err, &he) {
		reason = he.Reason
	}
	if reason == history.ReasonCanceled { // stop: the series goes on in warm-up
		return
	}
	l.stats.failure(reason).Incr(1)
	if err == l.lastFailure || reason == history.ReasonUnqueryable { //nolint:errorlint // the very error value a query's series share
		return // a query's series share its error; an unqueryable name is the series' own problem
	}
	l.lastFailure = err
	l.failedInRow++
	backoff := min(backoffFirst<<min(l.failedInRow-1, 16), backoffMax)
	l.backoffUntil = l.now().Add(backoff)
	if !l.logged[reason] {
		l.logged[reason] = true
		l.log.Errorf("Could not read the history of new series (%v): they warm up live. New series are not fetched for %s "+
			"(doubling with each failed query, up to %s); further failures of this kind are only counted, per series, "+
			"in internal_anomaly.bootstrap_failed_%s", err, backoff, backoffMax, reason)
	}
}

// noteMaxWait logs, once until a query is answered again, that max_wait
// passed for rec with its history not answered (the database is slow or
// hung): its metrics go on in warm-up now. mu is held.
func (l *loader) noteMaxWait(rec *pending) {
	if rec.waiting == 0 || l.waitLogged {
		return
	}
	l.waitLogged = true
	l.log.Warnf("The history of new series was not answered within max_wait (%s): their metrics go on in warm-up, and their models "+
		"are rebuilt if it comes within timeout (%s). The database is slow or hung; further series are only counted "+
		"in internal_anomaly.bootstrap_late", l.maxWait, l.timeout)
}

// succeeded ends a run of failed queries. mu is held.
func (l *loader) succeeded() {
	l.waitLogged = false
	if l.failedInRow == 0 {
		return
	}
	l.log.Infof("History is read again after %d failed queries", l.failedInRow)
	l.failedInRow, l.lastFailure, l.backoffUntil = 0, nil, time.Time{}
	clear(l.logged)
}

// publishStats copies the client's totals to the statistics. mu is held.
func (l *loader) publishStats() {
	c := l.client.Stats()
	l.stats.queries.Set(c.Queries)
	l.stats.bytes.Set(c.Bytes)
	l.stats.waitNs.Set(c.Wait.Nanoseconds())
	l.stats.readNs.Set(c.Read.Nanoseconds())
}
