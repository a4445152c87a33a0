package anomaly

import (
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// Scorer scores metrics as processors.anomaly does: it identifies a metric's
// series, collects the fields to score, scores them against their series'
// models, marks the metric with the outcomes and makes the incident events
// they open or resolve. The processor's Add and its history loader score
// with one; the tools that replay recorded metrics (cmd/anomaly) build
// their own from the same [[processors.anomaly]] table with NewScorer.
//
// A Scorer is for one goroutine at a time: it keeps scratch space from
// metric to metric, and its calendar caches its last answer.
type Scorer struct {
	detector   *detector.Detector
	table      *detector.Table
	fields     filter.Filter
	seriesTags filter.Filter // nil: every tag identifies the series
	calendars  *calendars    // nil: no calendar
	silence    *silence
	stats      *stats

	anomalyTag          string
	incidentMeasurement string // "": no incident events
	names               map[string]*outputNames
	emit                emitted
	// The output fields' suffixes, for IsOutput, and for each byte which of
	// them end in it, one bit each.
	suffixes   [8]string
	suffixEnds [256]uint8

	// Scratch space, reused from metric to metric: the points of the
	// metric's scored fields, those fields, the output fields added, the
	// outcomes, and the incident events they make.
	points    []detector.Point
	scored    []*telegraf.Field
	added     []*telegraf.Field   // the output fields mark adds, appended at once
	stale     map[string]struct{} // the outputs of upstream that mark replaces
	outcomes  []detector.Outcome
	incidents []telegraf.Metric

	// notAnIncident is set once a metric named incident_measurement that
	// is not an incident event was logged (see noteNotAnIncident).
	notAnIncident bool

	// wall is the wall clock in ns, as of the last time the scorer's owner
	// set it: the time of a series' last lookup, which expiry needs to the
	// second (reading the clock per metric would cost more than that is worth).
	wall int64
}

// emitted says which of the optional float fields are added to scored metrics.
type emitted struct{ score, expected, lower, upper bool }

// NewScorer checks the settings that decide how metrics are scored and
// builds a Scorer of them: its detector, calendar, names and statistics
// (registered with the plugin's Statistics, or a collector of its own when
// nil), and a table of no series. It does not change p, start anything or
// read the state file: a tool builds its own Scorer from a loaded table
// without the processor's Init.
func (p *Anomaly) NewScorer() (*Scorer, error) {
	cfg, err := p.DetectorConfig()
	if err != nil {
		return nil, err
	}
	s := &Scorer{anomalyTag: p.AnomalyTag, incidentMeasurement: p.IncidentMeasurement}
	if s.detector, err = detector.New(cfg); err != nil {
		return nil, err
	}
	if s.calendars, err = p.newCalendars(s.detector.Location()); err != nil {
		return nil, err
	}
	if s.fields, err = filter.NewIncludeExcludeFilter(p.Fields, p.FieldsExclude); err != nil {
		return nil, fmt.Errorf("fields: %w", err)
	}
	if !(len(p.SeriesTags) == 1 && p.SeriesTags[0] == "*") {
		if s.seriesTags, err = filter.Compile(p.SeriesTags); err != nil {
			return nil, fmt.Errorf("series_tags: %w", err)
		}
	}
	if err := s.initNames(p); err != nil {
		return nil, err
	}
	if err := s.checkOutputNames(); err != nil {
		return nil, err
	}
	for _, f := range p.OutputFields {
		switch f {
		case "score":
			s.emit.score = true
		case "expected":
			s.emit.expected = true
		case "lower":
			s.emit.lower = true
		case "upper":
			s.emit.upper = true
		default:
			return nil, fmt.Errorf("output_fields: unknown %q: want score, expected, lower and/or upper", f)
		}
	}
	s.stats = newStats(p.Statistics, p.Log, p.History.Enabled())
	s.silence = newSilence(s.stats, cfg)
	s.table = detector.NewTable(p.MaxSeries)
	return s, nil
}

// Detector returns the scorer's detector: for a tool that runs a series
// through a model of its own (Detector.UpdateIn) as the scorer would.
func (s *Scorer) Detector() *detector.Detector { return s.detector }

// Score scores the metric's selected fields and adds the results to it, in
// four stages: identify the series, collect the fields, score, mark the
// metric. It returns the incident events the points opened or resolved,
// to pass on after m; nil when there are none (most metrics).
func (s *Scorer) Score(m telegraf.Metric) []telegraf.Metric {
	s.scoreAndMark(m, s.collect(m, s.identify(m)))
	return s.appendIncidents(nil)
}

// scoreAndMark scores the points collected from m and marks m with the
// outcomes, its anomaly tag included; its incident events are left in
// s.incidents.
func (s *Scorer) scoreAndMark(m telegraf.Metric, upstream bool) {
	s.scorePoints()
	s.watchSilence(m)
	replaced, up, down := s.mark(m, upstream)
	if replaced {
		m.RemoveTag(s.anomalyTag)
	}
	switch {
	case up && down:
		m.AddTag(s.anomalyTag, detector.Both.String())
	case up:
		m.AddTag(s.anomalyTag, detector.Up.String())
	case down:
		m.AddTag(s.anomalyTag, detector.Down.String())
	}
}

// appendIncidents appends the incident events of the metric just marked
// to out, to pass on after it, and empties s.incidents. Most metrics have
// none: only a point that opens or resolves an incident pays, and
// appendIncidents(nil) is then nil.
func (s *Scorer) appendIncidents(out []telegraf.Metric) []telegraf.Metric {
	out = append(out, s.incidents...)
	clear(s.incidents)
	s.incidents = s.incidents[:0]
	return out
}

// identify hashes the metric's measurement and identifying tags: the part of
// the key that all of its series share. Each field extends a copy of it.
func (s *Scorer) identify(m telegraf.Metric) xxhash.Digest {
	var base xxhash.Digest
	base.Reset()
	_, _ = base.WriteString(m.Name()) // writing to a Digest never fails
	for _, tag := range m.TagList() {
		if !s.Identifies(tag.Key) {
			continue
		}
		_, _ = base.WriteString("\x00")
		_, _ = base.WriteString(tag.Key)
		_, _ = base.WriteString("=")
		_, _ = base.WriteString(tag.Value)
	}
	return base
}

// collect gathers the fields of m to score, their series' keys and what
// the calendar says of them, into s.scored and s.points, and reports
// whether m was scored upstream. The fields it skips are counted: once per
// metric, so a metric collected again (held for its history) is
// recollected instead.
func (s *Scorer) collect(m telegraf.Metric, base xxhash.Digest) (upstream bool) {
	return s.gather(m, base, true)
}

// recollect is collect for a metric collected before, whose skips were counted then.
func (s *Scorer) recollect(m telegraf.Metric, base xxhash.Digest) (upstream bool) {
	return s.gather(m, base, false)
}

// gather is collect, counting the skipped fields if count.
func (s *Scorer) gather(m telegraf.Metric, base xxhash.Digest, count bool) (upstream bool) {
	s.points, s.scored = s.points[:0], s.scored[:0]
	t := m.Time().UnixNano()
	var cond detector.Condition
	if s.calendars != nil {
		cond = s.calendars.condition(m.TagList(), t)
	}
	return s.eachScored(m, count, func(f *telegraf.Field, v float64) {
		h := base
		_, _ = h.WriteString("\x01")
		_, _ = h.WriteString(f.Key)
		s.points = append(s.points, detector.Point{Key: h.Sum64(), Time: t, Value: v, Condition: cond})
		s.scored = append(s.scored, f)
	})
}

// eachScored calls yield with each field of m that is scored and its value:
// the numeric fields selected by fields and fields_exclude, but for this
// processor's own outputs (fields, and incident events). It counts the
// fields it skips if count. It reports whether m was scored upstream: it
// carries that processor's outputs, which are not scored, or its anomaly
// tag, and mark replaces them.
func (s *Scorer) eachScored(m telegraf.Metric, count bool, yield func(f *telegraf.Field, v float64)) (upstream bool) {
	if s.incidentMeasurement != "" && m.Name() == s.incidentMeasurement {
		s.noteNotAnIncident(m)
		return false // an incident event, of this processor or one upstream: output, not a series
	}
	upstream = m.HasTag(s.anomalyTag)
	for _, f := range m.FieldList() {
		if s.isOutputOf(m, f.Key) {
			upstream = true
			if count && s.Scores(f.Key) {
				s.stats.skippedOutput(m, f.Key)
			}
			continue
		}
		if !s.Scores(f.Key) {
			continue
		}
		if v, ok := s.toFloat(m, f, count); ok {
			yield(f, v)
		}
	}
	return upstream
}

// scorePoints scores the collected points into s.outcomes. They are scored
// together: in a large table, UpdateBatch fetches their models from memory
// at once rather than one after the other.
func (s *Scorer) scorePoints() {
	if cap(s.outcomes) < len(s.points) {
		s.outcomes = make([]detector.Outcome, len(s.points))
	}
	s.outcomes = s.outcomes[:len(s.points)]
	s.detector.UpdateBatch(s.table, s.wall, s.points, s.outcomes)
}

// mark adds the outcomes to m and counts them. When m was scored upstream,
// the outputs of the fields scored here are replaced, and replaced says
// that its anomaly tag must go too; up and down say which way m's
// anomalous fields went, for the tag.
func (s *Scorer) mark(m telegraf.Metric, upstream bool) (replaced, up, down bool) {
	for i, f := range s.scored { // fields are appended below; these are the original ones
		o := &s.outcomes[i]
		if o.Created { // the only time the table's size or evictions change, but for expiry
			s.stats.onSeriesCreated(s.table)
		}
		if errors.Is(o.Err, detector.ErrNotFinite) {
			s.stats.skippedNotFinite(m, f.Key)
			continue
		}
		s.stats.onScored(o, m, f.Key)
		r := &o.Result
		n := s.outputNames(f.Key)
		if upstream {
			replaced = true
			for _, name := range n.all() {
				s.stale[name] = struct{}{}
			}
		}
		if cond := s.points[i].Condition; cond != detector.Ordinary {
			s.addField(n.calendar, s.stats.onCalendar(cond))
		}
		if r.Warming {
			// A series in warm-up is learned but has no score yet (the
			// detector's is 0, which would read as "normal"): the metric
			// says so and carries nothing else.
			s.addField(n.warming, true)
			continue
		}
		if s.emit.score {
			s.addField(n.score, r.Score)
		}
		if s.emit.expected {
			s.addField(n.expected, r.Expected)
		}
		if s.emit.lower || s.emit.upper {
			lower, upper := r.Bounds()
			if s.emit.lower {
				s.addField(n.lower, lower)
			}
			if s.emit.upper {
				s.addField(n.upper, upper)
			}
		}
		// The anomaly flag and its reason are sparse, present only on
		// anomalies: every added field is a heap object in a Telegraf
		// metric, and a point is usually not one.
		if r.Anomaly {
			s.addField(n.anomaly, true)
			s.addField(n.reason, r.Reason.String())
			up = up || r.Direction == detector.Up
			down = down || r.Direction == detector.Down
		}
		if o.Opened() || r.Resolved {
			s.incident(m, f, &s.points[i], o)
		}
	}
	if replaced {
		removeFields(m, s.stale)
		clear(s.stale)
	}
	appendFields(m, s.added)
	clear(s.added)
	s.added = s.added[:0]
	clear(s.scored) // no hold on the metric's fields once it is passed on
	return replaced, up, down
}

// addField adds an output field for mark to append to its metric.
func (s *Scorer) addField(key string, value any) {
	s.added = append(s.added, &telegraf.Field{Key: key, Value: value})
}

// maxExactInt is the largest integer magnitude a float64 holds exactly.
const maxExactInt = 1 << 53

// toFloat returns the field's value as a float64, or counts (if count) why it cannot be scored.
func (s *Scorer) toFloat(m telegraf.Metric, f *telegraf.Field, count bool) (float64, bool) {
	switch v := f.Value.(type) {
	case float64:
		return v, true
	case int64:
		if v > maxExactInt || v < -maxExactInt {
			if count {
				s.stats.skippedOverflow(m, f.Key)
			}
			return 0, false
		}
		return float64(v), true
	case uint64:
		if v > maxExactInt {
			if count {
				s.stats.skippedOverflow(m, f.Key)
			}
			return 0, false
		}
		return float64(v), true
	default: // strings and booleans
		if count {
			s.stats.skippedNotNumeric(m, f.Key)
		}
		return 0, false
	}
}
