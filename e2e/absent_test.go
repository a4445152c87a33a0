package e2e

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSilentSeriesReachesOnCall follows a series that stops reporting
// while the others of its collector go on, with the collector
// configuration as shipped: it opens one absent incident, which reaches
// Alertmanager as one alert with the series' labels, and resolves when the
// series returns; the incident is the one the processor finds when it
// scores the same points on its own (a backtest sees the same silences as
// live traffic).
func TestSilentSeriesReachesOnCall(t *testing.T) {
	l := newLayout(t, "absent", "c1")
	host := l.hosts[0] // one partition: the collector sees the points in order
	start := time.Now().Add(-12 * time.Hour).Truncate(time.Minute)
	lines, back := silentSeries(host, start)

	var absent []event
	for _, e := range referenceIncidents(t, lines, l.dir) {
		if e.Fields["reason"] == "absent" {
			absent = append(absent, e)
		}
	}
	require.Len(t, absent, 2, "series s0 opens one absent incident and resolves it: %+v", absent)
	require.Equal(t, "open", absent[0].Fields["state"])
	require.Equal(t, "resolved", absent[1].Fields["state"])
	id := absent[0].Fields["id"].(string)
	require.Equal(t, id, absent[1].Fields["id"])
	require.Equal(t, "s0", absent[0].Tags["series"])

	// The warm-up first, all of it scored before the silence: the metrics
	// of a new series wait for its history, each series apart, so a series
	// can get ahead of the others then, and a silence among series still
	// in warm-up would be none of theirs.
	warm := silentWarm * 10
	require.NoError(t, l.sendAll(chunk(lines[:warm]), 0))
	waitFor(t, time.Minute, fmt.Sprintf("the %d points of the warm-up in InfluxDB", warm), func() (bool, error) {
		n, err := silentPoints(l.db)
		if err != nil {
			return false, err
		}
		return n == warm, fmt.Errorf("%d points", n)
	})
	require.NoError(t, l.sendAll(chunk(lines[warm:back]), 0))
	alerts := waitAlerts(t, id, 1)
	require.Equal(t, map[string]string{
		"alertname": "AnomalyDetected", "severity": "critical", "incident_id": id,
		"measurement": silentMeasurement, "field": "value", "host": host, "series": "s0",
	}, alerts[0].Labels)
	waitNotified(t, id, "firing")

	require.NoError(t, l.sendAll(chunk(lines[back:]), 0))
	waitNotified(t, id, "resolved")
	n := 0
	for _, note := range e.webhook.notified("incident_id", id) {
		if note.Status == "firing" {
			n++
		}
	}
	require.Equal(t, 1, n, "the absent incident is notified as firing once")
}

// silentMeasurement names the series of TestSilentSeriesReachesOnCall apart
// from every other test's in the shared Alertmanager.
const silentMeasurement = "silent"

// silentWarm is how many minutes of points of all ten series come before
// the silence: more than the shipped warm-up (288 points).
const silentWarm = 320

// silentPoints counts the points of silentMeasurement in db.
func silentPoints(db string) (int, error) {
	rows, err := influxQuery(db, `SELECT count(value) FROM `+silentMeasurement)
	if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
		return 0, err
	}
	n, _ := num(rows[0].Values[0][1])
	return int(n), nil
}

// silentSeries is ten series of one host, s0 to s9, of 1-minute points of
// Gaussian noise around 100: enough for the shipped warm-up, then s0 stops
// for 20 minutes while the others go on, and comes back. It returns the
// lines, in time order, and the index of s0's first point back.
func silentSeries(host string, start time.Time) (lines []string, back int) {
	rng := rand.New(rand.NewPCG(5, 6))
	const gap, after = 20, 10
	for i := range silentWarm + gap + after {
		ts := start.Add(time.Duration(i) * time.Minute).UnixNano()
		for s := range 10 {
			if s == 0 && i >= silentWarm && i < silentWarm+gap {
				continue
			}
			if s == 0 && i == silentWarm+gap {
				back = len(lines)
			}
			lines = append(lines, fmt.Sprintf("%s,host=%s,series=s%d value=%g %d", silentMeasurement, host, s, 100+rng.NormFloat64(), ts))
		}
	}
	return lines, back
}

// absentIncidents counts the absent incident events the collectors of db
// passed on.
func absentIncidents(t *testing.T, db string) int {
	t.Helper()
	rows, err := influxQuery(db, `SELECT count("state") FROM anomaly_incident WHERE "reason" = 'absent'`)
	require.NoError(t, err)
	n := 0
	for _, r := range rows {
		for _, v := range r.Values {
			c, _ := num(v[1])
			n += int(c)
		}
	}
	return n
}
