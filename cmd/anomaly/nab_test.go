package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nabcorpus"
)

// nabDir returns the bundled NAB corpus with the published results,
// unpacked once into the repository's ignored .cache folder.
func nabDir(t *testing.T) string {
	t.Helper()
	dir, err := nabcorpus.Cached(filepath.Join("..", "..", ".cache"))
	require.NoError(t, err)
	return dir
}

// profileScores reads the three normalised scores from `anomaly nab` output.
func profileScores(t *testing.T, out string) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(standard|reward_low_FP_rate|reward_low_FN_rate)\s+(-?[0-9.]+)`).FindAllStringSubmatch(out, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		got[m[1]] = v
	}
	require.Len(t, got, 3, "three profiles in:\n%s", out)
	return got
}

// TestNABScorerReproducesPublishedDetectors runs the CLI on the published
// per-point outputs of two detectors: their published scores come back.
func TestNABScorerReproducesPublishedDetectors(t *testing.T) {
	dir := nabDir(t)
	for _, tc := range []struct {
		detector string
		want     map[string]float64 // results/final_results.json
	}{
		{"numenta", map[string]float64{"standard": 70.10, "reward_low_FP_rate": 63.12, "reward_low_FN_rate": 74.32}},
		{"windowedGaussian", map[string]float64{"standard": 39.65, "reward_low_FP_rate": 20.87, "reward_low_FN_rate": 47.41}},
	} {
		t.Run(tc.detector, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run([]string{"nab", "--nab-dir", dir, "--results", filepath.Join(dir, "results", tc.detector)}, &out, &out))
			for profile, score := range profileScores(t, out.String()) {
				require.InDelta(t, tc.want[profile], score, 0.2, "%s %s", tc.detector, profile)
			}
		})
	}
}

// TestNABOnTheDefaultDetector runs the benchmark as `make nab` does, on the
// corpus built into the tool, and checks that it completes in streaming
// order with sane scores.
func TestNABOnTheDefaultDetector(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"nab"}, &out, &out))
	require.Contains(t, out.String(), "58 files of the bundled corpus")
	t.Log("\n" + out.String())
	for profile, score := range profileScores(t, out.String()) {
		require.Greater(t, score, 0.0, "%s: the default detector must beat detecting nothing", profile)
	}
}
