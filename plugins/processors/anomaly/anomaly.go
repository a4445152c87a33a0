// Package anomaly is the Telegraf streaming processor processors.anomaly: it
// scores every selected numeric field of every metric against an online model
// of its series and marks anomalies on the metric. The models live in the
// detector package; this package only adapts Telegraf metrics to it.
//
//go:generate go tool readme_config_includer
package anomaly

import (
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
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

	// Series that stop reporting (absent.go).
	AbsentAfter      int             `toml:"absent_after"`
	AllowedLateness  config.Duration `toml:"allowed_lateness"`
	AbsentCrowdShare float64         `toml:"absent_crowd_share"`

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

	scorer       *Scorer
	boot         *loader          // nil without history
	stats        *stats           // the scorer's, with those of the state file and the history
	now          func() time.Time // the wall clock, replaceable in tests
	nextExpiry   time.Time
	nextSnapshot time.Time

	// mu guards the scorer between Add, the history loader and the
	// housekeeping goroutine, which expires series and writes snapshots even
	// when no metric arrives.
	mu   sync.Mutex
	acc  telegraf.Accumulator // Start's: where housekeeping passes on its incident events
	done chan struct{}
	wg   sync.WaitGroup
}

// housekeepingTick is how often the housekeeping goroutine wakes up to see
// whether an expiry or a snapshot is due.
const housekeepingTick = time.Second

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

		AbsentAfter:      d.AbsentAfter,
		AllowedLateness:  config.Duration(d.AllowedLateness),
		AbsentCrowdShare: d.AbsentCrowdShare,

		IncidentMeasurement: defaultIncidentMeasurement,
		History:             history.NewConfig(),
		SnapshotInterval:    defaultSnapshot,
		now:                 time.Now,
	}
}

// SampleConfig returns the plugin's sample configuration.
func (*Anomaly) SampleConfig() string { return sampleConfig }

// Init checks the configuration, builds the scorer and restores the state file.
func (p *Anomaly) Init() error {
	s, err := p.NewScorer()
	if err != nil {
		return err
	}
	if p.MaxSeries < 1 {
		return fmt.Errorf("max_series = %d: want at least 1", p.MaxSeries)
	}
	if p.SeriesTTL < 0 {
		return fmt.Errorf("series_ttl = %s: want 0 (never expire) or a positive duration", time.Duration(p.SeriesTTL))
	}
	if p.SnapshotInterval < 0 {
		return fmt.Errorf("snapshot_interval = %s: want 0 (only on stop) or a positive duration", time.Duration(p.SnapshotInterval))
	}
	p.scorer, p.stats = s, s.stats
	if p.now == nil {
		p.now = time.Now
	}
	if p.History.Enabled() {
		if p.boot, err = newLoader(&p.History, s, &p.mu, p.now, p.Log); err != nil {
			return err
		}
	}
	s.table = p.restore()
	now := p.now()
	s.wall = now.UnixNano()
	p.scheduleSnapshot(now)
	return nil
}

// Start starts the housekeeping goroutine (series expiry and snapshots)
// and, with history, the bootstrap's, which passes on to acc the metrics
// held for their history.
func (p *Anomaly) Start(acc telegraf.Accumulator) error {
	p.acc = acc
	if p.boot != nil {
		p.boot.start(acc)
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
		p.boot.stop()
	}
	if p.done != nil {
		close(p.done)
		p.wg.Wait()
		p.done = nil
	}
	p.mu.Lock()
	ended := p.scorer.takeEnded()
	p.snapshot()
	p.mu.Unlock()
	p.passOn(ended)
}

// housekeep expires old series and writes a snapshot when they are due.
// The incidents of the series that expired end with events, passed on at
// once: not with the next metric, which may never come.
func (p *Anomaly) housekeep(now time.Time) {
	p.mu.Lock()
	p.scorer.wall = now.UnixNano()
	p.expire(now)
	ended := p.scorer.takeEnded()
	if p.boot != nil {
		p.boot.publishStats()
	}
	if p.StateFile != "" && p.SnapshotInterval > 0 && !now.Before(p.nextSnapshot) {
		p.snapshot()
		p.scheduleSnapshot(now)
	}
	p.mu.Unlock()
	p.passOn(ended)
}

// passOn passes incident events made outside Add on to Start's accumulator.
func (p *Anomaly) passOn(events []telegraf.Metric) {
	for _, e := range events {
		p.acc.AddMetric(e)
	}
}

// Add scores the metric's selected fields, adds the results to it and passes
// it on, followed by the incident events it made (see Scorer.Score). With
// history, the history loader scores it, or holds it while the history of
// a new series is read (see bootstrap.go).
func (p *Anomaly) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	if p.boot != nil {
		p.boot.add(m, acc)
		return nil
	}
	p.mu.Lock()
	incidents := p.scorer.Score(m)
	p.mu.Unlock()
	acc.AddMetric(m)
	for _, e := range incidents {
		acc.AddMetric(e)
	}
	return nil
}

// Drain passes on every metric held for its series' history: it sends the
// series being gathered at once and waits for their history, at most
// max_wait, then returns. Stop drains too; Drain is for a host that closes
// the processor's accumulator before it calls Stop (Telegraf's execd shim,
// see cmd/anomaly-execd). Without history it does nothing.
func (p *Anomaly) Drain() {
	if p.boot != nil {
		p.boot.drain()
	}
}

// expire drops the series not seen for series_ttl, checking a few times per TTL.
func (p *Anomaly) expire(now time.Time) {
	ttl := time.Duration(p.SeriesTTL)
	if ttl <= 0 || now.Before(p.nextExpiry) {
		return
	}
	p.nextExpiry = now.Add(ttl / 8)
	if n := p.scorer.table.Expire(now.Add(-ttl).UnixNano()); n > 0 {
		p.stats.onExpired(n, p.scorer.table)
		p.Log.Debugf("Expired %d series not seen for %s", n, ttl)
	}
}

func init() {
	processors.AddStreaming("anomaly", func() telegraf.StreamingProcessor {
		return newAnomaly()
	})
}
