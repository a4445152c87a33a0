package anomaly

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/selfstat"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// A series that stops reporting opens an incident with reason absent (the
// detector's Absence finds it, see detector/absence.go), and an incident
// still open when its series falls silent, expires or is evicted ends with
// an event saying why. No point of the series carries these events, so the
// processor keeps each series' name (its measurement, identifying tags and
// field) to tag them: a series first seen since the last start is named by
// its first point; one restored from the state file by its next one.

// silence is the processor's side of absence: the detector's watch, the
// series' names, and its counters. Its methods run under the scorer's lock.
type silence struct {
	watch *detector.Absence // nil: absent_after = 0, only endings are reported
	// names holds the name of each series in the table, or of most: a
	// series restored from the state file, or learned from its history, is
	// named by its next point; names may hold series that left the table,
	// until the next prune.
	names map[uint64]seriesName
	// expiries and evictions are the table's counts at the last prune;
	// returned counts the series that left since and came back, whose
	// names are theirs again.
	expiries, evictions uint64
	returned            int
	notices             []detector.Notice

	absent, together, crowds, expired, evicted, unnamed selfstat.Stat
}

// seriesName is what an incident event says of its series.
type seriesName struct {
	metric *metricName // shared by the fields of a metric
	field  string
}

// metricName is a scored metric's name and identifying tags, as keys and
// values in turn: a map would cost several times the bytes, for the few
// events that read it. Its strings are copies: a parser's may share the
// memory of a whole batch.
type metricName struct {
	measurement string
	tags        []string
}

func newSilence(st *stats, cfg detector.Config) *silence {
	reg := func(field string) selfstat.Stat { return st.c.Register("anomaly", field, nil) }
	return &silence{
		watch:  detector.NewAbsence(cfg),
		names:  make(map[uint64]seriesName),
		absent: reg("incidents_absent"),
		// Series that fell silent together, and how many times: no
		// incident was opened for them (see the README).
		together: reg("series_silent_together"),
		crowds:   reg("silent_crowds"),
		expired:  reg("incidents_ended_expired"),
		evicted:  reg("incidents_ended_evicted"),
		// Absent or ended incidents of series restored from the state
		// file and not seen since: not reported, their names unknown.
		unnamed: reg("incidents_unnamed"),
	}
}

// watchSilence, called after the points of m are scored, names their
// series, reports the absent incidents they resolved, shows them to the
// watch, which sweeps the table when due, and reports what it found and
// the incidents of series that left the table. The events go to
// s.incidents, before those of m's own points.
func (s *Scorer) watchSilence(m telegraf.Metric) {
	w := s.silence
	var name *metricName
	// Only while the table may hold unnamed series (more series than names
	// of series still held) is each point's series looked up: a map
	// lookup per point would cost a cache miss on a large table.
	lookup := len(w.names)-w.stale(s.table) < s.table.Len()
	for i := range s.points {
		o := &s.outcomes[i]
		key := s.points[i].Key
		if o.Created || lookup {
			_, ok := w.names[key]
			if ok && o.Created {
				w.returned++ // a series that left came back: its name is not stale
			}
			if !ok || o.Created {
				if name == nil {
					name = s.metricName(m)
				}
				w.names[key] = seriesName{metric: name, field: strings.Clone(s.scored[i].Key)}
			}
		}
		if o.Returned.Reason == detector.Absent {
			returned := *o
			returned.Incident = o.Returned
			s.incident(m, s.scored[i], &s.points[i], &returned)
		}
	}
	w.notices = w.notices[:0]
	if w.watch != nil {
		w.watch.Observe(s.points, s.wall)
		var crowd detector.Crowd
		w.notices, crowd = w.watch.Sweep(s.table, w.notices)
		if crowd.Series > 0 {
			w.crowds.Incr(1)
			w.together.Incr(int64(crowd.Series))
			logf := s.stats.log.Debugf
			if w.crowds.Get() == 1 {
				logf = s.stats.log.Warnf
			}
			logf("%d of %d series fell silent together (last seen %s to %s): no absent incident is opened for them, "+
				"the cause is taken to be elsewhere (an agent or Kafka stopped, a rebalance moved partitions away); "+
				"further cases are only counted in internal_anomaly.silent_crowds",
				crowd.Series, crowd.Watched, time.Unix(0, crowd.From).UTC().Format(time.RFC3339), time.Unix(0, crowd.To).UTC().Format(time.RFC3339))
		}
	}
	w.notices = append(w.notices, s.table.TakeEnded()...)
	for i := range w.notices {
		s.notice(&w.notices[i])
	}
	s.pruneNames()
}

// takeEnded makes the events of the incidents that ended when their series
// left the table (expired or evicted) outside the scoring of a metric, as
// housekeeping's expiry and Stop do, and forgets the names of series that
// left: the events, to pass on.
func (s *Scorer) takeEnded() []telegraf.Metric {
	for _, n := range s.table.TakeEnded() {
		s.notice(&n)
	}
	s.pruneNames()
	return s.appendIncidents(nil)
}

// metricName is the name of m's series, but for their fields.
func (s *Scorer) metricName(m telegraf.Metric) *metricName {
	n := &metricName{measurement: strings.Clone(m.Name())}
	for _, tag := range m.TagList() {
		if s.Identifies(tag.Key) {
			n.tags = append(n.tags, strings.Clone(tag.Key), strings.Clone(tag.Value))
		}
	}
	n.tags = slices.Clip(n.tags)
	return n
}

// tagMap returns the identifying tags as an event's tags, with room for two more.
func (n *metricName) tagMap() map[string]string {
	tags := make(map[string]string, len(n.tags)/2+2)
	for i := 0; i < len(n.tags); i += 2 {
		tags[n.tags[i]] = n.tags[i+1]
	}
	return tags
}

// notice reports an incident that no point made: an absent one opened, or
// one ended (the field ended says why).
func (s *Scorer) notice(n *detector.Notice) {
	w := s.silence
	name, ok := w.names[n.Key]
	if !ok {
		w.unnamed.Incr(1)
		return
	}
	inc := &n.Incident
	switch n.Why {
	case detector.NotEnded:
		w.absent.Incr(1)
	case detector.Expired:
		w.expired.Incr(1)
	case detector.Evicted:
		w.evicted.Incr(1)
	}
	s.stats.onIncident(inc)
	if s.incidentMeasurement == "" {
		return
	}
	// An absent incident opens when the series' points were due; one that
	// ended, as of the series' last point (or its start, if later).
	at := max(n.LastSeen, inc.Started)
	if inc.Open {
		at = inc.Started
	}
	e := incidentEvent(name.metric.tagMap(), name.metric.measurement, name.field, inc, n.Key,
		eventPoint{time: time.Unix(0, at), value: n.Level, expected: n.Level, lower: n.Lower, upper: n.Upper})
	e.LastSeen = time.Unix(0, n.LastSeen)
	if n.Why != detector.NotEnded {
		e.Ended = n.Why.String()
	}
	s.incidents = append(s.incidents, e.Metric(s.incidentMeasurement))
}

// stale is how many names may be of series no longer held: the series
// that left the table since the last prune, less those that came back.
func (s *silence) stale(t *detector.Table) int {
	return int(t.Expiries()-s.expiries) + int(t.Evictions()-s.evictions) - s.returned
}

// pruneNames forgets the names of series that left the table, once more
// than an eighth of the names may be of such series: a prune reads every
// name, which costs, per series that left, reading eight. A flood of new
// series evicts others while metrics are scored, so scoring prunes too.
func (s *Scorer) pruneNames() {
	w, t := s.silence, s.table
	if stale := w.stale(t); stale <= 0 || stale < len(w.names)/8 {
		return
	}
	w.expiries, w.evictions, w.returned = t.Expiries(), t.Evictions(), 0
	maps.DeleteFunc(w.names, func(key uint64, _ seriesName) bool { return !t.Has(key) })
}
