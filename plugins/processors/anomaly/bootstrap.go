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
// History is learned with the same Detector.Update as live points, into a
// model of its own outside the processor's lock, which then takes the
// series' place in the table; the held metrics are then scored in order
// (collect, score, mark, as Add does) and passed on. So a series
// bootstrapped from its complete history scores its live points exactly as
// if it had been streamed whole.
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

// bootstrap is the state of the history bootstrap. Its fields are guarded
// by the processor's mu, but for those set once in Start.
type bootstrap struct {
	client  *history.Client
	maxWait time.Duration
	maxHeld int

	acc    telegraf.Accumulator // Start's: for the metrics released off Add's goroutine
	ctx    context.Context      // canceled by Stop: the fetches still running are dropped
	cancel context.CancelFunc
	wake   chan struct{} // the deadline goroutine: a first series is held
	quit   chan struct{}
	wg     sync.WaitGroup // the deadline goroutine and the fetches
	// emit passes metrics on in the order they were scored: it is taken
	// before mu is released, so a metric released by a goroutine is not
	// overtaken by a later one of its series scored by Add.
	emit sync.Mutex

	series    map[uint64]*pending // by tag set (base key)
	queue     []*pending          // holding, in the order of their deadlines
	gathering map[string]*gather  // per measurement, not sent yet
	holding   int                 // series holding metrics
	held      int                 // metrics held
	kept      int                 // live points kept for rebuilds
	idle      *sync.Cond          // on mu: signalled when holding falls to 0

	backoffUntil time.Time
	failedInRow  int
	lastFailure  error                   // the failure counted last: a query's series share it
	logged       map[history.Reason]bool // reasons logged since the last answered query
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

// newBootstrap makes the client of p's history sub-table.
func newBootstrap(p *Anomaly) (*bootstrap, error) {
	client, err := history.New(&p.History, history.Identity{Tags: p.seriesTags, AnomalyTag: p.AnomalyTag})
	if err != nil {
		return nil, err
	}
	b := &bootstrap{
		client:    client,
		maxWait:   time.Duration(p.History.MaxWait),
		maxHeld:   p.History.MaxHeld,
		wake:      make(chan struct{}, 1),
		series:    make(map[uint64]*pending),
		gathering: make(map[string]*gather),
		logged:    make(map[history.Reason]bool),
	}
	b.idle = sync.NewCond(&p.mu)
	return b, nil
}

// startBootstrap starts the goroutine that releases the series whose max_wait passed.
func (p *Anomaly) startBootstrap(acc telegraf.Accumulator) {
	b := p.boot
	b.acc = acc
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.quit = make(chan struct{})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		p.releaseOnDeadlines()
	}()
}

// addWithHistory is Add when history is on. p.mu is held; it is released here.
func (p *Anomaly) addWithHistory(m telegraf.Metric, base xxhash.Digest, acc telegraf.Accumulator) {
	b := p.boot
	var rec *pending
	if len(b.series) > 0 {
		rec = b.series[base.Sum64()]
	}
	upstream := p.collect(m, base)
	if fresh := p.unknown(rec); len(fresh) > 0 {
		if now := time.Now(); now.Before(b.backoffUntil) {
			p.stats.boot.failure(reasonBackoff).Incr(int64(len(fresh)))
		} else {
			rec = p.request(rec, m, base, fresh, now)
		}
	}
	var out []telegraf.Metric // metrics released before m
	if rec != nil && rec.holding {
		if b.held < b.maxHeld {
			rec.held = append(rec.held, m)
			b.held++
			p.stats.boot.held.Set(int64(b.held))
			p.mu.Unlock()
			return
		}
		// The bound: this tag set goes on in warm-up, m after its held
		// metrics, and is rebuilt when its history comes.
		p.stats.boot.overflow.Incr(int64(len(rec.held)) + 1)
		out = p.release(rec, true)
		upstream = p.recollect(m, base)
	}
	p.scoreAndMark(m, upstream)
	if rec != nil {
		p.keep(rec)
	}
	incidents := p.takeIncidents()
	b.emit.Lock()
	p.mu.Unlock()
	for _, r := range out {
		acc.AddMetric(r)
	}
	acc.AddMetric(m)
	for _, e := range incidents {
		acc.AddMetric(e)
	}
	b.emit.Unlock()
}

// unknown returns the indexes of the collected points whose series have no
// model and no history awaited in rec: new series.
func (p *Anomaly) unknown(rec *pending) []int {
	p.fresh = p.fresh[:0]
	for i := range p.points {
		key := p.points[i].Key
		if !p.table.Has(key) && (rec == nil || rec.find(key) == nil) {
			p.fresh = append(p.fresh, i)
		}
	}
	return p.fresh
}

// request asks for the history of the new series among the points of m (the
// indexes fresh), adding them to rec, which it makes if nil: a tag set that
// holds its metrics while max_wait is above 0.
func (p *Anomaly) request(rec *pending, m telegraf.Metric, base xxhash.Digest, fresh []int, now time.Time) *pending {
	b := p.boot
	if rec == nil {
		rec = &pending{base: base, key: base.Sum64(), holding: b.maxWait > 0, since: now, deadline: now.Add(b.maxWait)}
		if p.calendars != nil {
			for _, t := range m.TagList() { // copied: mark changes the anomaly tag in place
				rec.tags = append(rec.tags, &telegraf.Tag{Key: t.Key, Value: t.Value})
			}
		}
		b.series[rec.key] = rec
		if rec.holding {
			b.holding++
			b.queue = append(b.queue, rec)
			if len(b.queue) == 1 {
				select {
				case b.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	g := b.gathering[m.Name()]
	if g == nil {
		g = &gather{measurement: m.Name()}
		b.gathering[g.measurement] = g
		g.timer = time.AfterFunc(gatherDelay, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.send(g)
		})
	}
	tags := m.Tags()
	start := m.Time().UnixNano()
	if !rec.holding {
		p.stats.boot.late.Incr(int64(len(fresh)))
	}
	for _, i := range fresh {
		w := &want{key: p.points[i].Key, start: start}
		rec.wants = append(rec.wants, w)
		rec.waiting++
		g.series = append(g.series, history.Series{Tags: tags, Field: p.scored[i].Key, Start: start})
		g.wants = append(g.wants, w)
		g.owners = append(g.owners, rec)
	}
	if len(g.series) >= gatherSeries {
		g.timer.Stop()
		p.send(g)
	}
	return rec
}

// send fetches the gathered series on a goroutine of their own, unless they
// were sent already. p.mu is held.
func (p *Anomaly) send(g *gather) {
	b := p.boot
	if b.gathering[g.measurement] != g {
		return
	}
	delete(b.gathering, g.measurement)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		start := time.Now()
		b.client.Fetch(b.ctx, g.measurement, g.series, func(i int, r *history.Result) { p.deliver(g, i, r) })
		p.Log.Debugf("History of %d series of %q read in %s", len(g.series), g.measurement, time.Since(start).Round(time.Millisecond))
	}()
}

// deliver learns the history of the i-th series of g, on the fetching
// goroutine, and installs it in the table; the tag set's held metrics go
// on once its last series is in.
func (p *Anomaly) deliver(g *gather, i int, r *history.Result) {
	w, rec := g.wants[i], g.owners[i]
	var model detector.Model
	learned := 0
	if r.Err == nil && len(r.Points) > 0 {
		start := time.Now()
		// What the calendar says of each point is read under mu, as Add
		// reads it: the calendar caches its last answer (Calendar.At), and
		// housekeeping replaces it when its files change.
		var conds []detector.Condition
		if p.calendars != nil {
			conds = make([]detector.Condition, len(r.Points))
			p.mu.Lock()
			for i, pt := range r.Points {
				conds[i] = p.calendars.condition(rec.tags, pt.Time)
			}
			p.mu.Unlock()
		}
		// Learned outside mu, beside Add: with a detector of its own, as
		// the detector caches the time zone's offset.
		d := p.detector.Fork()
		for i, pt := range r.Points {
			cond := detector.Ordinary
			if conds != nil {
				cond = conds[i]
			}
			if _, err := d.UpdateIn(&model, pt.Time, pt.Value, cond); err == nil {
				learned++
			}
		}
		p.stats.boot.learnNs.Incr(time.Since(start).Nanoseconds())
	}

	b := p.boot
	p.mu.Lock()
	if b.series[rec.key] != rec || w.done { // stopped, or abandoned (maxKeptPoints)
		p.mu.Unlock()
		return
	}
	w.done = true
	rec.waiting--
	switch {
	case r.Err != nil:
		p.failed(r.Err)
	case len(r.Points) == 0:
		p.succeeded()
		p.stats.boot.empty.Incr(1)
	default:
		p.succeeded()
		if rec.holding {
			p.stats.boot.bootstrapped.Incr(1)
		} else {
			// Late: its live points went on in warm-up. The model is the
			// history and the points the warm-up model learned since.
			for _, pt := range w.kept {
				_, _ = p.detector.UpdateIn(&model, pt.Time, pt.Value, pt.Condition)
			}
			p.stats.boot.rebuilt.Incr(1)
		}
		m, created := p.table.Get(w.key, p.wall)
		*m = model
		if created {
			p.stats.onSeriesCreated(p.table)
		}
		p.stats.boot.points.Incr(int64(learned))
	}
	b.kept -= len(w.kept)
	w.kept = nil
	if rec.waiting > 0 {
		p.mu.Unlock()
		return
	}
	b.forget(rec)
	if !rec.holding {
		p.mu.Unlock()
		return
	}
	p.passOn(p.release(rec, false))
}

// release scores the held metrics of rec in order and returns them, each
// followed by its incident events; late says its max_wait passed or its
// metrics went past max_held_metrics, and its series not delivered yet go on
// in warm-up. A tag set with history still awaited stays in b.series, its
// live points kept for a rebuild. p.mu is held.
func (p *Anomaly) release(rec *pending, late bool) []telegraf.Metric {
	b := p.boot
	rec.holding = false
	b.holding--
	if b.holding == 0 {
		b.idle.Broadcast()
	}
	p.stats.boot.latency.Incr(time.Since(rec.since).Nanoseconds())
	if late {
		for _, w := range rec.wants {
			if !w.done {
				p.stats.boot.late.Incr(1)
			}
		}
	}
	out := make([]telegraf.Metric, 0, len(rec.held))
	for _, m := range rec.held {
		p.scoreAndMark(m, p.recollect(m, rec.base))
		p.keep(rec)
		out = append(out, m)
		out = append(out, p.incidents...)
		clear(p.incidents)
		p.incidents = p.incidents[:0]
	}
	b.held -= len(rec.held)
	p.stats.boot.held.Set(int64(b.held))
	clear(rec.held)
	rec.held = nil
	if rec.waiting == 0 {
		b.forget(rec)
	}
	return out
}

// keep keeps the points just scored and learned of rec's series whose
// history is awaited after they went on in warm-up. p.mu is held.
func (p *Anomaly) keep(rec *pending) {
	b := p.boot
	if rec.holding || rec.waiting == 0 {
		return
	}
	for i := range p.points {
		if p.outcomes[i].Err != nil {
			continue
		}
		w := rec.find(p.points[i].Key)
		if w == nil || w.done {
			continue
		}
		if b.kept >= maxKeptPoints {
			p.abandon(rec)
			return
		}
		w.kept = append(w.kept, p.points[i])
		b.kept++
	}
}

// abandon gives up rebuilding rec's series: they keep their warm-up models.
func (p *Anomaly) abandon(rec *pending) {
	b := p.boot
	for _, w := range rec.wants {
		if !w.done {
			w.done = true
			b.kept -= len(w.kept)
			w.kept = nil
			p.stats.boot.failure(reasonOverflow).Incr(1)
		}
	}
	rec.waiting = 0
	b.forget(rec)
}

// forget drops rec, whose history is all in (or given up).
func (b *bootstrap) forget(rec *pending) {
	if b.series[rec.key] == rec {
		delete(b.series, rec.key)
	}
}

// passOn passes out on in order, releasing p.mu once its place in the
// order is taken.
func (p *Anomaly) passOn(out []telegraf.Metric) {
	b := p.boot
	b.emit.Lock()
	p.mu.Unlock()
	for _, m := range out {
		b.acc.AddMetric(m)
	}
	b.emit.Unlock()
}

// releaseOnDeadlines releases the tag sets whose max_wait passed, until
// Stop. Deadlines come in the order series are held (max_wait after), so
// the queue is in their order.
func (p *Anomaly) releaseOnDeadlines() {
	b := p.boot
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		now := time.Now()
		var out []telegraf.Metric
		for len(b.queue) > 0 {
			rec := b.queue[0]
			if rec.holding && rec.deadline.After(now) {
				break
			}
			b.queue[0] = nil
			b.queue = b.queue[1:]
			if rec.holding {
				out = append(out, p.release(rec, true)...)
			}
		}
		next := time.Hour
		if len(b.queue) > 0 {
			next = b.queue[0].deadline.Sub(now)
		}
		if len(out) > 0 {
			p.passOn(out)
		} else {
			p.mu.Unlock()
		}
		timer.Reset(next)
		select {
		case <-b.quit:
			return
		case <-b.wake:
		case <-timer.C:
		}
	}
}

// Drain passes on every metric held for its series' history: it sends the
// series being gathered at once and waits for their history, at most
// max_wait, then returns. Stop drains too; Drain is for a host that closes
// the processor's accumulator before it calls Stop (Telegraf's execd shim,
// see cmd/anomaly-execd). Without history it does nothing.
func (p *Anomaly) Drain() {
	b := p.boot
	if b == nil || b.quit == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range b.gathering {
		g.timer.Stop()
		p.send(g)
	}
	for b.holding > 0 {
		b.idle.Wait()
	}
	// The last release may still be passing its metrics on: it took emit
	// before it let go of mu.
	b.emit.Lock()
	b.emit.Unlock() //nolint:staticcheck // an empty critical section: waiting for the holder is the point
}

// stopBootstrap drains, drops the fetches still running (for rebuilds) and
// waits for every goroutine, so nothing is passed on once Stop returns.
func (p *Anomaly) stopBootstrap() {
	b := p.boot
	if b.quit == nil {
		return
	}
	p.Drain()
	b.cancel()
	close(b.quit)
	b.wg.Wait()
	b.quit = nil
	p.mu.Lock()
	clear(b.series)
	b.kept = 0
	p.mu.Unlock()
	b.client.Close()
}

// failed counts a series whose history could not be read, and, once per
// failed query, backs off; the first failure of each kind since the last
// answered query is logged. p.mu is held.
func (p *Anomaly) failed(err error) {
	b := p.boot
	reason := history.ReasonConnection
	var he *history.Error
	if errors.As(err, &he) {
		reason = he.Reason
	}
	if reason == history.ReasonCanceled { // Stop: the series goes on in warm-up
		return
	}
	p.stats.boot.failure(reason).Incr(1)
	if err == b.lastFailure || reason == history.ReasonUnqueryable {
		return // a query's series share its error; an unqueryable name is the series' own problem
	}
	b.lastFailure = err
	b.failedInRow++
	backoff := min(backoffFirst<<min(b.failedInRow-1, 16), backoffMax)
	b.backoffUntil = time.Now().Add(backoff)
	if !b.logged[reason] {
		b.logged[reason] = true
		p.Log.Errorf("Could not read the history of new series (%v): they warm up live. New series are not fetched for %s "+
			"(doubling with each failed query, up to %s); further failures of this kind are only counted, per series, "+
			"in internal_anomaly.bootstrap_failed_%s", err, backoff, backoffMax, reason)
	}
}

// succeeded ends a run of failed queries. p.mu is held.
func (p *Anomaly) succeeded() {
	b := p.boot
	if b.failedInRow == 0 {
		return
	}
	p.Log.Infof("History is read again after %d failed queries", b.failedInRow)
	b.failedInRow, b.lastFailure, b.backoffUntil = 0, nil, time.Time{}
	clear(b.logged)
}

// publishHistoryStats copies the client's totals to the statistics.
func (p *Anomaly) publishHistoryStats() {
	s := p.boot.client.Stats()
	p.stats.boot.queries.Set(s.Queries)
	p.stats.boot.bytes.Set(s.Bytes)
	p.stats.boot.waitNs.Set(s.Wait.Nanoseconds())
	p.stats.boot.readNs.Set(s.Read.Nanoseconds())
}
