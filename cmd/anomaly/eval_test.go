package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// labelledSeries writes an hourly series of 600 points, quiet noise around
// 100 after the warm-up, with a labelled spike at 400-402, an unlabelled spike
// at 450 and a labelled incident at 520-525 in which nothing happens: at
// the defaults one incident caught, one false alert, one incident missed.
// It writes the same points as CSV and as line protocol with a label field.
func labelledSeries(t *testing.T) (csvPath, lpPath string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var csv, lp strings.Builder
	csv.WriteString("timestamp,value,label\n")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 600 {
		v := 100 + rng.NormFloat64()
		label := 0
		switch {
		case i >= 400 && i <= 402:
			v, label = 160, 1
		case i == 450:
			v = 160
		case i >= 520 && i <= 525:
			label = 1
		}
		ts := t0.Add(time.Duration(i) * time.Hour)
		fmt.Fprintf(&csv, "%d,%.4f,%d\n", ts.Unix(), v, label)
		fmt.Fprintf(&lp, "kpi,id=a value=%.4f,truth=%di %d\n", v, label, ts.UnixNano())
	}
	dir := t.TempDir()
	csvPath, lpPath = filepath.Join(dir, "kpi.csv"), filepath.Join(dir, "kpi.lp")
	require.NoError(t, os.WriteFile(csvPath, []byte(csv.String()), 0o600))
	require.NoError(t, os.WriteFile(lpPath, []byte(lp.String()), 0o600))
	return csvPath, lpPath
}

var decisionLine = regexp.MustCompile(`at the detector's decisions: (\d+) alerts, (\d+) outside incidents; ` +
	`(\d+) incidents alerted, incident precision (\S+); (\d+) caught`)

// TestEvalCountsEvents runs `anomaly eval` on a small labelled file whose
// counts are known, in both input formats, and with a split that leaves the
// caught incident in the learned part.
func TestEvalCountsEvents(t *testing.T) {
	csvPath, lpPath := labelledSeries(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // alerts, outside, alerted, precision, caught
		head string
	}{
		{"csv", []string{csvPath}, []string{"2", "1", "1", "0.50", "1"}, "1 series, every point (600 points, 2 incidents"},
		{"line protocol", []string{"--label-field", "truth", lpPath}, []string{"2", "1", "1", "0.50", "1"},
			"1 series, every point (600 points, 2 incidents"},
		{"second part", []string{"--split", "0.7", csvPath}, []string{"1", "1", "0", "0.00", "0"},
			"1 series, each series after its first 0.7 learned (180 points, 1 incidents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run(append([]string{"eval"}, tc.args...), &out, &out))
			t.Log("\n" + out.String())
			require.Contains(t, out.String(), tc.head)
			m := decisionLine.FindStringSubmatch(out.String())
			require.NotNil(t, m, "no decision line in:\n%s", out.String())
			require.Equal(t, tc.want, m[1:])
			// The alerts by reason and by score band add up to the alerts.
			groups := regexp.MustCompile(`(?m)^\s*(score )?(\S+|< 0\.5|>= 0\.9)\s+(\d+)\s+(\d+)\s+\S+\s+\d+\s*$`).FindAllStringSubmatch(out.String(), -1)
			byReason, byBand := 0, 0
			for _, g := range groups {
				n, _ := strconv.Atoi(g[3])
				if g[1] == "" {
					byReason += n
				} else {
					byBand += n
				}
			}
			require.Equal(t, tc.want[0], strconv.Itoa(byReason), "alerts by reason")
			require.Equal(t, tc.want[0], strconv.Itoa(byBand), "alerts by score band")
			// At a threshold that keeps only the true spike, precision is 1,
			// unless the split left it in the learned part.
			caught := "1"
			if tc.name == "second part" {
				caught = "0"
			}
			require.Regexp(t, `(?m)^\s*0\.90\s+\S+\s+`+caught+`\s`, out.String())
		})
	}
}

func TestEvalRejectsUnlabelledInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plain.csv")
	require.NoError(t, os.WriteFile(path, []byte("timestamp,value\n1704067200,1\n"), 0o600))
	var out bytes.Buffer
	require.ErrorContains(t, run([]string{"eval", path}, &out, &out), `has no labels: want a "label" column or field`)
	require.ErrorContains(t, run([]string{"eval", "--split", "1", path}, &out, &out), "--split 1")
}

// TestKPIWritesWhatEvalReads protects the synthetic set's round trip: the
// files anomaly kpi writes are labelled series anomaly eval judges, with
// the incidents the generator reports.
func TestKPIWritesWhatEvalReads(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run([]string{"kpi", "--out", dir, "--series", "2", "--seed", "5"}, &out, &out))
	m := regexp.MustCompile(`^2 series, (\d+) points, (\d+) incidents`).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	paths, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	require.NoError(t, err)
	require.Len(t, paths, 2)
	out.Reset()
	require.NoError(t, run(append([]string{"eval"}, paths...), &out, &out))
	require.Contains(t, out.String(), fmt.Sprintf("2 series, every point (%s points, %s incidents", m[1], m[2]))
}
