package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReplayShowsTheAbsentIncidentsOfThePlugin protects the promise that a
// backtest shows the silences live traffic does: `anomaly replay --absent`
// finds the absent incidents processors.anomaly opens on the same metrics,
// with the same start, last point and return: one series that stops for a
// while and comes back, one that stops for good, while eight go on.
func TestReplayShowsTheAbsentIncidentsOfThePlugin(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "anomaly.conf")
	require.NoError(t, os.WriteFile(config, []byte("[[processors.anomaly]]\n  warmup_points = 30\n"), 0o600))
	rng := rand.New(rand.NewPCG(8, 9))
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	lines := make([]string, 0, 120*10)
	for i := range 120 {
		for s := range 10 {
			if s == 0 && i >= 60 && i < 80 || s == 1 && i >= 100 {
				continue
			}
			lines = append(lines, fmt.Sprintf("silent,series=s%d value=%g %d", s, 100+rng.NormFloat64(), start.Add(time.Duration(i)*time.Minute).UnixNano()))
		}
	}
	file := filepath.Join(dir, "silent.lp")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	absent := filepath.Join(dir, "absent.csv")
	var out bytes.Buffer
	require.NoError(t, run([]string{"replay", "--config", config, "--absent", absent, file}, &out, &out))
	f, err := os.Open(absent)
	require.NoError(t, err)
	defer f.Close()
	got, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)

	p, output := runPlugin(t, config, file)
	want := make([][]string, 0, 1+len(output))
	want = append(want, []string{"series", "started", "last_seen", "resolved"})
	format := func(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
	rows := map[string]int{} // incident id -> its row
	for _, m := range output {
		if reason, _ := m.GetField("reason"); m.Name() != p.IncidentMeasurement || reason != "absent" {
			continue
		}
		id, _ := m.GetField("id")
		if state, _ := m.GetField("state"); state == "resolved" {
			want[rows[id.(string)]][3] = format(m.Time().UnixNano())
			continue
		}
		started, _ := m.GetField("started")
		lastSeen, _ := m.GetField("last_seen")
		rows[id.(string)] = len(want)
		want = append(want, []string{"silent,series=" + m.Tags()["series"] + " value", format(started.(int64)), format(lastSeen.(int64)), ""})
	}
	require.Len(t, want, 3, "the plugin opens an absent incident for each series that stopped")
	require.Equal(t, want, got)
	require.NotEmpty(t, got[1][3], "the series that came back resolves its incident")
	require.Empty(t, got[2][3], "the series that stopped for good is still absent at the end")
}
