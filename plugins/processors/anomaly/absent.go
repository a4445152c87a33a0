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
// series' names, and its counters. Its methods run under p.mu.
type silence struct {
	watch *detector.Absence // nil: absent_after = 0, only endings are reported
	// names holds the name of each series in the table, or of most: a
	// series restored from the state file, or learned from its history, is
	// named by its next point; names may hold series that left the table,
	// until the next prune.
	names map[uint64]seriesName
	// expiries and evictions are the table's counts at the last prune.
	expiries, evictions uint64
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

func newSilence(p *Anomaly, cfg detector.Config) *silence {
	reg := func(field string) selfstat.Stat { return p.stats.c.Register("anomaly", field, nil) }
	return &silence{
		watch:  detector.NewAbsence(cfg),
		names:  map[uint64]seriesName{},
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
// p.incidents, before those of m's own points.
func (p *Anomaly) watchSilence(m telegraf.Metric) {
	s := p.silence
	var name *metricName
	// Only while the table may hold unnamed series (more series than names
	// of series still held) is each point's series looked up: a map
	// lookup per point would cost a cache miss on a large table.
	lookup := len(s.names)-s.churn(p.table) < p.table.Len()
	for i := range p.points {
		o := &p.outcomes[i]
		key := p.points[i].Key
		if o.Created || lookup {
			if _, ok := s.names[key]; !ok || o.Created {
				if name == nil {
					name = p.metricName(m)
				}
				s.names[key] = seriesName{metric: name, field: strings.Clone(p.scored[i].Key)}
			}
		}
		if o.Returned.Reason == detector.Absent {
			returned := *o
			returned.Incident = o.Returned
			p.incident(m, p.scored[i], &p.points[i], &returned)
		}
	}
	s.notices = s.notices[:0]
	if s.watch != nil {
		s.watch.Observe(p.points, p.wall)
		var crowd detector.Crowd
		s.notices, crowd = s.watch.Sweep(p.table, s.notices)
		if crowd.Series > 0 {
			s.crowds.Incr(1)
			s.together.Incr(int64(crowd.Series))
			logf := p.Log.Debugf
			if s.crowds.Get() == 1 {
				logf = p.Log.Warnf
			}
			logf("%d of %d series fell silent together (last seen %s to %s): no absent incident is opened for them, "+
				"the cause is taken to be elsewhere (an agent or Kafka stopped, a rebalance moved partitions away); "+
				"further cases are only counted in internal_anomaly.silent_crowds",
				crowd.Series, crowd.Watched, time.Unix(0, crowd.From).UTC().Format(time.RFC3339), time.Unix(0, crowd.To).UTC().Format(time.RFC3339))
		}
	}
	s.notices = append(s.notices, p.table.TakeEnded()...)
	for i := range s.notices {
		p.notice(&s.notices[i])
	}
	p.pruneNames()
}

// metricName is the name of m's series, but for their fields.
func (p *Anomaly) metricName(m telegraf.Metric) *metricName {
	n := &metricName{measurement: strings.Clone(m.Name())}
	for _, tag := range m.TagList() {
		if p.Identifies(tag.Key) {
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
func (p *Anomaly) notice(n *detector.Notice) {
	s := p.silence
	name, ok := s.names[n.Key]
	if !ok {
		s.unnamed.Incr(1)
		return
	}
	inc := &n.Incident
	switch n.Why {
	case detector.NotEnded:
		s.absent.Incr(1)
	case detector.Expired:
		s.expired.Incr(1)
	case detector.Evicted:
		s.evicted.Incr(1)
	}
	p.stats.onIncident(inc)
	if p.IncidentMeasurement == "" {
		return
	}
	// An absent incident opens when the series' points were due; one that
	// ended, as of the series' last point (or its start, if later).
	at := max(n.LastSeen, inc.Started)
	if inc.Open {
		at = inc.Started
	}
	e := p.incidentEvent(name.metric.tagMap(), name.metric.measurement, name.field, inc, n.Key, time.Unix(0, at),
		eventPoint{time: at, value: n.Level, expected: n.Level, lower: n.Lower, upper: n.Upper})
	e.AddField("last_seen", n.LastSeen)
	if n.Why != detector.NotEnded {
		e.AddField("ended", n.Why.String())
	}
	p.incidents = append(p.incidents, e)
}

// churn is how many series left the table since the last prune: at most
// so many names are of series no longer held.
func (s *silence) churn(t *detector.Table) int {
	return int(t.Expiries()-s.expiries) + int(t.Evictions()-s.evictions)
}

// pruneNames forgets the names of series that left the table, once more
// than an eighth of the names may be of such series: a prune reads every
// name, which costs, per series that left, reading eight.
func (p *Anomaly) pruneNames() {
	s, t := p.silence, p.table
	if churn := s.churn(t); churn == 0 || churn < len(s.names)/8 {
		return
	}
	s.expiries, s.evictions = t.Expiries(), t.Evictions()
	maps.DeleteFunc(s.names, func(key uint64, _ seriesName) bool { return !t.Has(key) })
}
