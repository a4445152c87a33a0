package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFlow replays the three labelled NAB series (one per host, a fourth host
// repeating the shortest) through agent -> Kafka (4 partitions) -> two
// collectors -> InfluxDB and checks that everything arrives, scored exactly as
// a direct replay of the same points through the same processor block scores
// them: same scores, same flags, same anomaly marks at the same timestamps.
func TestFlow(t *testing.T) {
	l := newLayout(t, "flow", "c1", "c2")
	d := makeDataset(t, [][2]string{
		{l.hosts[0], "ec2_request_latency_system_failure"},
		{l.hosts[1], "nyc_taxi"},
		{l.hosts[2], "machine_temperature_system_failure"},
		{l.hosts[3], "ec2_request_latency_system_failure"},
	})
	logf("%s: %d points (%d distinct timestamps) in %d series, hosts %v", t.Name(), len(d.lines), d.distinct(), len(d.times), l.hosts)
	t0 := time.Now()
	if err := l.sendAll(d.chunks(5000), 0); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(t0)
	got := waitAllPoints(t, l.db, d, 3*time.Minute)
	took := time.Since(t0)
	logf("%s: agent took the %d points in %s; all in InfluxDB %s after the first POST (%.0f points/s end to end, including the 1 s flushes)",
		t.Name(), len(d.lines), sent.Round(time.Millisecond), took.Round(time.Millisecond), float64(len(d.lines))/took.Seconds())

	checkNoLoss(t, d, got)
	want := replay(t, d, l.dir)
	n, ex := diffScores(d, want, got, d.keys())
	if n > 0 {
		t.Errorf("%d points scored differently in the pipeline than in the direct replay, e.g.:\n  %s", n, strings.Join(ex, "\n  "))
	}

	// The anomaly marks, and where they fall against the labelled windows.
	for _, k := range d.keys() {
		wm, gm := want.marks(k), got.marks(k)
		if !mapsEqual(wm, gm) {
			t.Errorf("series %s: anomaly marks differ: replay %d %v, pipeline %d %v", k, len(wm), sortedTS(wm), len(gm), sortedTS(gm))
		}
		ws := labelledWindows(t, k.series, d.source[k])
		in, after, hit := windowStats(ws, gm)
		logf("%s: RESULT %s: %d anomaly marks in InfluxDB = %d in the direct replay (identical timestamps: %v); "+
			"%d inside a labelled window, %d within a window's length after one, %d of %d windows hit",
			t.Name(), k, len(gm), len(wm), mapsEqual(wm, gm), in, after, hit, len(ws))
	}

	// The collectors' own statistics (inputs.internal) reach InfluxDB too, and
	// add up to what the replay scored.
	scoredWant := 0
	for _, m := range want {
		for _, s := range m {
			if s.hasScore {
				scoredWant++
			}
		}
	}
	var last map[string]map[string]float64
	waitFor(t, 30*time.Second, "internal_anomaly of both collectors in InfluxDB adding up to the scored points", func() (bool, error) {
		last = internalLast(t, l.db, t0, "points_scored", "series", "anomalies")
		sum := 0.0
		for _, m := range last {
			sum += m["points_scored"]
		}
		return len(last) == 2 && int(sum) == scoredWant, fmt.Errorf("internal_anomaly: %v, want %d scored", last, scoredWant)
	})
	logf("%s: internal_anomaly per collector: %v (replay scored %d points)", t.Name(), last, scoredWant)
}

// TestCollectorCrash kills one collector with SIGKILL in the middle of the
// stream, after its series are past warm-up and a snapshot holds them, and
// restarts it at once. Nothing may be lost (at-least-once: repeats are
// allowed and counted), the restarted collector must resume its series from
// the snapshot (no second warm-up) and raise no burst of anomalies, and the
// other collector's series must be untouched.
func TestCollectorCrash(t *testing.T) {
	l := newLayout(t, "crash", "c1", "c2")
	d := l.ec2OnEveryHost(t)
	victim, other := l.holderOfPartition0()
	vKeys, oKeys := l.keysOf(d, l.assigned, victim), l.keysOf(d, l.assigned, other)
	g := l.assigned
	logf("%s: %d points in %d series; victim %s holds %v (%v), %s holds %v", t.Name(), len(d.lines), len(d.times),
		victim, g.members[victim], vKeys, other, oKeys)
	warm := warmupPoints(t)

	// ~12 s of traffic: 200 points (50 per host) every 150 ms.
	sending := l.sendInBackground(d.chunks(200), 150*time.Millisecond)

	// Kill once every victim series is well past warm-up and a snapshot was written after that.
	past := 3 * warm
	waitForPoints(t, l, vKeys, past, victim)
	pastAt := time.Now()
	waitStateSaved(t, l.stateFile(victim), pastAt)
	killTS := lastTimestamps(t, l.db)
	vp := l.collectors[victim]
	vp.kill9()
	killedAt := time.Now()
	vp.start()
	logf("%s: %s killed and restarted; newest victim points in InfluxDB at the kill: %v", t.Name(), victim, tsMap(killTS, vKeys))

	dead := map[string]string{}
	for id, client := range g.memberIDs {
		if client == victim {
			dead[id] = client
		}
	}
	g2 := waitGroupWithout(t, l.group, l.topic, partitions, dead, "c1", "c2")
	if !slices.Equal(g2.members[victim], g.members[victim]) {
		t.Errorf("after the restart %s holds partitions %v, before it held %v: balance_strategy = \"sticky\" should have given them back",
			victim, g2.members[victim], g.members[victim])
	}
	if err := <-sending; err != nil {
		t.Fatal(err)
	}
	got := waitAllPoints(t, l.db, d, 3*time.Minute)
	logf("%s: the pipeline was whole again %s after the kill", t.Name(), time.Since(killedAt).Round(time.Millisecond))
	checkNoLoss(t, d, got)

	if m := regexp.MustCompile(`Restored (\d+) series`).FindAllStringSubmatch(vp.log(), -1); len(m) == 0 {
		t.Errorf("%s did not restore its state file after the restart:\n%s", victim, vp.log())
	} else if n, _ := strconv.Atoi(m[len(m)-1][1]); n < len(vKeys) {
		t.Errorf("%s restored %d series, it held %d", victim, n, len(vKeys))
	} else {
		logf("%s: %s: %s", t.Name(), victim, m[len(m)-1][0])
	}

	want := replay(t, d, l.dir)
	for _, k := range vKeys {
		end := warmEnd(want, k)
		rewarm := countIf(got, k, end, func(s *scored) bool { return s.warming })
		after := killTS[k]
		gotAnoms := countIf(got, k, after, func(s *scored) bool { return s.tag != "" })
		wantAnoms := countIf(want, k, after, func(s *scored) bool { return s.tag != "" })
		unscored := countIf(got, k, 0, func(s *scored) bool { return !s.hasScore })
		repeats := countIf(got, k, 0, func(s *scored) bool { return s.unscoredCopies > 0 })
		logf("%s: RESULT %s (crashed collector): %d warming points after its first warm-up (want 0); "+
			"%d anomalies after the kill point %s vs %d in the direct replay; "+
			"%d timestamps with an unscored copy, %d of them only unscored (want 0: a repeat the restored model had seen is scored, not learned)",
			t.Name(), k, rewarm, gotAnoms, tsStr(after), wantAnoms, repeats, unscored)
		if rewarm > 0 {
			t.Errorf("series %s warmed up again after the crash (%d warming points after %s): the snapshot was not used", k, rewarm, tsStr(end))
		}
		if gotAnoms > 2*wantAnoms+3 {
			t.Errorf("series %s: burst of anomalies after the crash: %d after %s, the direct replay has %d", k, gotAnoms, tsStr(after), wantAnoms)
		}
		if unscored > 0 {
			t.Errorf("series %s: %d points in InfluxDB without a score or a warming flag after the crash: "+
				"a redelivered point is scored (not learned)", k, unscored)
		}
	}
	// The other collector's series saw only a pause: scored exactly as in
	// the replay, but for the points of theirs that were in flight when the
	// group rebalanced after the kill. Kafka delivers those again, the
	// model has learned them already, and it scores them again as old
	// points (against the model as it is, not learned): a second score,
	// which InfluxDB keeps over the first. internal_anomaly counts them
	// (points_duplicate, points_out_of_order, beside the timestamps the input
	// repeats): no more points may differ.
	arrived := time.Now()
	var stats map[string]map[string]float64
	waitFor(t, 30*time.Second, "internal_anomaly of both collectors after every point arrived", func() (bool, error) {
		stats = internalLast(t, l.db, arrived, "points_scored", "points_out_of_order", "points_duplicate", "series_restored")
		return len(stats) == 2, fmt.Errorf("internal_anomaly: %v", stats)
	})
	repeats := 0
	for _, p := range d.points {
		if slices.Contains(oKeys, p.k) {
			repeats++
		}
	}
	for _, k := range oKeys {
		repeats -= len(d.times[k])
	}
	again := int(stats[other]["points_duplicate"]+stats[other]["points_out_of_order"]) - repeats
	for _, k := range oKeys {
		if n := countIf(got, k, 0, func(s *scored) bool { return !s.hasScore }); n > 0 {
			t.Errorf("series %s: %d points in InfluxDB without a score or a warming flag", k, n)
		}
	}
	n, ex := diffScores(d, want, got, oKeys)
	logf("%s: RESULT %s (survivor): %d points delivered again after the kill and scored as old points; %d points differ from the replay",
		t.Name(), other, again, n)
	if n > again {
		t.Errorf("%d points of the surviving collector's series differ from the replay, %d were delivered again, e.g.:\n  %s",
			n, again, strings.Join(ex, "\n  "))
	}
	logf("%s: internal_anomaly: %v (points_out_of_order and points_duplicate count the points Kafka delivered again, "+
		"and the input's own repeats: %d timestamps per ec2 series)", t.Name(), stats, repeats/len(oKeys))
}

// TestServerOutages restarts the Kafka broker in the middle of the stream,
// then stops InfluxDB for 20 s and starts it again. The agent buffers while
// Kafka is away, the collectors stop consuming while InfluxDB is away (at
// most max_undelivered_messages in flight), and nothing is lost.
func TestServerOutages(t *testing.T) {
	l := newLayout(t, "outage", "c1", "c2")
	d := l.ec2OnEveryHost(t)
	since := time.Now()
	// ~30 s of traffic: 200 points every 350 ms.
	sending := l.sendInBackground(d.chunks(200), 350*time.Millisecond)
	waitProgress := func(atLeast int) {
		waitFor(t, 3*time.Minute, fmt.Sprintf("%d points in InfluxDB", atLeast), func() (bool, error) {
			sum, err := total(l.db)
			if err != nil {
				return false, err
			}
			return sum >= atLeast, fmt.Errorf("%d points", sum)
		})
	}
	waitProgress(d.distinct() / 8)

	t0 := time.Now()
	if err := script(2*time.Minute, "kafka.sh", "restart"); err != nil {
		t.Fatal(err)
	}
	logf("%s: Kafka restarted in %s", t.Name(), time.Since(t0).Round(time.Millisecond))
	before, err := total(l.db)
	if err != nil {
		t.Fatal(err)
	}
	waitProgress(before + 1000) // points flow again through the restarted broker
	logf("%s: points flow again %s after the Kafka restart began", t.Name(), time.Since(t0).Round(time.Millisecond))

	t1 := time.Now()
	if err := script(time.Minute, "influxdb.sh", "stop"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second) // the outage itself: nothing to poll for
	if err := script(time.Minute, "influxdb.sh", "start"); err != nil {
		t.Fatal(err)
	}
	logf("%s: InfluxDB was down for %s", t.Name(), time.Since(t1).Round(time.Millisecond))

	if err := <-sending; err != nil {
		t.Fatal(err)
	}
	got := waitAllPoints(t, l.db, d, 3*time.Minute)
	checkNoLoss(t, d, got)
	repeats, unscored := 0, 0
	for _, k := range d.keys() {
		repeats += countIf(got, k, 0, func(s *scored) bool { return s.unscoredCopies > 0 })
		unscored += countIf(got, k, 0, func(s *scored) bool { return !s.hasScore })
	}
	logf("%s: RESULT all %d points of %d series arrived after a Kafka restart and a 20 s InfluxDB outage; whole %s after the InfluxDB stop; "+
		"%d timestamps also hold an unscored repeat (at-least-once redelivery), %d hold only an unscored copy (score lost)",
		t.Name(), d.distinct(), len(d.times), time.Since(t1).Round(time.Millisecond), repeats, unscored)
	procs := map[string]*proc{"agent": l.agent, "c1": l.collectors["c1"], "c2": l.collectors["c2"]}
	for name, p := range procs {
		n := strings.Count(p.log(), " E! ")
		logf("%s: %s logged %d errors during the outages (see %s)", t.Name(), name, n, p.logPath())
		if strings.Contains(p.log(), "Metric buffer overflow") {
			t.Errorf("%s dropped metrics (Metric buffer overflow in its log)", name)
		}
	}

	// Neither collector dropped a point from its buffer: both report it, as 0.
	rows, err := influxQuery(l.db, fmt.Sprintf(`SELECT max(metrics_dropped) FROM internal_write WHERE time >= %d GROUP BY "collector"`, since.UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[string]float64{}
	for _, r := range rows {
		dropped[r.Tags["collector"]], _ = num(r.Values[0][1])
	}
	if len(dropped) != 2 || dropped["c1"] != 0 || dropped["c2"] != 0 {
		t.Errorf("internal_write.metrics_dropped per collector: %v, want c1 and c2, both 0", dropped)
	}
}

// ---- small helpers ----

func mapsEqual(a, b map[int64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sortedTS(m map[int64]string) []string {
	ts := make([]int64, 0, len(m))
	for t := range m {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, tsStr(t)+"="+m[t])
	}
	return out
}

func tsMap(m map[key]int64, keys []key) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k.String()] = tsStr(m[k])
	}
	return out
}

// windowStats counts the marks inside a window, the marks within one window
// length after a window's end, and the windows with at least one mark inside.
func windowStats(ws []window, marks map[int64]string) (in, after, hit int) {
	hits := map[int]bool{}
	for t := range marks {
		for i, w := range ws {
			if t >= w.start && t <= w.end {
				in++
				hits[i] = true
				break
			}
			if t > w.end && t <= w.end+(w.end-w.start) {
				after++
				break
			}
		}
	}
	return in, after, len(hits)
}

// waitForPoints waits until InfluxDB holds at least n points of each of the
// series keys that collector holds.
func waitForPoints(t *testing.T, l *layout, keys []key, n int, collector string) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d points of each of %s's series in InfluxDB", n, collector), func() (bool, error) {
		c, err := counts(l.db)
		if err != nil {
			return false, err
		}
		for _, k := range keys {
			if c[k] < n {
				return false, fmt.Errorf("counts %v", c)
			}
		}
		return true, nil
	})
}
