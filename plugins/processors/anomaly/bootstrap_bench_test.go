package anomaly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
)

// BenchmarkBootstrapInfluxDB is make bench-bootstrap's measurement
// (scripts/bench-bootstrap.sh starts the InfluxDB): 10,000 series with a
// week of 5-minute history each (2,016 points, 20 million in all) in a real
// InfluxDB, all new at once, as a rebalance hands them to a collector. It
// times the processor from the first live point of every series added to
// the last one passed on scored (every series learned from its history),
// and, on the same InfluxDB, a plain client that reads the same points with
// one statement (as curl would) and with the processor's concurrency (two
// statements, each half of the week), reading the answer and decoding
// nothing. It skips unless ANOMALY_BENCH_INFLUXDB_URL is set.
//
// Environment: ANOMALY_BENCH_INFLUXDB_URL, ANOMALY_BENCH_INFLUXDB_PID (for
// the database's CPU time), BENCH_SERIES (10000), BENCH_POINTS (2016 per
// series), BENCH_CONCURRENCY (the sub-table's concurrency, 2).
func BenchmarkBootstrapInfluxDB(b *testing.B) {
	base := os.Getenv("ANOMALY_BENCH_INFLUXDB_URL")
	if base == "" {
		b.Skip("ANOMALY_BENCH_INFLUXDB_URL is not set: run make bench-bootstrap")
	}
	series, points, concurrency := envInt(b, "BENCH_SERIES", 10000), envInt(b, "BENCH_POINTS", 2016), envInt(b, "BENCH_CONCURRENCY", 2)
	const db = "bench"
	live := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // the first live point; the history is the week before
	influxPID := os.Getenv("ANOMALY_BENCH_INFLUXDB_PID")
	b.Logf("loading %d series x %d points into %s", series, points, base)
	t := time.Now()
	loadBenchHistory(b, base, db, series, points, live)
	fmt.Printf("loaded %d points in %.1f s\n", series*points, time.Since(t).Seconds())

	for b.Loop() {
		lo := live.Add(-time.Duration(points) * step)
		all := int64(series * points)
		plain1 := plainRead(b, base, db, influxPID, all, [][2]time.Time{{lo, live}})
		mid := lo.Add(live.Sub(lo) / 2)
		plain2 := plainRead(b, base, db, influxPID, all, [][2]time.Time{{lo, mid}, {mid, live}})

		p := newAnomaly()
		p.Log = testutil.Logger{}
		p.Fields = []string{"value"}
		p.History.URLs = []string{base}
		p.History.Database = db
		p.History.MaxWait = config.Duration(30 * time.Minute) // every series learned: the time it takes is the figure
		p.History.Timeout = config.Duration(10 * time.Minute)
		p.History.MaxHeld = series
		p.History.Concurrency = concurrency
		if err := p.Init(); err != nil {
			b.Fatal(err)
		}
		acc := &counting{done: make(chan struct{}), want: int64(series)}
		if err := p.Start(acc); err != nil {
			b.Fatal(err)
		}
		cpu0, db0 := processCPU(), pidCPU(influxPID)
		start := time.Now()
		for s := range series {
			if err := p.Add(metric.New("bench", benchTags(s), map[string]any{"value": benchValue(s, points)}, live), acc); err != nil {
				b.Fatal(err)
			}
		}
		<-acc.done
		took := time.Since(start)
		cpu, dbCPU := processCPU()-cpu0, pidCPU(influxPID)-db0
		p.Stop()
		if acc.warming.Load() > 0 {
			b.Fatalf("%d of %d series were passed on warming up: not learned from their history", acc.warming.Load(), series)
		}
		hs := p.boot.client.Stats()
		learned := p.stats.boot.points.Get()
		if learned != int64(series*points) {
			b.Fatalf("learned %d history points, want %d", learned, series*points)
		}
		rate := float64(learned) / took.Seconds()
		best := max(plain1.rate(), plain2.rate())
		fmt.Printf("plain client, 1 statement: %d points in %.1f s: %.0f points/s (%.1f MB, database CPU %.1f s)\n",
			plain1.points, plain1.wall.Seconds(), plain1.rate(), float64(plain1.bytes)/1e6, plain1.dbCPU.Seconds())
		fmt.Printf("plain client, %d statements at once: %d points in %.1f s: %.0f points/s (%.1f MB, database CPU %.1f s)\n",
			len(plain2.ranges), plain2.points, plain2.wall.Seconds(), plain2.rate(), float64(plain2.bytes)/1e6, plain2.dbCPU.Seconds())
		fmt.Printf("bootstrap: %d series, %d history points learned in %.1f s: %.0f series/s, %.0f points/s (concurrency %d, %d queries, %.1f MB)\n",
			series, learned, took.Seconds(), float64(series)/took.Seconds(), rate, concurrency, hs.Queries, float64(hs.Bytes)/1e6)
		fmt.Printf("where the time goes, summed over the %d queries (%d at a time, so at most %.1f s each):\n",
			hs.Queries, concurrency, float64(concurrency)*took.Seconds())
		fmt.Printf("  InfluxDB before the first byte of each answer (parsing and planning the statement): %.1f s\n", hs.Wait.Seconds())
		fmt.Printf("  the answers streaming in (InfluxDB reading its shards as it sends, the transfer, decoding as it comes): %.1f s\n", hs.Read.Seconds())
		fmt.Printf("  learning the history (Detector.Update, on the fetching goroutines): %.1f s\n", time.Duration(p.stats.boot.learnNs.Get()).Seconds())
		fmt.Printf("  CPU during the bootstrap: InfluxDB %.1f s, this process %.1f s (decoding, learning, the test's own work) of %.1f s wall\n",
			dbCPU.Seconds(), cpu.Seconds(), took.Seconds())
		fmt.Printf("bootstrap_series_per_second %.0f\n", float64(series)/took.Seconds())
		fmt.Printf("bootstrap_points_per_second %.0f\n", rate)
		fmt.Printf("bootstrap_vs_plain_query_ratio %.2f\n", rate/best)
	}
}

// benchValue is series s's value at point i of its week: a daily cycle
// around a level of its own, and noise, with three decimals as collectors
// send them. The live point is i = points.
func benchValue(s, i int) float64 {
	v := 100 + float64(s%7)*10 + 10*math.Sin(2*math.Pi*float64(i%288)/288) + float64((s*7919+i*104729)%300)/100
	return math.Round(v*1000) / 1000
}

// benchTags are series s's tags: a hundred hosts, and the series' own name.
func benchTags(s int) map[string]string {
	return map[string]string{"host": fmt.Sprintf("h%03d", s%100), "series": fmt.Sprintf("s%05d", s)}
}

// loadBenchHistory writes the week of every series, unless the database
// holds it already, in batches of 10,000 lines from two writers.
func loadBenchHistory(b *testing.B, base, db string, series, points int, live time.Time) {
	if n := countPoints(b, base, db); n == int64(series*points) {
		return
	}
	influxPost(b, base+"/query", url.Values{"q": {"CREATE DATABASE " + db}})
	batches := make(chan []byte, 4)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for body := range batches {
				resp, err := http.Post(base+"/write?precision=ns&db="+db, "text/plain", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					continue
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					b.Errorf("InfluxDB /write: HTTP %d: %s", resp.StatusCode, msg)
				}
			}
		})
	}
	var buf bytes.Buffer
	lines := 0
	for i := range points {
		ts := live.Add(-time.Duration(points-i) * step).UnixNano()
		for s := range series {
			tg := benchTags(s)
			fmt.Fprintf(&buf, "bench,host=%s,series=%s value=%s %d\n", tg["host"], tg["series"],
				strconv.FormatFloat(benchValue(s, i), 'f', -1, 64), ts)
			if lines++; lines%10000 == 0 {
				batches <- bytes.Clone(buf.Bytes())
				buf.Reset()
			}
		}
	}
	if buf.Len() > 0 {
		batches <- buf.Bytes()
	}
	close(batches)
	wg.Wait()
	if n := countPoints(b, base, db); n != int64(series*points) {
		b.Fatalf("InfluxDB holds %d points after loading, want %d", n, series*points)
	}
}

func countPoints(b *testing.B, base, db string) int64 {
	body := influxPost(b, base+"/query", url.Values{"db": {db}, "epoch": {"ns"}, "q": {"SELECT count(value) FROM bench"}})
	var answer struct {
		Results []struct {
			Series []struct {
				Values [][2]int64 `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		b.Fatalf("InfluxDB's count: %v: %s", err, body)
	}
	if len(answer.Results) == 0 || len(answer.Results[0].Series) == 0 || len(answer.Results[0].Series[0].Values) == 0 {
		return 0 // no database or no points yet
	}
	return answer.Results[0].Series[0].Values[0][1]
}

func influxPost(b *testing.B, u string, form url.Values) string {
	resp, err := http.PostForm(u, form) //nolint:gosec // the benchmark's own InfluxDB, from ANOMALY_BENCH_INFLUXDB_URL
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("InfluxDB %s: HTTP %d: %s", form.Get("q"), resp.StatusCode, body)
	}
	return string(body)
}

// plain is what the plain client read.
type plain struct {
	ranges [][2]time.Time
	points int64
	bytes  int64
	wall   time.Duration
	dbCPU  time.Duration
}

func (p plain) rate() float64 { return float64(p.points) / p.wall.Seconds() }

// plainRead reads the points of the ranges, all of them, one statement per
// range, all at once, as curl would: chunked, uncompressed, nanosecond
// epochs, the body read to its end, nothing decoded.
func plainRead(b *testing.B, base, db, influxPID string, points int64, ranges [][2]time.Time) plain {
	out := plain{ranges: ranges, points: points}
	var mu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	db0 := pidCPU(influxPID)
	start := time.Now()
	for _, r := range ranges {
		wg.Go(func() {
			q := fmt.Sprintf("SELECT value FROM bench WHERE time >= %d AND time < %d GROUP BY *", r[0].UnixNano(), r[1].UnixNano())
			form := url.Values{"db": {db}, "q": {q}, "epoch": {"ns"}, "chunked": {"true"}, "chunk_size": {"10000"}}
			resp, err := client.PostForm(base+"/query", form)
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil {
				b.Error(err)
			}
			mu.Lock()
			out.bytes += n
			mu.Unlock()
		})
	}
	wg.Wait()
	out.wall = time.Since(start)
	out.dbCPU = pidCPU(influxPID) - db0
	return out
}

// counting is the accumulator of the benchmark: it counts the scored metrics
// and those passed on warming up, and closes done at want.
type counting struct {
	discard
	want          int64
	seen, warming atomic.Int64
	done          chan struct{}
}

func (c *counting) AddMetric(m telegraf.Metric) {
	if m.Name() != "bench" {
		return
	}
	if m.HasField("value_warming") {
		c.warming.Add(1)
	}
	if c.seen.Add(1) == c.want {
		close(c.done)
	}
}

// processCPU is this process's CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU is the CPU time so far of the process pid (user and system, from
// /proc), 0 when unknown.
func pidCPU(pid string) time.Duration {
	if pid == "" {
		return 0
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s = %q: want a positive integer", name, v)
	}
	return n
}
