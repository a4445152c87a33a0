package history

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

// TestFetchEqualsTheDefinition checks Fetch on random databases against
// the definition of a series' history, computed point by point: the
// points of the series' measurement and field whose identifying tags are
// the series' (the anomaly tag and, with series_tags a subset, other tags
// aside), in [Start-lookback, Start), one per timestamp (that of the
// stored series InfluxDB sends first), the max_points most recent, each
// value the exact float64 stored. The databases have what makes the client
// work: anomalous points in series of their own, extra tags, duplicate
// timestamps, fields missing from rows, starts close and far apart, and
// max_points that binds or not, so LIMIT cuts some stored series short.
func TestFetchEqualsTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	const step = int64(20 * time.Second)
	var refetches int64
	for run := range 60 {
		mode := serverModes[run%len(serverModes)]
		seriesTags := [][]string{nil, {"host"}}[run%2]
		t.Run(fmt.Sprintf("%d/%s/series_tags=%v", run, mode.name, seriesTags), func(t *testing.T) {
			f := historytest.New(t)
			f.ChunkSize, f.NotChunked = mode.chunkSize, mode.notChunked
			// Stored series: host × dc (absent or not) × anomaly (absent, up, down).
			stored := make([]map[string]string, 0, 3*2*3)
			for _, host := range []string{"a", "b", "c"} {
				for _, dc := range []string{"", "x"} {
					for _, anomaly := range []string{"", "up", "down"} {
						tg := tags("host", host)
						if dc != "" {
							tg["dc"] = dc
						}
						if anomaly != "" {
							tg["anomaly"] = anomaly
						}
						stored = append(stored, tg)
					}
				}
			}
			for _, tg := range stored {
				for k := range int64(30) {
					if rng.IntN(3) == 0 {
						continue
					}
					fields := map[string]any{"v": randomValue(rng), "v_score": rng.Float64()}
					if rng.IntN(2) == 0 {
						fields["w"] = randomValue(rng)
					}
					f.Add(pt("m", tg, k*step, fields))
				}
			}
			cfg := testConfig(f.URL)
			cfg.Lookback = config.Duration([]int64{2 * step, 10 * step, int64(time.Hour)}[rng.IntN(3)])
			cfg.MaxPoints = []int{1, 2, 5, 100}[rng.IntN(4)]
			cfg.Concurrency = 1 + rng.IntN(3)
			id := Identity{AnomalyTag: "anomaly"}
			if seriesTags != nil {
				var err error
				id.Tags, err = filter.Compile(seriesTags)
				require.NoError(t, err)
			}
			c, err := New(cfg, id)
			require.NoError(t, err)

			series := make([]Series, 0, 4*3*2)
			for _, host := range []string{"a", "b", "c", "d"} {
				for _, dc := range []string{"", "x", "y"} {
					for _, field := range []string{"v", "w"} {
						tg := tags("host", host)
						if dc != "" {
							tg["dc"] = dc
						}
						series = append(series, Series{Tags: tg, Field: field, Start: rng.Int64N(32) * step})
					}
				}
			}
			got := fetch(t, c, "m", series)
			refetches += c.Stats().Refetches
			for i, s := range series {
				want := definition(f.Points(), &id, s, int64(cfg.Lookback), cfg.MaxPoints)
				require.NoError(t, got[i].Err)
				require.Equal(t, want, got[i].Points, "series %v", s)
			}
		})
	}
	require.Positive(t, refetches, "no series was cut short by LIMIT: the databases miss the hard case")
}

// randomValue is a float64 of any bit pattern but NaN and ±Inf, or a small integer.
func randomValue(rng *rand.Rand) any {
	if rng.IntN(4) == 0 {
		return rng.Int64N(2*maxExactInt+1) - maxExactInt
	}
	for {
		f := math.Float64frombits(rng.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
}

// definition is the history of s in points, by its definition.
func definition(all []historytest.Point, id *Identity, s Series, lookback int64, maxPoints int) []Point {
	identity := func(tg map[string]string) string {
		var out []string
		for k, v := range tg {
			if v != "" && id.identifies(k) {
				out = append(out, k+"="+v)
			}
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	tagKeys := map[string]bool{}
	for _, p := range all {
		for k := range p.Tags {
			tagKeys[k] = true
		}
	}
	type candidate struct {
		Point
		key string
	}
	in := make([]candidate, 0, len(all))
	for _, p := range all {
		value, ok := p.Fields[s.Field]
		if !ok || p.Time < s.Start-lookback || p.Time >= s.Start || identity(p.Tags) != identity(s.Tags) {
			continue
		}
		var x float64
		switch value := value.(type) {
		case float64:
			x = value
		case int64:
			x = float64(value)
		}
		in = append(in, candidate{Point{p.Time, x}, historytest.GroupKey(tagKeys, p.Tags)})
	}
	// Of points at one timestamp, the client keeps the first to come:
	// newest first, InfluxDB sends the series in reverse order.
	slices.SortFunc(in, func(a, b candidate) int { return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(b.key, a.key)) })
	var out []Point
	for i, c := range in {
		if i > 0 && in[i-1].Time == c.Time {
			continue
		}
		out = append(out, c.Point)
	}
	if len(out) > maxPoints {
		out = out[len(out)-maxPoints:]
	}
	return out
}
