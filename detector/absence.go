package detector

import (
	"fmt"
	"math"
	"time"
)

// A series that stops reporting is the most common outage of all (a host or
// an exporter dies), and no point arrives to be scored: it is found by a
// sweep over the Table instead.
//
// Each series' entry learns its usual interval between points, its pace,
// from the points it learns. Event time is judged against the collector's
// watermark: the newest event time seen in the Table's points, less
// Config.AllowedLateness (points of other partitions, or of another
// agent, may lag behind the newest). A series whose last point is
// Config.AbsentAfter of its intervals behind the watermark is absent: the
// sweep opens an incident with reason Absent for it (started when its
// next points were due), and its next point resolves it (UpdateBatch's
// Outcome.Returned). An incident of another reason still open when its
// series falls silent ends then (Notice.Why: Absent), since no point will
// resolve it.
//
// When many series fall silent together the cause is elsewhere: an agent
// or Kafka stopped, or a Kafka rebalance moved partitions to another
// collector, and one page per series would hide it. So when more than
// Config.AbsentCrowdShare of the series watched are late by half of
// AbsentAfter in one sweep, none of them opens an incident: the sweep
// reports them as a Crowd, and
// remembers when they went silent, so that the series that stopped with
// them (last seen within one of their own intervals of the crowd), found
// by later sweeps, join it quietly too. A series of a crowd that reports
// again is watched again.
//
// A series is watched once it has been learned for its warm-up and has a
// pace. A series whose last point was in maintenance is not watched until
// its next ordinary point: a maintenance window is when hosts stop. A sweep
// is due once the watermark has moved by the shortest pace of the series
// watched (so each series is looked at about once per interval) and at
// least as many points as series have been scored since the last: it reads
// the first cache line of each series' entry, so its cost per point is at
// most one such read (sequential, which the memory system streams), and
// the hot path itself only updates the pace, in the entry line it reads
// anyway.

// pace is a series' usual interval between points, in ns, as the top 16
// bits of a float32 (a bfloat16: within 0.4% of the interval, from
// nanoseconds to years, in two bytes). Its top bit, the float's sign and
// never set by a positive interval, is paceMaintenance. The zero pace is
// unknown (a series of one point).
type pace uint16

// paceMaintenance marks a series whose last point was in maintenance.
const paceMaintenance pace = 1 << 15

// paceRate is the weight of a new interval in the pace, a moving average
// over about the last 8 intervals; a gap counts for at most paceGapCap
// intervals, so that an outage, or a maintenance window, hardly moves it.
const (
	paceRate   = 0.125
	paceGapCap = 2
)

// maxPace bounds a pace, so that maxAbsentAfter of them fit an int64 of ns.
const maxPace = float32(30 * 24 * time.Hour)

// paceOf is the pace of an interval of ns nanoseconds.
func paceOf(ns float32) pace {
	if ns > maxPace { // not min: a comparison, where min handles NaNs
		ns = maxPace
	}
	b := math.Float32bits(ns)
	return pace((b + 1<<15) >> 16) // rounded to the nearest
}

// ns is the pace as a float32 of ns, 0 when unknown. A pace beyond
// maxPace, or not a number, can only come from a snapshot's bytes: it is
// unknown, and the next interval sets it afresh.
func (p pace) ns() float32 {
	ns := math.Float32frombits(uint32(p&^paceMaintenance) << 16)
	if !(ns <= maxPace) {
		return 0
	}
	return ns
}

// interval is the usual interval in ns, 0 when unknown.
func (p pace) interval() int64 { return int64(p.ns()) }

// hear updates the entry's pace with a point at time t in condition c,
// before the model learns it, and ends the series' absent incident if one
// is open, reporting whether it did (the model holds the incident). It is
// on the hot path: float32 arithmetic, and no incident copied but the rare
// one it ends.
func (e *entry) hear(t int64, c Condition) (returned bool) {
	m := &e.model
	if m.n == 0 || t <= m.last {
		return false // nothing to learn from: a first, old or repeated point
	}
	gap := float32(t - m.last)
	switch iv := e.pace.ns(); {
	case c == InMaintenance:
		e.pace |= paceMaintenance
	case iv == 0:
		e.pace = paceOf(gap)
	default:
		if gap > paceGapCap*iv {
			gap = paceGapCap * iv
		}
		e.pace = paceOf(iv + paceRate*(gap-iv))
	}
	if m.calm == closed || m.cause.reason() != Absent {
		return false
	}
	m.calm = closed
	return true
}

// Ending is why an incident ended otherwise than by a point of its series
// (see Notice).
type Ending uint8

// The endings.
const (
	// NotEnded: the notice opens an absent incident.
	NotEnded Ending = iota
	// Silent: its series fell silent (an absent incident replaces it).
	Silent
	// Expired: its series was not seen for the table's time to live.
	Expired
	// Evicted: its series made room for a new one in a full table.
	Evicted
)

var endingNames = [...]string{NotEnded: "", Silent: "absent", Expired: "expired", Evicted: "evicted"}

// String returns the ending's name as the processor writes it.
func (e Ending) String() string {
	if int(e) < len(endingNames) {
		return endingNames[e]
	}
	return fmt.Sprintf("Ending(%d)", uint8(e))
}

// Notice is a change of a series' incident that no point of it makes: an
// absent incident opened by a sweep (Incident.Open), or an incident
// ended because its series fell silent, expired or was evicted (Why).
type Notice struct {
	Key      uint64
	Incident Incident
	Why      Ending
	// LastSeen is the event time of the series' last point learned, ns;
	// Level is the model's level then (its fast moving average: the last
	// value itself is not kept); Lower and Upper are the range of the
	// values it has seen.
	LastSeen            int64
	Level, Lower, Upper float64
}

func (e *entry) notice(inc Incident, why Ending) Notice {
	m := &e.model
	return Notice{Key: e.key, Incident: inc, Why: why, LastSeen: m.last, Level: m.mean, Lower: m.lo, Upper: m.hi()}
}

// Crowd is a sweep's report of series that fell silent together: Series of
// the Watched ones, last seen from From to To (event time, ns).
type Crowd struct {
	Series, Watched int
	From, To        int64
}

// Absence finds the series of a Table that stopped reporting (see the
// top of this file). One Absence watches one Table, whose points it is
// shown (Observe). It is not safe for concurrent use.
type Absence struct {
	after    int64
	lateness int64
	share    float64
	warmup   uint32

	newest int64 // the newest event time observed
	next   int64 // the watermark from which the next sweep is due
	points int   // points observed since the last sweep
	// crowds are the latest crowds' spans of last-seen times, newest first.
	crowds [crowdsKept]struct{ from, to int64 }
	found  []int32 // the sweep's scratch: slots of the series found silent
}

// crowdsKept is how many crowds a sweep remembers: series of an older one
// that are still silent are found again by one sweep, together, and so
// form a crowd again.
const crowdsKept = 4

// sweepEveryPoints is the fewest points between sweeps, as a multiple of
// the series held: a sweep then costs at most 1/sweepEveryPoints of an
// entry read per point. Series that all report once per interval bring as
// many points as series in an interval: they are looked at once per
// interval.
const sweepEveryPoints = 1

// NewAbsence returns the watch of cfg (Config.AbsentAfter and the keys
// beside it), or nil when cfg.AbsentAfter is 0: absence is off.
func NewAbsence(cfg Config) *Absence {
	if cfg.AbsentAfter == 0 {
		return nil
	}
	a := &Absence{
		after: int64(cfg.AbsentAfter), lateness: int64(cfg.AllowedLateness), share: cfg.AbsentCrowdShare,
		warmup: uint32(cfg.WarmupPoints), newest: math.MinInt64, next: math.MinInt64,
	}
	for i := range a.crowds {
		a.crowds[i].from, a.crowds[i].to = math.MaxInt64, math.MinInt64 // an empty span
	}
	return a
}

// Observe notes the event times of points scored in the table. now is the
// wall clock (ns; math.MaxInt64 for a replay): a point more than the
// allowed lateness ahead of it (a host whose clock is wrong) does not move
// the watermark, or every other series would look silent until the clock
// caught up.
func (a *Absence) Observe(points []Point, now int64) {
	limit := now
	if now < math.MaxInt64-a.lateness {
		limit += a.lateness
	}
	for i := range points {
		if t := points[i].Time; t <= limit {
			a.newest = max(a.newest, t)
		}
	}
	a.points += len(points)
}

// Watermark is the newest event time observed less the allowed lateness:
// a series whose next point was due before it is late.
func (a *Absence) Watermark() int64 {
	if a.newest == math.MinInt64 {
		return math.MinInt64
	}
	return a.newest - a.lateness
}

// Sweep looks for series of tab that fell silent, when a sweep is due
// (otherwise it returns at once): it appends a notice to out for each
// absent incident it opens (and, before it, for an incident of the series
// it ends), and returns the crowd it found instead, if any (Crowd.Series
// is 0 when none). The notices' Incident fields are final: a returning
// point resolves the absent incident (Outcome.Returned).
func (a *Absence) Sweep(tab *Table, out []Notice) ([]Notice, Crowd) {
	w := a.Watermark()
	if w == math.MinInt64 || w < a.next || a.points < tab.Len()*sweepEveryPoints {
		return out, Crowd{} // no watermark yet (no point seen in time), or not due
	}
	a.points = 0
	a.found = a.found[:0]
	watched := 0
	shortest := int64(math.MaxInt64)
	var from, to int64 = math.MaxInt64, math.MinInt64
	late := (a.after + 1) / 2
	for i := range tab.entries {
		e := &tab.entries[i]
		m := &e.model
		iv := e.pace.interval()
		if e.used == 0 || e.pace&paceMaintenance != 0 || iv == 0 || m.n < a.warmup {
			continue
		}
		shortest = min(shortest, iv)
		if w-m.last < late*iv {
			watched++
			continue
		}
		if m.calm != closed && m.cause.reason() == Absent || a.crowded(m.last, iv) {
			continue // reported already, or silent with a crowd
		}
		watched++
		a.found = append(a.found, int32(i))
		from, to = min(from, m.last), max(to, m.last)
	}
	if shortest < math.MaxInt64 { // a series watched: the next sweep when it can be due
		a.next = w + max(shortest, int64(time.Millisecond))
	}
	if len(a.found) == 0 {
		return out, Crowd{}
	}
	// The crowd is judged on the series late by half of AbsentAfter, not
	// only on those absent already: series that stop together do not all
	// fall due in one sweep (their paces differ by a little), but all are
	// late by the time the first is due.
	if float64(len(a.found)) > a.share*float64(watched) {
		copy(a.crowds[1:], a.crowds[:])
		a.crowds[0].from, a.crowds[0].to = from, to
		return out, Crowd{Series: len(a.found), Watched: watched, From: from, To: to}
	}
	for _, i := range a.found {
		if e := &tab.entries[i]; w-e.model.last >= a.after*e.pace.interval() {
			out = a.open(e, out)
		}
	}
	return out, Crowd{}
}

// crowded reports whether a series of pace iv last seen at last fell
// silent with a crowd: within one of its intervals of the crowd's span.
func (a *Absence) crowded(last, iv int64) bool {
	for _, c := range a.crowds {
		if last >= c.from-iv && last <= c.to+iv {
			return true
		}
	}
	return false
}

// open opens the absent incident of e's series, ending the incident it
// had open, and appends their notices to out. The incident starts when
// the series' points were first due and did not come.
func (a *Absence) open(e *entry, out []Notice) []Notice {
	m := &e.model
	if inc, ok := m.Incident(); ok && inc.Open {
		inc.Open = false
		out = append(out, e.notice(inc, Silent))
	}
	m.openedAt = m.last + a.after*e.pace.interval()
	m.cause = causeOf(Absent, Both)
	m.calm, m.peak, m.points = 0, 1, 0
	inc, _ := m.Incident()
	return append(out, e.notice(inc, NotEnded))
}
