package anomaly

import (
	"errors"
	"strconv"
	"sync/atomic"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/selfstat"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history"
)

// stats are the processor's numbers about itself. They are selfstat counters
// of the instance's own collector, which Telegraf gives each plugin instance
// with the tags _id, processor and alias, so that two instances in one agent
// keep their own; inputs.internal reports them as the measurement
// internal_anomaly.
type stats struct {
	log telegraf.Logger
	c   *selfstat.Collector // the instance's, for counters registered elsewhere (absent.go)

	series, stateBytes, seriesCreated, evictions, expired selfstat.Stat
	scored, warming, anomalies, outOfOrder, duplicate     selfstat.Stat
	incidentsOpened, incidentsResolved                    selfstat.Stat
	maintenance, holiday                                  selfstat.Stat
	notFinite, notNumeric, overflow, output               selfstat.Stat

	restored, snapshots, snapshotErrors, snapshotBytes, snapshotDuration selfstat.Stat

	boot *bootStats // nil without history

	evictionsSeen uint64
	warned        map[selfstat.Stat]bool // a skip reason is logged once, then only counted
}

// newStats registers the counters with c, the instance's collector. Outside
// Telegraf's agent (in tests, or a tool that made the processor itself) c is
// nil, and the instance gets a collector of its own, tagged with a number
// unique in the process.
func newStats(c *selfstat.Collector, log telegraf.Logger, withHistory bool) *stats {
	if c == nil {
		c = selfstat.NewCollector(map[string]string{"_id": "anomaly-" + strconv.FormatUint(instances.Add(1), 10)})
	}
	reg := func(field string) selfstat.Stat { return c.Register("anomaly", field, nil) }
	s := &stats{
		log:               log,
		c:                 c,
		series:            reg("series"),
		stateBytes:        reg("state_bytes"),
		seriesCreated:     reg("series_created"),
		evictions:         reg("series_evicted"),
		expired:           reg("series_expired"),
		scored:            reg("points_scored"),
		warming:           reg("points_warming"),
		anomalies:         reg("anomalies"),
		incidentsOpened:   reg("incidents_opened"),
		incidentsResolved: reg("incidents_resolved"),
		maintenance:       reg("points_maintenance"),
		holiday:           reg("points_holiday"),
		notFinite:         reg("skipped_not_finite"),
		notNumeric:        reg("skipped_not_numeric"),
		overflow:          reg("skipped_overflow"),
		outOfOrder:        reg("points_out_of_order"),
		duplicate:         reg("points_duplicate"),
		output:            reg("skipped_output_field"),

		restored:         reg("series_restored"),
		snapshots:        reg("snapshots"),
		snapshotErrors:   reg("snapshot_errors"),
		snapshotBytes:    reg("snapshot_bytes"),
		snapshotDuration: reg("snapshot_duration_ns"),
		warned:           make(map[selfstat.Stat]bool),
	}
	if withHistory {
		s.boot = newBootStats(c)
	}
	return s
}

// instances numbers the processors made outside Telegraf's agent.
var instances atomic.Uint64

func (s *stats) onSeriesCreated(t *detector.Table) {
	s.seriesCreated.Incr(1)
	s.setSeries(t)
}

// onScored counts a point the detector scored, from its outcome: learned,
// or old (scored, not learned); in warm-up or not; anomalous or not.
func (s *stats) onScored(o *detector.Outcome, m telegraf.Metric, field string) {
	switch {
	case o.Err == nil:
		s.scored.Incr(1)
	case errors.Is(o.Err, detector.ErrOutOfOrder):
		s.note(s.outOfOrder, m, field, "scored but not learned: its timestamp is older than the series' last point")
	case errors.Is(o.Err, detector.ErrDuplicate):
		s.note(s.duplicate, m, field, "scored but not learned: its timestamp repeats the series' last point (a redelivery?)")
	}
	if o.Warming {
		s.warming.Incr(1)
	}
	if o.Anomaly {
		s.anomalies.Incr(1)
	}
}

// onCalendar counts a point of a calendar period, and returns the period's
// kind as the processor marks it.
func (s *stats) onCalendar(c detector.Condition) string {
	kind := c.Kind()
	if kind == detector.Maintenance {
		s.maintenance.Incr(1)
	} else {
		s.holiday.Incr(1)
	}
	return kind.String()
}

// onIncident counts an incident event: one opened, or one that ended.
func (s *stats) onIncident(inc *detector.Incident) {
	if inc.Open {
		s.incidentsOpened.Incr(1)
	} else {
		s.incidentsResolved.Incr(1)
	}
}

func (s *stats) onExpired(n int, t *detector.Table) {
	s.expired.Incr(int64(n))
	s.setSeries(t)
}

// setSeries publishes the table's size and its evictions since the last call.
func (s *stats) setSeries(t *detector.Table) {
	s.series.Set(int64(t.Len()))
	s.stateBytes.Set(int64(t.Len()) * int64(detector.EntryBytes))
	if ev := t.Evictions(); ev != s.evictionsSeen {
		s.evictions.Incr(int64(ev - s.evictionsSeen))
		s.evictionsSeen = ev
	}
}

// skippedNotFinite counts a point the detector refused: NaN, ±Inf or huge.
func (s *stats) skippedNotFinite(m telegraf.Metric, field string) {
	s.skip(s.notFinite, m, field, "its value is NaN, infinite or beyond ±1e30")
}

func (s *stats) skippedNotNumeric(m telegraf.Metric, field string) {
	s.skip(s.notNumeric, m, field, "its value is a string or a boolean")
}

func (s *stats) skippedOverflow(m telegraf.Metric, field string) {
	s.skip(s.overflow, m, field, "its integer value is beyond 2^53, where a float64 loses precision")
}

func (s *stats) skippedOutput(m telegraf.Metric, field string) {
	s.skip(s.output, m, field, "it is this processor's output for another field, scored upstream; the fields scored here get their outputs replaced")
}

// skip counts a field that was not scored, and says why the first time.
func (s *stats) skip(counter selfstat.Stat, m telegraf.Metric, field, why string) {
	s.note(counter, m, field, "not scored: "+why)
}

// note counts a case of counter, and logs it, with what happened, the first time.
func (s *stats) note(counter selfstat.Stat, m telegraf.Metric, field, what string) {
	counter.Incr(1)
	if s.warned[counter] {
		return
	}
	s.warned[counter] = true
	s.log.Warnf("Field %q of metric %q %s. Further cases are only counted in internal_anomaly.%s",
		field, m.Name(), what, counter.FieldName())
}

// bootStats are the statistics of the history bootstrap, registered only
// when it is configured.
type bootStats struct {
	c *selfstat.Collector

	bootstrapped, rebuilt, empty, late, points selfstat.Stat
	held, overflow                             selfstat.Stat
	latency                                    selfstat.Stat // mean over the interval
	queries, bytes, waitNs, readNs, learnNs    selfstat.Stat
	failed                                     map[history.Reason]selfstat.Stat
}

// The reasons a series was not bootstrapped that are the processor's own,
// beside the client's (history.Reason).
const (
	// reasonBackoff: not fetched, a query failed a moment ago.
	reasonBackoff history.Reason = "backoff"
	// reasonOverflow: its history came after its live points went on, and
	// maxKeptPoints live points were kept already: not rebuilt.
	reasonOverflow history.Reason = "overflow"
)

func newBootStats(c *selfstat.Collector) *bootStats {
	reg := func(field string) selfstat.Stat { return c.Register("anomaly", field, nil) }
	s := &bootStats{
		c:            c,
		bootstrapped: reg("bootstrap_series"),
		rebuilt:      reg("bootstrap_rebuilt"),
		empty:        reg("bootstrap_empty"),
		late:         reg("bootstrap_late"),
		points:       reg("bootstrap_points"),
		held:         reg("metrics_held"),
		overflow:     reg("metrics_held_overflow"),
		latency:      c.RegisterTiming("anomaly", "bootstrap_latency_ns", nil),
		queries:      reg("history_queries"),
		bytes:        reg("history_bytes"),
		waitNs:       reg("history_query_wait_ns"),
		readNs:       reg("history_read_ns"),
		learnNs:      reg("history_learn_ns"),
		failed:       make(map[history.Reason]selfstat.Stat),
	}
	for _, r := range []history.Reason{history.ReasonTimeout, history.ReasonConnection, history.ReasonAuth,
		history.ReasonHTTPStatus, history.ReasonDecode, history.ReasonQuery, history.ReasonUnqueryable,
		reasonBackoff, reasonOverflow} {
		s.failed[r] = reg("bootstrap_failed_" + string(r))
	}
	return s
}

// failure is the counter of series not bootstrapped for reason.
func (s *bootStats) failure(reason history.Reason) selfstat.Stat {
	if st, ok := s.failed[reason]; ok {
		return st
	}
	st := s.c.Register("anomaly", "bootstrap_failed_"+string(reason), nil)
	s.failed[reason] = st
	return st
}
