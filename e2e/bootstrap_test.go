package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The collectors learn a series they have no model for from its history in
// the database they write ([processors.anomaly.history] in
// configs/collector.conf), so a series is scored from its first point on
// every collector: on day one, after a scale-out or a scale-in, and it warms
// up live when the database cannot answer.

// TestDayOne: InfluxDB holds a week of the labelled ec2 series on four hosts,
// as collectors would have written it (scored by the collector's processor
// block, anomalous points under the anomaly tag); the collectors start with
// no state file and the rest of the series streams through the agent. No
// live point warms up, the labelled incidents of the live part are flagged,
// and every live point is scored exactly as by a processor that saw each
// series whole.
func TestDayOne(t *testing.T) {
	l := newLayout(t, "dayone", "c1", "c2")
	d := l.ec2OnEveryHost(t).withoutRepeats()
	const week = 2016 // points at 5 minutes
	history, live := d.split(week)
	stored := filepath.Join(l.dir, "week")
	if err := os.MkdirAll(stored, 0o750); err != nil {
		t.Fatal(err)
	}
	replay(t, history, stored)
	lp, err := os.ReadFile(filepath.Join(stored, "replay-output.lp"))
	if err != nil {
		t.Fatal(err)
	}
	influxWrite(t, l.db, lp)
	logf("%s: InfluxDB holds a week of %d series (%d points, stored as the collectors store them); streaming the next %d points",
		t.Name(), len(history.times), history.distinct(), live.distinct())

	since := time.Now()
	if err := l.sendAll(live.chunks(2000), 0); err != nil {
		t.Fatal(err)
	}
	got := waitAllPoints(t, l.db, d, 3*time.Minute)
	checkNoLoss(t, d, got)
	want := replay(t, d, l.dir)
	for _, k := range live.keys() {
		from := live.times[k][0]
		warming := countIf(got, k, from-1, func(s *scored) bool { return s.warming })
		ws := labelledWindows(t, k.series, d.source[k])
		hit, inLive := 0, 0
		for _, w := range ws {
			if w.start < from {
				continue
			}
			inLive++
			for ts, s := range got[k] {
				if ts >= w.start && ts <= w.end && s.tag != "" {
					hit++
					break
				}
			}
		}
		logf("%s: RESULT %s: %d live points from %s, %d of them warming (want 0); %d of the %d labelled windows in the live part flagged",
			t.Name(), k, len(live.times[k]), tsStr(from), warming, hit, inLive)
		if warming > 0 {
			t.Errorf("series %s: %d live points carry a warming flag: it was not learned from its history", k, warming)
		}
		if inLive == 0 || hit < inLive {
			t.Errorf("series %s: %d of the %d labelled windows of the live part flagged", k, hit, inLive)
		}
	}
	if n, ex := diffScores(live, want, got, live.keys()); n > 0 {
		t.Errorf("%d live points scored otherwise than by a processor that saw the whole series, e.g.:\n  %s", n, strings.Join(ex, "\n  "))
	}
	var stats map[string]map[string]float64
	waitFor(t, 30*time.Second, "internal_anomaly: the four series bootstrapped from a week each", func() (bool, error) {
		stats = internalLast(t, l.db, since, "bootstrap_series", "bootstrap_points", "bootstrap_latency_ns")
		series, points := 0.0, 0.0
		for _, m := range stats {
			series += m["bootstrap_series"]
			points += m["bootstrap_points"]
		}
		return series == float64(len(live.times)) && points == float64(history.distinct()), fmt.Errorf("internal_anomaly: %v", stats)
	})
	logf("%s: internal_anomaly per collector: %v", t.Name(), stats)
}

// TestScaleOutAndIn: two collectors score the ec2 series of four hosts, sent
// over TCP to the agent's socket_listener; a
// third joins the consumer group (Kafka moves a partition to it), later the
// first leaves (its partitions move to the others). Each series that moved
// is learned on its new collector from its history in InfluxDB: no series
// warms up again, and every point of every series, moved or not, is scored
// exactly as by an uninterrupted collector. A series moved away falls
// silent at the collector that lost it, with the others of its partition:
// no absent incident opens.
//
// The handovers happen with nothing in flight: each part of the stream is in
// InfluxDB (and delivered) before the group changes. A rebalance in
// mid-stream delivers again the points in flight, which a collector that
// keeps its partition has learned already: it scores them as old points
// (scored against its model, not learned), a second score that InfluxDB keeps
// over the first. That is at-least-once delivery, not the bootstrap, and
// TestCollectorCrash covers it.
func TestScaleOutAndIn(t *testing.T) {
	l := newLayout(t, "scale", "c1", "c2")
	l.viaSocket = true // the agent's other listener: TCP (socket_listener)
	d := l.ec2OnEveryHost(t).withoutRepeats()
	third := len(d.times[d.keys()[0]]) / 3
	part1, rest := d.split(third)
	part2, part3 := rest.split(third)
	quiet := func(p *dataset, upTo *dataset) {
		t.Helper()
		if err := l.sendAll(p.chunks(400), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitAllPoints(t, l.db, upTo, 2*time.Minute)
		time.Sleep(2 * time.Second) // the last deliveries reach the consumer and its offsets are marked
	}
	g0 := l.assigned
	quiet(part1, part1)

	l.collectors["c3"] = startTelegraf(t, l.dir, "c3", collectorConf(), l.collectorEnv("c3"))
	g1 := waitGroup(t, l.group, l.topic, partitions, "c1", "c2", "c3")
	out := l.moved(d, g0, g1)
	quiet(part2, d.filter(func(p linePoint) bool { return p.i < 2*third }))

	l.collectors["c1"].stop()
	g2 := waitGroup(t, l.group, l.topic, partitions, "c2", "c3")
	in := l.moved(d, g1, g2)
	if err := l.sendAll(part3.chunks(400), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := waitAllPoints(t, l.db, d, 3*time.Minute)
	checkNoLoss(t, d, got)
	logf("%s: scale-out %s -> %s moved %v; scale-in -> %s moved %v", t.Name(), g0, g1, out, g2, in)
	if len(out) == 0 || len(in) == 0 {
		t.Fatalf("a series must move at each step: scale-out moved %v, scale-in %v", out, in)
	}

	want := replay(t, d, l.dir)
	for _, k := range d.keys() {
		end := warmEnd(want, k)
		if rewarm := countIf(got, k, end, func(s *scored) bool { return s.warming }); rewarm > 0 {
			t.Errorf("series %s warmed up again: %d warming points after its first warm-up (ended %s)", k, rewarm, tsStr(end))
		}
	}
	n, ex := diffScores(d, want, got, d.keys())
	logf("%s: RESULT %d series moved at the scale-out, %d at the scale-in; %d of %d points scored otherwise than by an uninterrupted collector",
		t.Name(), len(out), len(in), n, d.distinct())
	if n > 0 {
		t.Errorf("%d points scored otherwise than by an uninterrupted collector, e.g.:\n  %s", n, strings.Join(ex, "\n  "))
	}
	var stats map[string]map[string]float64
	waitFor(t, 30*time.Second, fmt.Sprintf("internal_anomaly: the %d moves bootstrapped", len(out)+len(in)), func() (bool, error) {
		stats = internalLast(t, l.db, time.Time{}, "bootstrap_series", "bootstrap_points", "bootstrap_empty")
		bootstrapped := 0.0
		for _, m := range stats {
			bootstrapped += m["bootstrap_series"]
		}
		return int(bootstrapped) >= len(out)+len(in), fmt.Errorf("internal_anomaly: %v", stats)
	})
	logf("%s: internal_anomaly per collector: %v", t.Name(), stats)
	// The series a rebalance moved away fell silent at the collector that
	// lost them, together: no absent incident (see the processor's README).
	crowds := internalLast(t, l.db, time.Time{}, "silent_crowds", "series_silent_together", "incidents_absent")
	logf("%s: silence per collector: %v", t.Name(), crowds)
	if n := absentIncidents(t, l.db); n > 0 {
		t.Errorf("%d absent incident events: a rebalance must raise none", n)
	}
}

// moved returns the series of d whose partition has another collector in
// after than in before.
func (l *layout) moved(d *dataset, before, after group) []key {
	var out []key
	for i, h := range l.hosts {
		k, ok := d.hostOf[h]
		if ok && owner(before, int32(i)) != owner(after, int32(i)) {
			out = append(out, k)
		}
	}
	return out
}

// TestHistoryDown: InfluxDB is down when the collectors first see their
// series. They cannot read their history: each logs it once, and the series
// warm up live at once, not after max_wait: once InfluxDB is back, every
// point arrives, scored exactly as by a collector without history, sooner
// than max_wait after the first was sent.
func TestHistoryDown(t *testing.T) {
	l := newLayout(t, "histdown", "c1", "c2")
	d := l.ec2OnEveryHost(t)
	if err := script(time.Minute, "influxdb.sh", "stop"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := l.sendAll(d.chunks(5000), 0); err != nil {
		t.Fatal(err)
	}
	failure := regexp.MustCompile(`Could not read the history of new series \(history: query \S+ .*connection`)
	for _, id := range []string{"c1", "c2"} {
		c := l.collectors[id]
		waitFor(t, 30*time.Second, id+" logging that the history cannot be read", func() (bool, error) {
			return failure.MatchString(c.log()), nil
		})
	}
	time.Sleep(time.Until(t0.Add(8 * time.Second))) // the outage: nothing to poll for
	if err := script(time.Minute, "influxdb.sh", "start"); err != nil {
		t.Fatal(err)
	}
	got := waitAllPoints(t, l.db, d, 3*time.Minute)
	took := time.Since(t0)
	checkNoLoss(t, d, got)
	const maxWait = 30 * time.Second // collector.conf
	logf("%s: RESULT every point in InfluxDB %s after the first was sent, InfluxDB down for the first 8 s", t.Name(), took.Round(time.Millisecond))
	if took >= maxWait {
		t.Errorf("the points arrived %s after they were sent: the series waited for history that could not come (max_wait %s)", took, maxWait)
	}
	want := replay(t, d, l.dir)
	if n, ex := diffScores(d, want, got, d.keys()); n > 0 {
		t.Errorf("%d points scored otherwise than by a collector without history, e.g.:\n  %s", n, strings.Join(ex, "\n  "))
	}
	for _, id := range []string{"c1", "c2"} {
		if n := len(failure.FindAllString(l.collectors[id].log(), -1)); n != 1 {
			t.Errorf("%s logged the failure %d times, want once (for 2 series)", id, n)
		}
	}
	stats := internalLast(t, l.db, t0, "bootstrap_failed_connection", "bootstrap_series", "metrics_held")
	failed := 0.0
	for _, m := range stats {
		failed += m["bootstrap_failed_connection"]
	}
	logf("%s: internal_anomaly per collector: %v", t.Name(), stats)
	if failed != float64(len(d.times)) {
		t.Errorf("internal_anomaly counts %v series whose history failed on a connection, want %d: %v", failed, len(d.times), stats)
	}
}
