// Package anomaly is the Telegraf streaming processor processors.anomaly: it
// scores every selected numeric field of every metric against an online model
// of its series and marks anomalies on the metric. The models live in the
// detector package; this package only adapts Telegraf metrics to it.
//
//go:generate go tool readme_config_includer
package anomaly

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/influxdata/telegraf/selfstat"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history"
)

//go:embed sample.conf
var sampleConfig string

// Anomaly is the processor's configuration and state.
type Anomaly struct {
	Fields        []string `toml:"fields"`
	FieldsExclude []string `toml:"fields_exclude"`
	SeriesTags    []string `toml:"series_tags"`

	Sensitivity          string          `toml:"sensitivity"`
	Threshold            float64         `toml:"threshold"`
	Direction            string          `toml:"direction"`
	MinDeviation         float64         `toml:"min_deviation"`
	MinRelativeDeviation float64         `toml:"min_relative_deviation"`
	AnomalousPoints      int             `toml:"anomalous_points"`
	Window               int             `toml:"window"`
	WarmupPoints         int             `toml:"warmup_points"`
	Hold                 config.Duration `toml:"hold"`
	Seasonality          []string        `toml:"seasonality"`
	TimeZone             string          `toml:"timezone"`

	Calendar      []calendarEntry `toml:"calendar"`
	CalendarFiles []string        `toml:"calendar_files"`

	MaxSeries int             `toml:"max_series"`
	SeriesTTL config.Duration `toml:"series_ttl"`

	StateFile        string          `toml:"state_file"`
	SnapshotInterval config.Duration `toml:"snapshot_interval"`

	OutputFields   []string `toml:"output_fields"`
	ScoreSuffix    string   `toml:"score_suffix"`
	ExpectedSuffix string   `toml:"expected_suffix"`
	LowerSuffix    string   `toml:"lower_suffix"`
	UpperSuffix    string   `toml:"upper_suffix"`
	AnomalySuffix  string   `toml:"anomaly_suffix"`
	ReasonSuffix   string   `toml:"reason_suffix"`
	WarmingSuffix  string   `toml:"warming_suffix"`
	CalendarSuffix string   `toml:"calendar_suffix"`
	AnomalyTag     string   `toml:"anomaly_tag"`

	IncidentMeasurement string `toml:"incident_measurement"`

	// History is the [processors.anomaly.history] sub-table: new series
	// are learned from their history in InfluxDB (bootstrap.go). Off
	// without urls.
	History history.Config `toml:"history"`

	Log        telegraf.Logger     `toml:"-"`
	Statistics *selfstat.Collector `toml:"-"`

	detector   *detector.Detector
	table      *detector.Table
	fields     filter.Filter
	seriesTags filter.Filter // nil: every tag identifies the series
	calendars  *calendars    // nil: no calendar
	names      map[string]*outputNames
	emit       emitted
	// The output fields' suffixes, for isOutput, and for each byte which of
	// them end in it, one bit each.
	suffixes   [8]string
	suffixEnds [256]uint8
	// Add's scratch space, reused from metric to metric: the points of the
	// metric's scored fields, those fields, the outcomes, and the incident
	// events they make.
	points    []detector.Point
	scored    []*telegraf.Field
	outcomes  []detector.Outcome
	incidents []telegraf.Metric
	fresh     []int      // the points of new series, with history on
	boot      *bootstrap // nil without history
	stats     *stats
	now       func() time.Time // the wall clock, replaceable in tests
	// wall is now() in ns as of Init or the last housekeeping tick: the
	// time of a series' last lookup, which expiry needs to the second.
	// Reading the clock per metric took 6% of Add's time in the pipeline
	// benchmark (perf), for a value that needs to change once a second.
	wall         int64
	nextExpiry   time.Time
	nextSnapshot time.Time

	// mu guards the table between Add and the housekeeping goroutine, which
	// expires series and writes snapshots even when no metric arrives.
	mu   sync.Mutex
	done chan struct{}
	wg   sync.WaitGroup
}

// housekeepingTick is how often the housekeeping goroutine wakes up to see
// whether an expiry or a snapshot is due.
const housekeepingTick = time.Second

// emitted says which of the optional float fields are added to scored metrics.
type emitted struct{ score, expected, lower, upper bool }

// Defaults that are the plugin's own; the detector's come from detector.DefaultConfig.
const (
	defaultMaxSeries  = 1_000_000
	defaultSeriesTTL  = config.Duration(24 * time.Hour)
	defaultAnomalyTag = "anomaly"
	// Incident events are on by default: one metric when an incident opens
	// and one when it resolves, few next to the scored points, and what an
	// alerting output (outputs.alertmanager, a Kafka topic) needs.
	defaultIncidentMeasurement = incident.DefaultMeasurement
	defaultSnapshot            = config.Duration(5 * time.Minute)
)

func newAnomaly() *Anomaly {
	d := detector.DefaultConfig()
	var seasonality []string
	if d.Daily {
		seasonality = append(seasonality, "daily")
	}
	if d.Weekly {
		seasonality = append(seasonality, "weekly")
	}
	return &Anomaly{
		Fields:          []string{"*"},
		SeriesTags:      []string{"*"},
		Sensitivity:     d.Sensitivity.String(),
		Direction:       d.Direction.String(),
		AnomalousPoints: d.AnomalousPoints,
		Window:          d.Window,
		WarmupPoints:    d.WarmupPoints,
		Hold:            config.Duration(d.Hold),
		Seasonality:     seasonality,
		MaxSeries:       defaultMaxSeries,
		SeriesTTL:       defaultSeriesTTL,
		OutputFields:    []string{"score"},
		ScoreSuffix:     "_score",
		ExpectedSuffix:  "_expected",
		LowerSuffix:     "_lower",
		UpperSuffix:     "_upper",
		AnomalySuffix:   "_anomaly",
		ReasonSuffix:    "_reason",
		WarmingSuffix:   "_warming",
		CalendarSuffix:  "_calendar",
		AnomalyTag:      defaultAnomalyTag,

		IncidentMeasurement: defaultIncidentMeasurement,
		History:             history.NewConfig(),
		SnapshotInterval:    defaultSnapshot,
		now:                 time.Now,
	}
}

// SampleConfig returns the plugin's sample configuration.
func (*Anomaly) SampleConfig() string { return sampleConfig }

// Init checks the configuration and builds the detector.
func (p *Anomaly) Init() error {
	cfg, err := p.DetectorConfig()
	if err != nil {
		return err
	}
	if p.detector, err = detector.New(cfg); err != nil {
		return err
	}
	if err := p.initCalendars(); err != nil {
		return err
	}
	if p.MaxSeries < 1 {
		return fmt.Errorf("max_series = %d: want at least 1", p.MaxSeries)
	}
	if p.SeriesTTL < 0 {
		return fmt.Errorf("series_ttl = %s: want 0 (never expire) or a positive duration", time.Duration(p.SeriesTTL))
	}
	if p.fields, err = filter.NewIncludeExcludeFilter(p.Fields, p.FieldsExclude); err != nil {
		return fmt.Errorf("fields: %w", err)
	}
	if !(len(p.SeriesTags) == 1 && p.SeriesTags[0] == "*") {
		if p.seriesTags, err = filter.Compile(p.SeriesTags); err != nil {
			return fmt.Errorf("series_tags: %w", err)
		}
	}
	if err := p.initNames(); err != nil {
		return err
	}
	if p.SnapshotInterval < 0 {
		return fmt.Errorf("snapshot_interval = %s: want 0 (only on stop) or a positive duration", time.Duration(p.SnapshotInterval))
	}
	for _, f := range p.OutputFields {
		switch f {
		case "score":
			p.emit.score = true
		case "expected":
			p.emit.expected = true
		case "lower":
			p.emit.lower = true
		case "upper":
			p.emit.upper = true
		default:
			return fmt.Errorf("output_fields: unknown %q: want score, expected, lower and/or upper", f)
		}
	}
	p.stats = newStats(p.Statistics, p.Log, p.History.Enabled())
	if p.History.Enabled() {
		if p.boot, err = newBootstrap(p); err != nil {
			return err
		}
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.table = p.restore()
	now := p.now()
	p.wall = now.UnixNano()
	p.scheduleSnapshot(now)
	return nil
}

// Start starts the housekeeping goroutine (series expiry and snapshots)
// and, with history, the bootstrap's, which passes on to acc the metrics
// held for their history.
func (p *Anomaly) Start(acc telegraf.Accumulator) error {
	if p.boot != nil {
		p.startBootstrap(acc)
	}
	p.done = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(housekeepingTick)
		defer tick.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
				p.reloadCalendars()
				p.housekeep(p.now())
			}
		}
	}()
	return nil
}

// Stop passes on every metric held for its history (waiting for the
// histories in flight, at most max_wait), ends the housekeeping and writes
// a last snapshot when a state file is configured.
func (p *Anomaly) Stop() {
	if p.boot != nil {
		p.stopBootstrap()
	}
	if p.done != nil {
		close(p.done)
		p.wg.Wait()
		p.done = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.snapshot()
}

// housekeep expires old series and writes a snapshot when they are due.
func (p *Anomaly) housekeep(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wall = now.UnixNano()
	p.expire(now)
	if p.boot != nil {
		p.publishHistoryStats()
	}
	if p.StateFile != "" && p.SnapshotInterval > 0 && !now.Before(p.nextSnapshot) {
		p.snapshot()
		p.scheduleSnapshot(now)
	}
}

// Add scores the metric's selected fields, adds the results to it and passes
// it on, in four stages: identify the series, collect the fields, score,
// mark the metric. With history, a metric of a new series is held instead
// (see bootstrap.go).
func (p *Anomaly) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	base := p.identify(m)
	p.mu.Lock()
	if p.boot != nil {
		p.addWithHistory(m, base, acc)
		return nil
	}
	p.scoreAndMark(m, p.collect(m, base))
	incidents := p.takeIncidents()
	p.mu.Unlock()
	acc.AddMetric(m)
	for _, incident := range incidents {
		acc.AddMetric(incident)
	}
	return nil
}

// scoreAndMark scores the points collected from m and marks m with the
// outcomes, its anomaly tag included; its incident events are left in
// p.incidents.
func (p *Anomaly) scoreAndMark(m telegraf.Metric, upstream bool) {
	p.score()
	replaced, up, down := p.mark(m, upstream)
	if replaced {
		m.RemoveTag(p.AnomalyTag)
	}
	switch {
	case up && down:
		m.AddTag(p.AnomalyTag, detector.Both.String())
	case up:
		m.AddTag(p.AnomalyTag, detector.Up.String())
	case down:
		m.AddTag(p.AnomalyTag, detector.Down.String())
	}
}

// takeIncidents returns the incident events of the metric just marked, to
// pass on after it, and empties p.incidents; nil when there are none (most
// metrics: only a point that opens or resolves an incident pays).
func (p *Anomaly) takeIncidents() []telegraf.Metric {
	if len(p.incidents) == 0 {
		return nil
	}
	incidents := slices.Clone(p.incidents)
	clear(p.incidents)
	p.incidents = p.incidents[:0]
	return incidents
}

// identify hashes the metric's measurement and identifying tags: the part of
// the key that all of its series share. Each field extends a copy of it.
func (p *Anomaly) identify(m telegraf.Metric) xxhash.Digest {
	var base xxhash.Digest
	base.Reset()
	base.WriteString(m.Name())
	for _, tag := range m.TagList() {
		if !p.Identifies(tag.Key) {
			continue
		}
		base.WriteString("\x00")
		base.WriteString(tag.Key)
		base.WriteString("=")
		base.WriteString(tag.Value)
	}
	return base
}

// collect gathers the fields of m to score, their series' keys and what
// the calendar says of them, into p.scored and p.points, and reports
// whether m was scored upstream. The fields it skips are counted: once per
// metric, so a metric collected again (held for its history) is
// recollected instead.
func (p *Anomaly) collect(m telegraf.Metric, base xxhash.Digest) (upstream bool) {
	return p.gather(m, base, true)
}

// recollect is collect for a metric collected before, whose skips were counted then.
func (p *Anomaly) recollect(m telegraf.Metric, base xxhash.Digest) (upstream bool) {
	return p.gather(m, base, false)
}

// gather is collect, counting the skipped fields if count.
func (p *Anomaly) gather(m telegraf.Metric, base xxhash.Digest, count bool) (upstream bool) {
	p.points, p.scored = p.points[:0], p.scored[:0]
	t := m.Time().UnixNano()
	var cond detector.Condition
	if p.calendars != nil {
		cond = p.calendars.condition(m.TagList(), t)
	}
	return p.eachScored(m, count, func(f *telegraf.Field, v float64) {
		h := base
		h.WriteString("\x01")
		h.WriteString(f.Key)
		p.points = append(p.points, detector.Point{Key: h.Sum64(), Time: t, Value: v, Condition: cond})
		p.scored = append(p.scored, f)
	})
}

// eachScored calls yield with each field of m that is scored and its value:
// the numeric fields selected by fields and fields_exclude, but for this
// processor's own outputs (fields, and incident events). It counts the fields it skips if count. It reports whether
// m was scored upstream: it carries that processor's outputs, which are not
// scored, or its anomaly tag, and mark replaces them.
func (p *Anomaly) eachScored(m telegraf.Metric, count bool, yield func(f *telegraf.Field, v float64)) (upstream bool) {
	if p.IncidentMeasurement != "" && m.Name() == p.IncidentMeasurement {
		return false // an incident event, of this processor or one upstream: output, not a series
	}
	upstream = m.HasTag(p.AnomalyTag)
	for _, f := range m.FieldList() {
		if p.isOutput(m, f.Key) {
			upstream = true
			if count && p.Scores(f.Key) {
				p.stats.skippedOutput(m, f.Key)
			}
			continue
		}
		if !p.Scores(f.Key) {
			continue
		}
		if v, ok := p.toFloat(m, f, count); ok {
			yield(f, v)
		}
	}
	return upstream
}

// score scores the collected points into p.outcomes. They are scored
// together: in a large table, UpdateBatch fetches their models from memory
// at once rather than one after the other.
func (p *Anomaly) score() {
	if cap(p.outcomes) < len(p.points) {
		p.outcomes = make([]detector.Outcome, len(p.points))
	}
	p.outcomes = p.outcomes[:len(p.points)]
	p.detector.UpdateBatch(p.table, p.wall, p.points, p.outcomes)
}

// mark adds the outcomes to m and counts them. When m was scored upstream,
// the outputs of the fields scored here are replaced, and replaced says
// that its anomaly tag must go too; up and down say which way m's
// anomalous fields went, for the tag.
func (p *Anomaly) mark(m telegraf.Metric, upstream bool) (replaced, up, down bool) {
	for i, f := range p.scored { // fields are appended below; these are the original ones
		o := &p.outcomes[i]
		if o.Created { // the only time the table's size or evictions change, but for expiry
			p.stats.onSeriesCreated(p.table)
		}
		if errors.Is(o.Err, detector.ErrNotFinite) {
			p.stats.skippedNotFinite(m, f.Key)
			continue
		}
		p.stats.onScored(o, m, f.Key)
		r := &o.Result
		n := p.outputNames(f.Key)
		if upstream {
			replaced = true
			for _, name := range n.all() {
				m.RemoveField(name)
			}
		}
		if cond := p.points[i].Condition; cond != detector.Ordinary {
			m.AddField(n.calendar, p.stats.onCalendar(cond))
		}
		if r.Warming {
			// A series in warm-up is learned but has no score yet (the
			// detector's is 0, which would read as "normal"): the metric
			// says so and carries nothing else.
			m.AddField(n.warming, true)
			continue
		}
		if p.emit.score {
			m.AddField(n.score, r.Score)
		}
		if p.emit.expected {
			m.AddField(n.expected, r.Expected)
		}
		if p.emit.lower || p.emit.upper {
			lower, upper := r.Bounds()
			if p.emit.lower {
				m.AddField(n.lower, lower)
			}
			if p.emit.upper {
				m.AddField(n.upper, upper)
			}
		}
		// The anomaly flag and its reason are sparse, present only on
		// anomalies: every added field is a heap object in a Telegraf
		// metric, and a point is usually not one.
		if r.Anomaly {
			m.AddField(n.anomaly, true)
			m.AddField(n.reason, r.Reason.String())
			up = up || r.Direction == detector.Up
			down = down || r.Direction == detector.Down
		}
		if o.Opened() || r.Resolved {
			p.incident(m, f, &p.points[i], o)
		}
	}
	clear(p.scored) // no hold on the metric's fields once it is passed on
	return replaced, up, down
}

// maxExactInt is the largest integer magnitude a float64 holds exactly.
const maxExactInt = 1 << 53

// toFloat returns the field's value as a float64, or counts (if count) why it cannot be scored.
func (p *Anomaly) toFloat(m telegraf.Metric, f *telegraf.Field, count bool) (float64, bool) {
	switch v := f.Value.(type) {
	case float64:
		return v, true
	case int64:
		if v > maxExactInt || v < -maxExactInt {
			if count {
				p.stats.skippedOverflow(m, f.Key)
			}
			return 0, false
		}
		return float64(v), true
	case uint64:
		if v > maxExactInt {
			if count {
				p.stats.skippedOverflow(m, f.Key)
			}
			return 0, false
		}
		return float64(v), true
	default: // strings and booleans
		if count {
			p.stats.skippedNotNumeric(m, f.Key)
		}
		return 0, false
	}
}

// expire drops the series not seen for series_ttl, checking a few times per TTL.
func (p *Anomaly) expire(now time.Time) {
	ttl := time.Duration(p.SeriesTTL)
	if ttl <= 0 || now.Before(p.nextExpiry) {
		return
	}
	p.nextExpiry = now.Add(ttl / 8)
	if n := p.table.Expire(now.Add(-ttl).UnixNano()); n > 0 {
		p.stats.onExpired(n, p.table)
		p.Log.Debugf("Expired %d series not seen for %s", n, ttl)
	}
}

func init() {
	processors.AddStreaming("anomaly", func() telegraf.StreamingProcessor {
		return newAnomaly()
	})
}
