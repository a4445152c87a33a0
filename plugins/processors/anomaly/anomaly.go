// Package anomaly is the Telegraf streaming processor processors.anomaly: it
// scores every selected numeric field of every metric against an online model
// of its series and marks anomalies on the metric. The models live in the
// detector package; this package only adapts Telegraf metrics to it.
//
//go:generate ../../../tools/readme_config_includer/generator
package anomaly

import (
	_ "embed"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
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
	WarmingSuffix  string   `toml:"warming_suffix"`
	AnomalyTag     string   `toml:"anomaly_tag"`

	Log telegraf.Logger `toml:"-"`

	detector   *detector.Detector
	table      *detector.Table
	fields     filter.Filter
	seriesTags filter.Filter // nil: every tag identifies the series
	names      map[string]*outputNames
	emit       emitted
	// The output fields' suffixes, for isOutput, and for each byte which of
	// them end in it, one bit each.
	suffixes   [6]string
	suffixEnds [256]uint8
	// Add's scratch space, reused from metric to metric: the points of the
	// metric's scored fields, those fields, and the outcomes.
	points   []detector.Point
	scored   []*telegraf.Field
	outcomes []detector.Outcome
	stats    *stats
	now      func() time.Time // the wall clock, replaceable in tests
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

// outputNames are the names of the fields added for one scored field, built
// once per field name so the hot path does not concatenate strings.
type outputNames struct {
	score, expected, lower, upper, anomaly, warming string
}

// all returns every name, in the order of Anomaly.suffixes.
func (n *outputNames) all() [6]string {
	return [...]string{n.score, n.expected, n.lower, n.upper, n.anomaly, n.warming}
}

// Defaults that are the plugin's own; the detector's come from detector.DefaultConfig.
const (
	defaultMaxSeries  = 1_000_000
	defaultSeriesTTL  = config.Duration(24 * time.Hour)
	defaultAnomalyTag = "anomaly"
	defaultSnapshot   = config.Duration(5 * time.Minute)
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
		Fields:           []string{"*"},
		SeriesTags:       []string{"*"},
		Sensitivity:      d.Sensitivity.String(),
		Direction:        d.Direction.String(),
		AnomalousPoints:  d.AnomalousPoints,
		Window:           d.Window,
		WarmupPoints:     d.WarmupPoints,
		Hold:             config.Duration(d.Hold),
		Seasonality:      seasonality,
		MaxSeries:        defaultMaxSeries,
		SeriesTTL:        defaultSeriesTTL,
		OutputFields:     []string{"score"},
		ScoreSuffix:      "_score",
		ExpectedSuffix:   "_expected",
		LowerSuffix:      "_lower",
		UpperSuffix:      "_upper",
		AnomalySuffix:    "_anomaly",
		WarmingSuffix:    "_warming",
		AnomalyTag:       defaultAnomalyTag,
		SnapshotInterval: defaultSnapshot,
		now:              time.Now,
	}
}

// SampleConfig returns the plugin's sample configuration.
func (*Anomaly) SampleConfig() string { return sampleConfig }

// detectorConfig turns the plugin's settings into the detector's.
func (p *Anomaly) detectorConfig() (detector.Config, error) {
	cfg := detector.DefaultConfig()
	var err error
	if cfg.Sensitivity, err = detector.ParseSensitivity(p.Sensitivity); err != nil {
		return cfg, err
	}
	if cfg.Direction, err = detector.ParseDirection(p.Direction); err != nil {
		return cfg, err
	}
	cfg.Threshold = p.Threshold
	cfg.MinDeviation = p.MinDeviation
	cfg.MinRelativeDeviation = p.MinRelativeDeviation
	cfg.AnomalousPoints = p.AnomalousPoints
	cfg.Window = p.Window
	cfg.WarmupPoints = p.WarmupPoints
	cfg.Hold = time.Duration(p.Hold)
	cfg.Daily, cfg.Weekly = false, false
	for _, s := range p.Seasonality {
		switch s {
		case "daily":
			cfg.Daily = true
		case "weekly":
			cfg.Weekly = true
		default:
			return cfg, fmt.Errorf("unknown seasonality %q: want daily and/or weekly", s)
		}
	}
	return cfg, cfg.Validate()
}

// Init checks the configuration and builds the detector.
func (p *Anomaly) Init() error {
	cfg, err := p.detectorConfig()
	if err != nil {
		return err
	}
	if p.detector, err = detector.New(cfg); err != nil {
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
	for key, v := range map[string]string{
		"score_suffix": p.ScoreSuffix, "expected_suffix": p.ExpectedSuffix, "lower_suffix": p.LowerSuffix,
		"upper_suffix": p.UpperSuffix, "anomaly_suffix": p.AnomalySuffix, "warming_suffix": p.WarmingSuffix,
		"anomaly_tag": p.AnomalyTag,
	} {
		if v == "" {
			return fmt.Errorf("%s must not be empty: the output fields would overwrite the scored field", key)
		}
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
	p.suffixes = [...]string{p.ScoreSuffix, p.ExpectedSuffix, p.LowerSuffix, p.UpperSuffix, p.AnomalySuffix, p.WarmingSuffix}
	for i, suffix := range p.suffixes { // not empty: checked above
		p.suffixEnds[suffix[len(suffix)-1]] |= 1 << i
	}
	p.names = make(map[string]*outputNames)
	p.stats = newStats(p.Log)
	if p.now == nil {
		p.now = time.Now
	}
	p.table = p.restore()
	now := p.now()
	p.wall = now.UnixNano()
	p.scheduleSnapshot(now)
	return nil
}

// Start starts the housekeeping goroutine: series expiry and snapshots.
func (p *Anomaly) Start(telegraf.Accumulator) error {
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
				p.housekeep(p.now())
			}
		}
	}()
	return nil
}

// Stop ends the housekeeping and writes a last snapshot when a state file is configured.
func (p *Anomaly) Stop() {
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
	if p.StateFile != "" && p.SnapshotInterval > 0 && !now.Before(p.nextSnapshot) {
		p.snapshot()
		p.scheduleSnapshot(now)
	}
}

// Add scores the metric's selected fields, adds the results to it and passes it on.
func (p *Anomaly) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	t := m.Time().UnixNano()

	// The series key hashes the measurement and identifying tags once per
	// metric; each field extends a copy of it. The anomaly tag is this
	// processor's output, not an identity: a metric scored upstream belongs
	// to its series whether it was flagged there or not.
	var base xxhash.Digest
	base.Reset()
	base.WriteString(m.Name())
	for _, tag := range m.TagList() {
		if tag.Key == p.AnomalyTag || p.seriesTags != nil && !p.seriesTags.Match(tag.Key) {
			continue
		}
		base.WriteString("\x00")
		base.WriteString(tag.Key)
		base.WriteString("=")
		base.WriteString(tag.Value)
	}

	// The selected numeric fields are scored together: in a large table,
	// UpdateBatch fetches their models from memory at once rather than one
	// after the other.
	p.mu.Lock()
	fields := m.FieldList()
	p.points, p.scored = p.points[:0], p.scored[:0]
	// A metric scored upstream carries that processor's outputs: they are
	// not scored, and those of the fields scored here are replaced.
	upstream := m.HasTag(p.AnomalyTag)
	for _, f := range fields {
		if p.isOutput(m, f.Key) {
			upstream = true
			if p.fields.Match(f.Key) {
				p.stats.skippedOutput(m, f.Key)
			}
			continue
		}
		if !p.fields.Match(f.Key) {
			continue
		}
		v, ok := p.toFloat(m, f)
		if !ok {
			continue
		}
		h := base
		h.WriteString("\x01")
		h.WriteString(f.Key)
		p.points = append(p.points, detector.Point{Key: h.Sum64(), Time: t, Value: v})
		p.scored = append(p.scored, f)
	}
	if cap(p.outcomes) < len(p.points) {
		p.outcomes = make([]detector.Outcome, len(p.points))
	}
	outcomes := p.outcomes[:len(p.points)]
	p.detector.UpdateBatch(p.table, p.wall, p.points, outcomes)
	var up, down, replaced bool
	for i, f := range p.scored { // fields are appended below; these are the original ones
		o := &outcomes[i]
		if o.Created { // the only time the table's size or evictions change, but for expiry
			p.stats.onSeriesCreated(p.table)
		}
		if o.Err != nil {
			p.stats.skipped(o.Err, m, f.Key)
			continue
		}
		r := &o.Result
		p.stats.onScored(r.Warming, r.Anomaly)
		n := p.outputNames(f.Key)
		if upstream {
			replaced = true
			for _, name := range n.all() {
				m.RemoveField(name)
			}
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
		// The anomaly flag is sparse, present only when true: every added
		// field is a heap object in a Telegraf metric, and it is usually false.
		if r.Anomaly {
			m.AddField(n.anomaly, true)
			up = up || r.Direction == detector.Up
			down = down || r.Direction == detector.Down
		}
	}
	clear(p.scored) // no hold on the metric's fields once it is passed on
	p.mu.Unlock()
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
	acc.AddMetric(m)
	return nil
}

// isOutput reports whether field is what this processor adds for another
// field of m (value_score beside value, say): m was scored upstream, by
// another collector or before it was exported for a replay, and scoring the
// score would learn a series of scores.
//
// It runs for every field of every metric, so it first looks up which
// suffixes end in the field's last byte (usually none): comparing every
// suffix cost 450 ns on a metric of cpu's 10 fields, more than scoring
// one of them; this costs 90.
func (p *Anomaly) isOutput(m telegraf.Metric, field string) bool {
	if field == "" {
		return false
	}
	for ends := p.suffixEnds[field[len(field)-1]]; ends != 0; ends &= ends - 1 {
		if scored, ok := strings.CutSuffix(field, p.suffixes[bits.TrailingZeros8(ends)]); ok && m.HasField(scored) {
			return true
		}
	}
	return false
}

// maxExactInt is the largest integer magnitude a float64 holds exactly.
const maxExactInt = 1 << 53

// toFloat returns the field's value as a float64, or counts why it cannot be scored.
func (p *Anomaly) toFloat(m telegraf.Metric, f *telegraf.Field) (float64, bool) {
	switch v := f.Value.(type) {
	case float64:
		return v, true
	case int64:
		if v > maxExactInt || v < -maxExactInt {
			p.stats.skippedOverflow(m, f.Key)
			return 0, false
		}
		return float64(v), true
	case uint64:
		if v > maxExactInt {
			p.stats.skippedOverflow(m, f.Key)
			return 0, false
		}
		return float64(v), true
	default: // strings and booleans
		p.stats.skippedNotNumeric(m, f.Key)
		return 0, false
	}
}

// outputNames returns the cached output field names of a scored field.
func (p *Anomaly) outputNames(field string) *outputNames {
	if n, ok := p.names[field]; ok {
		return n
	}
	n := &outputNames{
		score:    field + p.ScoreSuffix,
		expected: field + p.ExpectedSuffix,
		lower:    field + p.LowerSuffix,
		upper:    field + p.UpperSuffix,
		anomaly:  field + p.AnomalySuffix,
		warming:  field + p.WarmingSuffix,
	}
	// Field names are few; the bound only guards against a flood of unique ones.
	if len(p.names) < maxCachedNames {
		p.names[field] = n
	}
	return n
}

const maxCachedNames = 100_000

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
