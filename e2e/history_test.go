package e2e

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history"
)

// TestHistoryClient writes series to the real InfluxDB as the collectors do
// (anomalous points under the anomaly tag, the processor's output fields
// beside the scored one, extra tags), reads their history back with the
// history client, and compares it exactly, bit for bit, with what was
// written.
func TestHistoryClient(t *testing.T) {
	needServers(t)
	const db = "history"
	createDB(t, db)
	const step = int64(time.Minute)
	start := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC).UnixNano()
	rng := rand.New(rand.NewPCG(5, 6))

	// written[series][field] = the points written, oldest first.
	type seriesField struct{ series, field string }
	written := map[seriesField][]history.Point{}
	var lp bytes.Buffer
	// write adds n points of series (line protocol tags, escaped), one a
	// step from offset before start on, those that flagged says stored with
	// the anomaly tag, and those again without it when twice (a point the
	// processor passed on a second time, unscored).
	write := func(series, lpTags string, n int, offset int64, flagged func(i int) bool, twice bool) {
		for i := range n {
			t := start - int64(n-i)*step + offset
			v := randomFloat(rng)
			count := rng.Int64N(1 << 40)
			if i%50 == 7 {
				count = 1<<53 + 1 // beyond what the processor scores
			}
			fields := fmt.Sprintf("value=%s,count=%di,value_score=%s,value_anomaly=%t %d\n",
				strconv.FormatFloat(v, 'g', -1, 64), count, strconv.FormatFloat(rng.Float64(), 'g', -1, 64), flagged(i), t)
			if flagged(i) {
				fmt.Fprintf(&lp, "cpu,anomaly=up,%s %s", lpTags, fields)
			}
			if !flagged(i) || twice {
				fmt.Fprintf(&lp, "cpu,%s %s", lpTags, fields)
			}
			written[seriesField{series, "value"}] = append(written[seriesField{series, "value"}], history.Point{Time: t, Value: v})
			if count <= 1<<53 {
				written[seriesField{series, "count"}] = append(written[seriesField{series, "count"}], history.Point{Time: t, Value: float64(count)})
			}
		}
	}
	every := func(k int) func(int) bool { return func(i int) bool { return i%k == 3 } }
	never := func(int) bool { return false }
	write("a/eu", "dc=eu,host=a", 300, 0, every(10), false)
	write("a", "host=a", 200, 0, every(7), true)
	write("a/eu/cpu1", "cpu=1,dc=eu,host=a", 100, step/2, never, false)
	write("quoted", `dc=eu,host=it's\ "quoted"\,\ \=\ \\back`, 50, 0, every(5), false)
	influxWrite(t, db, lp.Bytes())

	fetch := func(seriesTags []string, maxPoints int, series []history.Series) []*history.Result {
		t.Helper()
		cfg := history.NewConfig()
		cfg.URLs = []string{e.influxURL}
		cfg.Database = db
		cfg.Lookback = config.Duration(24 * time.Hour)
		cfg.MaxPoints = maxPoints
		id := history.Identity{AnomalyTag: "anomaly"}
		if seriesTags != nil {
			var err error
			id.Tags, err = filter.Compile(seriesTags)
			require.NoError(t, err)
		}
		c, err := history.New(&cfg, id)
		require.NoError(t, err)
		defer c.Close()
		results := make([]*history.Result, len(series))
		c.Fetch(context.Background(), "cpu", series, func(i int, r *history.Result) { results[i] = r })
		for i, r := range results {
			require.NotNil(t, r, "series %d", i)
			require.NoError(t, r.Err, "series %d", i)
		}
		return results
	}
	eu := map[string]string{"host": "a", "dc": "eu"}
	// InfluxDB 1.x's line protocol keeps a backslash that escapes nothing.
	quoted := map[string]string{"host": `it's "quoted", = \\back`, "dc": "eu"}

	t.Run("every tag identifies", func(t *testing.T) {
		got := fetch(nil, 10000, []history.Series{
			{Tags: eu, Field: "value", Start: start},
			{Tags: map[string]string{"host": "a"}, Field: "value", Start: start},
			{Tags: quoted, Field: "value", Start: start},
			{Tags: eu, Field: "count", Start: start},
			{Tags: eu, Field: "value_score", Start: start - 100*step},
		})
		require.Equal(t, written[seriesField{"a/eu", "value"}], got[0].Points)
		require.Equal(t, written[seriesField{"a", "value"}], got[1].Points)
		require.Equal(t, 29, got[1].Duplicates) // i = 3, 10, ..., 199: stored with and without the anomaly tag
		require.Equal(t, written[seriesField{"quoted", "value"}], got[2].Points)
		require.Equal(t, written[seriesField{"a/eu", "count"}], got[3].Points)
		require.Equal(t, 6, got[3].Overflow) // i = 7, 57, ..., 257
		require.Len(t, got[4].Points, 200)   // a field is read when asked for, whatever its name
	})

	t.Run("series_tags a subset: stored series that differ in other tags are one", func(t *testing.T) {
		got := fetch([]string{"host", "dc"}, 10000, []history.Series{{Tags: eu, Field: "value", Start: start}})
		want := slices.Concat(written[seriesField{"a/eu", "value"}], written[seriesField{"a/eu/cpu1", "value"}])
		slices.SortFunc(want, func(a, b history.Point) int { return cmp.Compare(a.Time, b.Time) })
		require.Equal(t, want, got[0].Points)
	})

	t.Run("max_points: the most recent, over the stored series with and without the anomaly tag", func(t *testing.T) {
		got := fetch(nil, 25, []history.Series{
			{Tags: eu, Field: "value", Start: start},
			{Tags: eu, Field: "value", Start: start - 100*step},
		})
		all := written[seriesField{"a/eu", "value"}]
		require.Equal(t, all[len(all)-25:], got[0].Points)
		require.Equal(t, all[200-25:200], got[1].Points)
	})

	t.Run("a database that does not exist", func(t *testing.T) {
		cfg := history.NewConfig()
		cfg.URLs = []string{e.influxURL}
		cfg.Database = "no_such_database"
		c, err := history.New(&cfg, history.Identity{AnomalyTag: "anomaly"})
		require.NoError(t, err)
		var got *history.Result
		c.Fetch(context.Background(), "cpu", []history.Series{{Tags: eu, Field: "value", Start: start}},
			func(_ int, r *history.Result) { got = r })
		var he *history.Error
		require.ErrorAs(t, got.Err, &he)
		require.Equal(t, history.ReasonQuery, he.Reason)
		require.Contains(t, he.Error(), "database not found: no_such_database")
		require.Contains(t, he.Error(), e.influxURL+"/query")
	})
}

// randomFloat is a float64 of any bit pattern but NaN and ±Inf.
func randomFloat(rng *rand.Rand) float64 {
	for {
		f := math.Float64frombits(rng.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
}

// influxWrite writes line protocol to db, in batches, and fails on any error.
func influxWrite(t *testing.T, db string, lp []byte) {
	t.Helper()
	lines := strings.SplitAfter(string(lp), "\n")
	for len(lines) > 0 {
		n := min(len(lines), 5000)
		resp, err := http.Post(e.influxURL+"/write?precision=ns&db="+db, "text/plain", strings.NewReader(strings.Join(lines[:n], "")))
		require.NoError(t, err)
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "InfluxDB /write: %s", body.String())
		lines = lines[n:]
	}
}
