package history

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

// The answer benchmarked: benchSeries series of a week at five minutes
// (2016 points), in InfluxDB's chunks of 10000 rows, as a rebalance's
// bootstrap reads them. Values are what collectors send: a third full
// float64 precision (usage_idle=97.68844221105527), a third short decimals
// (load1=0.25), a third integers (used=3862458368).
const (
	benchSeries = 200
	benchPoints = 2016
)

// benchAnswer returns the answer for n series and the series to ask for.
func benchAnswer(n int) ([]byte, []Series) {
	rng := rand.New(rand.NewPCG(1, 2))
	const step = int64(5 * time.Minute)
	start := int64(1_700_000_000_000_000_000)
	all := make([]historytest.Row, 0, n)
	series := make([]Series, 0, n)
	for s := range n {
		host := fmt.Sprintf("host-%04d", s)
		rows := make([][]any, benchPoints)
		for i := range rows {
			var v any
			switch i % 3 {
			case 0:
				v = 50 + 40*math.Sin(float64(i)/30) + rng.Float64()
			case 1:
				v = float64(rng.IntN(400)) / 100
			default:
				v = rng.Int64N(1 << 40)
			}
			rows[i] = []any{start - int64(i+1)*step, v}
		}
		all = append(all, historytest.Row{Name: "cpu", Tags: map[string]string{"anomaly": "", "cpu": "cpu-total", "host": host},
			Columns: []string{"time", "usage_idle"}, Values: rows})
		series = append(series, Series{Tags: map[string]string{"cpu": "cpu-total", "host": host}, Field: "usage_idle", Start: start})
	}
	var buf bytes.Buffer
	var pending []historytest.Row
	rows := 0
	flush := func(partial bool) {
		buf.Write(historytest.Chunk(pending, partial))
		buf.WriteByte('\n')
		pending, rows = nil, 0
	}
	for _, s := range all {
		for len(s.Values) > 0 {
			n := min(len(s.Values), 10000-rows)
			piece := s
			piece.Values, piece.Partial = s.Values[:n], n < len(s.Values)
			pending = append(pending, piece)
			rows += n
			s.Values = s.Values[n:]
			if rows == 10000 {
				flush(true)
			}
		}
	}
	flush(false)
	return buf.Bytes(), series
}

// BenchmarkDecode decodes the answer alone, from memory: the client's
// ceiling, in points/s (values decoded into the series' points).
func BenchmarkDecode(b *testing.B) {
	answer, series := benchAnswer(benchSeries)
	c, err := New(benchConfig("http://127.0.0.1:1"), Identity{AnomalyTag: "anomaly"})
	if err != nil {
		b.Fatal(err)
	}
	queries := c.plan(c.units("cpu", series, nil), startSpread, false)
	if len(queries) != 1 {
		b.Fatalf("%d queries, want 1", len(queries))
	}
	q := queries[0]
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		q.reset()
		if err := newDecoder(bytes.NewReader(answer), q).decode(); err != nil {
			b.Fatal(err)
		}
		for _, u := range q.units {
			u.cols[0].finish()
		}
	}
	reportPoints(b, cpu0)
}

// BenchmarkFetch asks for the series through HTTP on loopback, from a
// server that sends the answer from memory: everything the client does
// (planning, the request, transfer, decoding, merging and delivering), and
// no database.
func BenchmarkFetch(b *testing.B) {
	answer, series := benchAnswer(benchSeries)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	defer srv.Close()
	c, err := New(benchConfig(srv.URL), Identity{AnomalyTag: "anomaly"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		got := 0
		c.Fetch(context.Background(), "cpu", series, func(_ int, r *Result) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			got += len(r.Points)
		})
		if got != benchSeries*benchPoints {
			b.Fatalf("%d points, want %d", got, benchSeries*benchPoints)
		}
	}
	reportPoints(b, cpu0)
}

// reportPoints reports points per second of wall time and per second of
// the process's CPU time (user and system, every thread: the server's
// goroutines too in BenchmarkFetch), which a machine busy with other work
// does not change.
func reportPoints(b *testing.B, cpu0 time.Duration) {
	n := float64(benchSeries*benchPoints) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(n/(cpuTime()-cpu0).Seconds(), "points/cpu-s")
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchConfig(url string) *Config {
	c := NewConfig()
	c.URLs = []string{url}
	c.MaxPoints = benchPoints
	return &c
}
