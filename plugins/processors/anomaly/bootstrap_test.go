package anomaly

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

const step = 5 * time.Minute

// bootSeries makes the cpu metrics of steps [from, to) of each host, one
// every 5 minutes from t0: a float field and an integer one with a daily
// cycle and noise, and now and then a spike that opens an incident. With
// pid, each metric also carries a tag that changes from point to point.
func bootSeries(from, to int, pid bool, hosts ...string) []telegraf.Metric {
	var out []telegraf.Metric
	for i := from; i < to; i++ {
		ts := t0.Add(time.Duration(i) * step)
		day := math.Sin(2 * math.Pi * float64(i%288) / 288)
		for _, host := range hosts {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(host[0])))
			value := 50 + 20*day + rng.NormFloat64()
			if i%397 == 350 {
				value += 40
			}
			tags := map[string]string{"host": host}
			if pid {
				tags["pid"] = strconv.Itoa(i % 3)
			}
			out = append(out, metric.New("cpu", tags,
				map[string]any{"value": value, "latency": int64(100 + 10*day + 3*rng.NormFloat64())}, ts))
		}
	}
	return out
}

// stream runs ms through p and returns what it passed on.
func stream(t *testing.T, p *Anomaly, ms []telegraf.Metric) []telegraf.Metric {
	t.Helper()
	acc := &testutil.Accumulator{}
	for _, m := range ms {
		require.NoError(t, p.Add(m, acc))
	}
	return acc.GetTelegrafMetrics()
}

// store writes metrics to the fake InfluxDB as outputs.influxdb writes them:
// every tag (the anomaly tag makes a stored series of its own) and every
// field, the processor's outputs included.
func store(srv *historytest.Server, ms []telegraf.Metric) {
	for _, m := range ms {
		srv.Add(historytest.Point{Measurement: m.Name(), Tags: m.Tags(), Time: m.Time().UnixNano(), Fields: m.Fields()})
	}
}

// newHistoryPlugin returns a started processor that reads history from h
// (nil: a database that is down), served in process, with a short warm-up,
// and the accumulator it passes metrics on to. It runs in a testing/synctest
// bubble: the processor, the client and the server all go by its fake clock.
func newHistoryPlugin(t *testing.T, h http.Handler, change func(*Anomaly)) (*Anomaly, *testutil.Accumulator) {
	t.Helper()
	dial := historytest.Pipe(t, h)
	p, _ := newPlugin(t, func(p *Anomaly) {
		p.now = time.Now // the bubble's clock
		p.History.URLs = []string{historytest.PipeURL}
		p.History.DialContext = dial
		p.History.Lookback = config.Duration(30 * 24 * time.Hour)
		p.History.Timeout = config.Duration(5 * time.Second)
		p.History.MaxWait = config.Duration(5 * time.Second)
		if change != nil {
			change(p)
		}
	})
	acc := &testutil.Accumulator{}
	require.NoError(t, p.Start(acc))
	return p, acc
}

// waitUntil lets the bubble's fake clock run, a millisecond at a time,
// until cond holds once every goroutine of the bubble is blocked; the test
// fails if it does not within limit. On the fake clock it is exact, not timed.
func waitUntil(t *testing.T, limit time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for synctest.Wait(); !cond(); synctest.Wait() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: "+msg, append([]any{limit}, args...)...)
		}
		time.Sleep(time.Millisecond)
	}
}

// byHost groups metrics by their host tag, keeping their order.
func byHost(ms []telegraf.Metric) map[string][]telegraf.Metric {
	out := map[string][]telegraf.Metric{}
	for _, m := range ms {
		h, _ := m.GetTag("host")
		out[h] = append(out[h], m)
	}
	return out
}

// since returns the metrics at or after ts.
func since(ms []telegraf.Metric, ts time.Time) []telegraf.Metric {
	var out []telegraf.Metric
	for _, m := range ms {
		if !m.Time().Before(ts) {
			out = append(out, m)
		}
	}
	return out
}

// requireSameByHost compares whole metrics, host by host, in order: each
// series' metrics come in the order they were added.
func requireSameByHost(t *testing.T, want, got []telegraf.Metric) {
	t.Helper()
	w, g := byHost(want), byHost(got)
	require.Len(t, g, len(w), "hosts")
	for host := range w {
		testutil.RequireMetricsEqual(t, w[host], g[host], testutil.SortMetrics())
		for i := range g[host] {
			if i > 0 && g[host][i].Time().Before(g[host][i-1].Time()) {
				t.Fatalf("host %s: metric %d (%s) passed on after a later one (%s)", host, i, g[host][i].Time(), g[host][i-1].Time())
			}
		}
	}
}

// TestBootstrapScoresAsIfStreamedWhole is the exact-equivalence guarantee:
// a series learned from its complete history scores its live points, and
// decides on them, exactly as if the processor had seen it whole. Hosts a
// and b have 600 points in the database, stored as the processor writes
// them (scores beside the fields, anomalous points under the anomaly tag);
// host c is new in the database too. Their next 400 points pass through a
// processor that has never seen them: every metric equals the one a
// processor streamed from the first point passed on, incident events
// included, whatever the server's chunking, with series_tags leaving a tag
// out (stored series that differ in it are one series), and with a calendar
// (the history is learned in its maintenance windows and holidays as live
// points are).
func TestBootstrapScoresAsIfStreamedWhole(t *testing.T) {
	const k, n = 600, 1000
	for _, tt := range []struct {
		name       string
		chunkSize  int
		notChunked bool
		pid        bool
		calendar   bool
	}{
		{name: "chunks of 7 rows", chunkSize: 7},
		{name: "chunks of the client's size"},
		{name: "one object", notChunked: true},
		{name: "series_tags leaves a tag out", pid: true},
		{name: "a calendar", calendar: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			period := func(kind string, from, to time.Duration, hosts ...string) calendarEntry {
				e := calendarEntry{Kind: kind, Start: t0.Add(from).Format(time.RFC3339), End: t0.Add(to).Format(time.RFC3339)}
				if len(hosts) > 0 {
					e.TagPass = map[string][]string{"host": hosts}
				}
				return e
			}
			seriesTags := func(p *Anomaly) {
				if tt.pid {
					p.SeriesTags = []string{"host"}
				}
				if tt.calendar { // the history is 50 hours, the live part 33 more
					p.Calendar = []calendarEntry{period("maintenance", 10*time.Hour, 12*time.Hour, "a"),
						period("holiday", 24*time.Hour, 48*time.Hour), period("maintenance", 60*time.Hour, 61*time.Hour)}
				}
			}
			whole, _ := newPlugin(t, seriesTags)
			streamed := stream(t, whole, append(bootSeries(0, k, tt.pid, "a", "b"), bootSeries(k, n, tt.pid, "a", "b", "c")...))
			live := t0.Add(k * step)

			srv := historytest.New(t)
			srv.ChunkSize, srv.NotChunked = tt.chunkSize, tt.notChunked
			var stored []telegraf.Metric
			for _, m := range streamed {
				if m.Time().Before(live) {
					stored = append(stored, m)
				}
			}
			store(srv, stored)
			require.Greater(t, len(stored), 2*k, "the history holds incident events and anomalous points too")

			synctest.Test(t, func(t *testing.T) {
				p, acc := newHistoryPlugin(t, srv.Config.Handler, seriesTags)
				for _, m := range bootSeries(k, n, tt.pid, "a", "b", "c") {
					require.NoError(t, p.Add(m, acc))
				}
				p.Stop()
				requireSameByHost(t, since(streamed, live), acc.GetTelegrafMetrics())

				s := p.stats.boot
				require.Equal(t, int64(4), s.bootstrapped.Get(), "a and b, two fields each")
				require.Equal(t, int64(2), s.empty.Get(), "c")
				require.Equal(t, int64(4*k), s.points.Get())
				require.Equal(t, int64(0), s.late.Get()+s.rebuilt.Get())
				require.Equal(t, int64(0), s.held.Get())
				require.Len(t, srv.Statements(), 1, "the new series of a measurement are read together")
				require.NotContains(t, srv.Statements()[0], "_score", "the processor's outputs are never read")
			})
		})
	}
}

// TestLateHistoryRebuildsTheModel: a series whose history comes after its
// first live points went on in warm-up (max_wait passed, or 0) is rebuilt
// from the history and the live points learned meanwhile: from then on it
// scores exactly as if streamed whole.
func TestLateHistoryRebuildsTheModel(t *testing.T) {
	const k, n = 600, 800
	whole, _ := newPlugin(t, nil)
	streamed := stream(t, whole, bootSeries(0, n, false, "a"))
	live := t0.Add(k * step)
	srv := historytest.New(t)
	store(srv, bootSeries(0, k, false, "a"))

	for _, tt := range []struct {
		name    string
		maxWait time.Duration
		delay   time.Duration // before the server answers
	}{
		{name: "max_wait 0: never held", maxWait: 0},
		{name: "the history comes after max_wait", maxWait: 100 * time.Millisecond, delay: 400 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					time.Sleep(tt.delay)
					srv.Config.Handler.ServeHTTP(w, r)
				})
				p, acc := newHistoryPlugin(t, slow, func(p *Anomaly) { p.History.MaxWait = config.Duration(tt.maxWait) })
				early := bootSeries(k, k+20, false, "a")
				began := time.Now()
				for _, m := range early {
					require.NoError(t, p.Add(m, acc))
				}
				waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == uint64(len(early)) }, "the early metrics passed on")
				require.Less(t, time.Since(began), tt.maxWait+300*time.Millisecond, "held at most max_wait")
				for _, m := range acc.GetTelegrafMetrics() {
					require.True(t, m.HasField("value_warming"), "went on in warm-up: %s", m)
				}
				waitUntil(t, 5*time.Second, func() bool { return p.stats.boot.rebuilt.Get() == 2 }, "both series rebuilt")
				require.Equal(t, int64(2), p.stats.boot.late.Get())

				acc.ClearMetrics()
				for _, m := range bootSeries(k+20, n, false, "a") {
					require.NoError(t, p.Add(m, acc))
				}
				p.Stop()
				requireSameByHost(t, since(streamed, live.Add(20*step)), acc.GetTelegrafMetrics())
			})
		})
	}
}

// TestKnownSeriesFlowWhileOthersLoad: while a new series waits for its
// history, the metrics of series with a model pass at once.
func TestKnownSeriesFlowWhileOthersLoad(t *testing.T) {
	var stall atomic.Bool
	srv := historytest.New(t)
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall.Load() {
			_ = r.ParseForm()
			<-r.Context().Done()
			return
		}
		srv.Config.Handler.ServeHTTP(w, r)
	})
	synctest.Test(t, func(t *testing.T) {
		p, acc := newHistoryPlugin(t, gate, func(p *Anomaly) { p.History.MaxWait = config.Duration(2 * time.Second) })
		require.NoError(t, p.Add(bootSeries(0, 1, false, "known")[0], acc))
		waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == 1 }, "no history: it goes on at once")

		stall.Store(true)
		require.NoError(t, p.Add(bootSeries(1, 2, false, "new")[0], acc))
		for _, m := range bootSeries(1, 50, false, "known") {
			require.NoError(t, p.Add(m, acc))
		}
		require.Equal(t, uint64(50), acc.NMetrics(), "the known series passed while the new one waits")
		require.Equal(t, int64(1), p.stats.boot.held.Get())
		waitUntil(t, 3*time.Second, func() bool { return acc.NMetrics() == 51 }, "the new one goes on after max_wait")
	})
}

// stalling answers nothing until the client gives up.
func stalling(_ http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm() // a server notices a client gone only once it has read the request
	<-r.Context().Done()
}

// answering writes status and body.
func answering(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// TestHistoryFaults: whatever goes wrong with the database, the new series
// go on in warm-up, at once or after max_wait at most, every metric is
// passed on in order, the series are counted by reason, one line is logged
// for the kind of failure whatever the number of series, and the next new
// series are not fetched during the backoff.
func TestHistoryFaults(t *testing.T) {
	const partial = `{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"h00"},` +
		`"columns":["time","value"],"values":[[1,2]],"partial":true}],"partial":true}]}` + "\n"
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		reason  history.Reason
		maxWait time.Duration // 0: 2 s
		timeout time.Duration // 0: 2 s
	}{
		{name: "InfluxDB down", reason: history.ReasonConnection},
		{name: "no answer within timeout", handler: stalling, reason: history.ReasonTimeout, timeout: 200 * time.Millisecond},
		{name: "slower than max_wait", handler: stalling, reason: history.ReasonTimeout, maxWait: 200 * time.Millisecond, timeout: 600 * time.Millisecond},
		{name: "credentials refused", handler: answering(401, `{"error":"authorization failed"}`), reason: history.ReasonAuth},
		{name: "no permission", handler: answering(403, `{"error":"requires READ on telegraf"}`), reason: history.ReasonAuth},
		{name: "a bad request", handler: answering(400, `{"error":"error parsing query"}`), reason: history.ReasonHTTPStatus},
		{name: "a server error", handler: answering(500, `{"error":"timeout"}`), reason: history.ReasonHTTPStatus},
		{name: "an error page", handler: answering(200, "<html>maintenance</html>"), reason: history.ReasonDecode},
		{name: "malformed JSON", reason: history.ReasonDecode,
			handler: answering(200, `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","value"],"values":[[10,1,]]}]}]}`)},
		{name: "a chunked answer cut short", handler: answering(200, partial), reason: history.ReasonDecode},
		{name: "an answer cut mid-object", handler: answering(200, partial[:len(partial)-30]), reason: history.ReasonDecode},
		{name: "the database does not exist", reason: history.ReasonQuery,
			handler: answering(200, `{"results":[{"statement_id":0,"error":"database not found: telegraf"}]}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var requests atomic.Int32
				var h http.Handler // nil: nothing listens
				if tt.handler != nil {
					h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						requests.Add(1)
						tt.handler(w, r)
					})
				}
				log := &testutil.CaptureLogger{}
				maxWait, timeout := cmpOr(tt.maxWait, 2*time.Second), cmpOr(tt.timeout, 2*time.Second)
				p, acc := newHistoryPlugin(t, h, func(p *Anomaly) {
					p.Log = log
					p.History.MaxWait, p.History.Timeout = config.Duration(maxWait), config.Duration(timeout)
				})
				hosts := make([]string, 20)
				for i := range hosts {
					hosts[i] = fmt.Sprintf("h%02d", i)
				}
				in := bootSeries(0, 3, false, hosts...)
				began := time.Now()
				for _, m := range in {
					require.NoError(t, p.Add(m, acc))
				}
				waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == uint64(len(in)) }, "every metric passed on")
				took := time.Since(began)
				require.Less(t, took, min(maxWait, timeout)+time.Second, "the new series were held longer than max_wait")
				for host, ms := range byHost(acc.GetTelegrafMetrics()) {
					require.Len(t, ms, 3, host)
					for i, m := range ms {
						require.Equal(t, t0.Add(time.Duration(i)*step), m.Time(), "%s: in order", host)
						require.True(t, m.HasField("value_warming") && m.HasField("latency_warming"), "%s warms up live: %s", host, m)
					}
				}
				s := p.stats.boot
				waitUntil(t, 5*time.Second, func() bool { return s.failure(tt.reason).Get() == int64(2*len(hosts)) },
					"every series is counted under %s", tt.reason)
				require.Len(t, log.Errors(), 1, "one line for the kind of failure, not one per series: %v", log.Errors())
				require.Contains(t, log.Errors()[0], string(tt.reason))

				// The next new series, during the backoff: not fetched, not held.
				before := requests.Load()
				require.NoError(t, p.Add(bootSeries(3, 4, false, "later")[0], acc))
				require.Equal(t, uint64(len(in)+1), acc.NMetrics())
				require.Equal(t, int64(2), s.failure(reasonBackoff).Get())
				require.Equal(t, before, requests.Load())
				p.Stop()
				require.Len(t, log.Errors(), 1)
			})
		})
	}
}

func cmpOr(d, fallback time.Duration) time.Duration {
	if d == 0 {
		return fallback
	}
	return d
}

// TestBackoffEndsAndHistoryIsReadAgain: after the backoff, a new series is
// fetched again, and once a query succeeds, the failure is over (logged
// once) and new failures are logged again.
func TestBackoffEndsAndHistoryIsReadAgain(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	srv := historytest.New(t)
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			answering(503, `{"error":"starting up"}`)(w, r)
			return
		}
		srv.Config.Handler.ServeHTTP(w, r)
	})
	synctest.Test(t, func(t *testing.T) {
		log := &testutil.CaptureLogger{}
		p, acc := newHistoryPlugin(t, flaky, func(p *Anomaly) { p.Log = log })
		require.NoError(t, p.Add(bootSeries(0, 1, false, "a")[0], acc))
		waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == 1 }, "a went on")
		require.Less(t, time.Since(p.boot.backoffUntil), time.Duration(0), "a backoff started")

		failing.Store(false)
		time.Sleep(time.Until(p.boot.backoffUntil) + 10*time.Millisecond)
		require.NoError(t, p.Add(bootSeries(1, 2, false, "b")[0], acc))
		waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == 2 }, "b went on")
		require.Equal(t, int64(2), p.stats.boot.empty.Get(), "b's fields were read, and are new in the database")
		require.Len(t, log.Errors(), 1)
		require.Contains(t, fmt.Sprint(log.Messages()), "History is read again after 1 failed queries")
	})
}

// TestTracking: a tracked metric held for its history is delivered (its
// Kafka offset committed) only once the output has taken it, after it was
// scored and passed on, whether its history came or Stop released it.
func TestTracking(t *testing.T) {
	srv := historytest.New(t)
	store(srv, bootSeries(0, 300, false, "a"))
	for _, tt := range []struct {
		name    string
		handler http.Handler
		stop    bool
	}{
		{name: "history learned", handler: srv.Config.Handler},
		{name: "released by Stop while the database stalls", handler: http.HandlerFunc(stalling), stop: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, acc := newHistoryPlugin(t, tt.handler, func(p *Anomaly) { p.History.MaxWait = config.Duration(time.Second) })
				var mu sync.Mutex
				var delivered []telegraf.DeliveryInfo
				notify := func(di telegraf.DeliveryInfo) {
					mu.Lock()
					defer mu.Unlock()
					delivered = append(delivered, di)
				}
				in := bootSeries(300, 310, false, "a", "b")
				for _, m := range in {
					tm, _ := metric.WithTracking(m, notify)
					require.NoError(t, p.Add(tm, acc))
				}
				if tt.stop {
					p.Stop()
				}
				waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == uint64(len(in)) }, "every metric passed on")
				time.Sleep(50 * time.Millisecond)
				synctest.Wait()
				mu.Lock()
				require.Empty(t, delivered, "a held metric is delivered before the output takes it")
				mu.Unlock()
				for _, m := range acc.GetTelegrafMetrics() {
					m.Accept()
				}
				waitUntil(t, time.Second, func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(delivered) == len(in)
				}, "every metric delivered")
				for _, di := range delivered {
					require.True(t, di.Delivered())
				}
			})
		})
	}
}

// TestHeldMetricsAreBounded: past max_held_metrics, a tag set's metrics go
// on in warm-up (its held ones first, in order) and are counted; its
// history, when it comes, rebuilds the model.
func TestHeldMetricsAreBounded(t *testing.T) {
	const k = 600
	whole, _ := newPlugin(t, nil)
	streamed := stream(t, whole, bootSeries(0, k+40, false, "a"))
	srv := historytest.New(t)
	store(srv, bootSeries(0, k, false, "a"))
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-gate
			srv.Config.Handler.ServeHTTP(w, r)
		})
		p, acc := newHistoryPlugin(t, slow, func(p *Anomaly) { p.History.MaxHeld = 5 })
		for i, m := range bootSeries(k, k+10, false, "a") {
			require.NoError(t, p.Add(m, acc))
			if i < 5 {
				require.Equal(t, int64(i+1), p.stats.boot.held.Get())
			}
		}
		require.Equal(t, uint64(10), acc.NMetrics(), "the sixth metric released the held five, and the rest went on")
		require.Equal(t, int64(6), p.stats.boot.overflow.Get())
		require.Equal(t, int64(0), p.stats.boot.held.Get())
		for i, m := range acc.GetTelegrafMetrics() {
			require.Equal(t, t0.Add(time.Duration(k+i)*step), m.Time(), "in order")
			require.True(t, m.HasField("value_warming"))
		}
		close(gate)
		waitUntil(t, 5*time.Second, func() bool { return p.stats.boot.rebuilt.Get() == 2 }, "both series rebuilt")
		acc.ClearMetrics()
		for _, m := range bootSeries(k+10, k+40, false, "a") {
			require.NoError(t, p.Add(m, acc))
		}
		p.Stop()
		requireSameByHost(t, since(streamed, t0.Add((k+10)*step)), acc.GetTelegrafMetrics())
	})
}

// TestStopPassesEveryHeldMetricOn: Stop (a shutdown, a SIGHUP reload, the
// end of a --once run) sends the series still being gathered, waits for the
// histories in flight at most max_wait, passes every held metric on, and
// passes nothing on once it has returned.
func TestStopPassesEveryHeldMetricOn(t *testing.T) {
	srv := historytest.New(t)
	store(srv, bootSeries(0, 300, false, "a"))
	for _, tt := range []struct {
		name    string
		handler http.Handler
		warming bool
	}{
		{name: "the history comes in time", handler: srv.Config.Handler},
		{name: "the database stalls", handler: http.HandlerFunc(stalling), warming: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const maxWait = 500 * time.Millisecond
				p, acc := newHistoryPlugin(t, tt.handler, func(p *Anomaly) { p.History.MaxWait = config.Duration(maxWait) })
				in := bootSeries(300, 303, false, "a", "b", "c")
				for _, m := range in {
					require.NoError(t, p.Add(m, acc))
				}
				require.Zero(t, acc.NMetrics(), "held")
				began := time.Now()
				p.Stop() // within gatherDelay: nothing was sent yet
				require.Less(t, time.Since(began), maxWait+300*time.Millisecond)
				require.Equal(t, uint64(len(in)), acc.NMetrics())
				for _, m := range acc.GetTelegrafMetrics() {
					host, _ := m.GetTag("host")
					require.Equal(t, tt.warming || host != "a", m.HasField("value_warming"), "%s", m)
				}
				time.Sleep(100 * time.Millisecond)
				synctest.Wait()
				require.Equal(t, uint64(len(in)), acc.NMetrics(), "nothing passed on after Stop")
			})
		})
	}
}

// TestDrainPassesHeldMetricsOnWithoutStopping: Drain, for a host that
// closes the accumulator before Stop (the execd shim), passes the held
// metrics on; the processor goes on working.
func TestDrainPassesHeldMetricsOnWithoutStopping(t *testing.T) {
	srv := historytest.New(t)
	synctest.Test(t, func(t *testing.T) {
		p, acc := newHistoryPlugin(t, srv.Config.Handler, nil)
		require.NoError(t, p.Add(bootSeries(0, 1, false, "a")[0], acc))
		require.Zero(t, acc.NMetrics())
		p.Drain()
		require.Equal(t, uint64(1), acc.NMetrics())
		require.NoError(t, p.Add(bootSeries(1, 2, false, "a")[0], acc))
		require.Equal(t, uint64(2), acc.NMetrics(), "a known series")
	})
}

// TestHistorySubTable: the sub-table loads as Telegraf reads a configuration,
// its keys in the processor's History; bad values fail Init, naming the key.
func TestHistorySubTable(t *testing.T) {
	load := func(t *testing.T, table string) (*Anomaly, error) {
		c := config.NewConfig()
		require.NoError(t, c.LoadConfigData([]byte("[[processors.anomaly]]\n"+table), config.EmptySourcePath))
		p := c.Processors[0].Processor.(*Anomaly)
		p.Log = testutil.Logger{}
		err := p.Init()
		return p, err
	}
	p, err := load(t, `
  [processors.anomaly.history]
    urls = ["http://127.0.0.1:8086"]
    database = "metrics"
    lookback = "72h"
    max_wait = "2s"
    max_held_metrics = 100
`)
	require.NoError(t, err)
	require.Equal(t, "metrics", p.History.Database)
	require.Equal(t, config.Duration(72*time.Hour), p.History.Lookback)
	require.Equal(t, config.Duration(2*time.Second), p.History.MaxWait)
	require.Equal(t, 100, p.History.MaxHeld)
	require.Equal(t, history.DefaultMaxPoints, p.History.MaxPoints)
	require.NotNil(t, p.boot)

	p, err = load(t, "")
	require.NoError(t, err)
	require.Nil(t, p.boot, "no sub-table: history off")
	require.Nil(t, p.stats.boot, "and no statistics of it")

	_, err = load(t, "  [processors.anomaly.history]\n    urls = [\"http://127.0.0.1:8086\"]\n    max_wait = \"-1s\"\n")
	require.ErrorContains(t, err, "max_wait")
}

// TestSampleConfigKeys: sample.conf with every key uncommented loads (each
// key it shows exists, and the sub-tables come after the keys), and the
// history sub-table says what its defaults are.
func TestSampleConfigKeys(t *testing.T) {
	lines := strings.Split(sampleConfig, "\n")
	conf := make([]string, 0, len(lines))
	for _, l := range lines {
		// "  # key", "  #   key" and "  #   # key" are keys; "  ## text" and "  #   ## text" are comments.
		if strings.HasPrefix(l, "  # ") {
			l = strings.Replace(l, "# ", "", 1)
			if rest := strings.TrimSpace(l); strings.HasPrefix(rest, "# ") {
				l = strings.Replace(l, "# ", "", 1)
			}
		}
		conf = append(conf, l)
	}
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(strings.Join(conf, "\n")), config.EmptySourcePath))
	p := c.Processors[0].Processor.(*Anomaly)
	require.Len(t, p.Calendar, 1, "the calendar table")
	require.Equal(t, map[string][]string{"cluster": {"eu-*"}}, p.Calendar[0].TagPass)
	want := history.NewConfig()
	want.URLs = []string{"http://127.0.0.1:8086"}
	want.TLSCA, want.TLSCert, want.TLSKey = "/etc/telegraf/ca.pem", "/etc/telegraf/cert.pem", "/etc/telegraf/key.pem"
	p.History.Username, p.History.Password, p.History.Token = config.Secret{}, config.Secret{}, config.Secret{}
	require.Equal(t, want, p.History)
}

// TestHistoryWithCalendarBesideLivePoints: histories learned with a
// calendar while the live points of a known series are scored beside them.
// The calendar caches its last answer, so the two must not share it
// unguarded (go test -race); the known series is marked exactly as on its
// own, its calendar periods included.
func TestHistoryWithCalendarBesideLivePoints(t *testing.T) {
	const k, n = 600, 5000
	calendar := func(p *Anomaly) {
		for _, h := range []time.Duration{5, 20, 40, 51, 56} { // in the history and the live part
			p.Calendar = append(p.Calendar, calendarEntry{Kind: "maintenance",
				Start: t0.Add(h * time.Hour).Format(time.RFC3339), End: t0.Add(h*time.Hour + 30*time.Minute).Format(time.RFC3339)})
		}
	}
	hosts := make([]string, 10)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%02d", i)
	}
	srv := historytest.New(t)
	store(srv, bootSeries(0, k, false, hosts...))
	alone, _ := newPlugin(t, calendar)
	want := stream(t, alone, bootSeries(k, n, false, "known"))

	synctest.Test(t, func(t *testing.T) {
		p, acc := newHistoryPlugin(t, srv.Config.Handler, calendar)
		live := bootSeries(k, n, false, "known")
		require.NoError(t, p.Add(live[0], acc))
		waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == 1 }, "the known series went on")
		for _, m := range bootSeries(k, k+1, false, hosts...) {
			require.NoError(t, p.Add(m, acc)) // held: their histories are fetched
		}
		added := 1
		for _, m := range live[1:] { // beside the histories as they are learned, until they are in
			require.NoError(t, p.Add(m, acc))
			added++
			p.mu.Lock()
			holding := p.boot.holding
			p.mu.Unlock()
			if holding == 0 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		p.Stop()
		require.Less(t, added, len(live), "the histories came while the known series was streamed")
		require.Equal(t, int64(2*len(hosts)), p.stats.boot.bootstrapped.Get())
		got := byHost(acc.GetTelegrafMetrics())["known"] // its metrics and its incident events
		require.GreaterOrEqual(t, len(got), added)
		testutil.RequireMetricsEqual(t, want[:len(got)], got)
	})
}

// TestSkipsOfHeldMetricsCountOnce: a metric held for its history is
// collected again when it is released, and a metric past max_held_metrics
// after the held ones are released; the fields it skips count once all
// the same, as without history.
func TestSkipsOfHeldMetricsCountOnce(t *testing.T) {
	for _, tt := range []struct {
		name    string
		maxHeld int
	}{
		{name: "held, then released by its history", maxHeld: 100},
		{name: "past max_held_metrics", maxHeld: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := historytest.New(t)
			synctest.Test(t, func(t *testing.T) {
				p, acc := newHistoryPlugin(t, srv.Config.Handler, func(p *Anomaly) { p.History.MaxHeld = tt.maxHeld })
				in := []telegraf.Metric{
					metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 1.0, "note": "x"}, t0),
					metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 2.0, "note": "y"}, t0.Add(step)),
				}
				for _, m := range in {
					require.NoError(t, p.Add(m, acc))
				}
				p.Drain()
				require.Equal(t, uint64(len(in)), acc.NMetrics())
				require.Equal(t, int64(len(in)), p.stats.notNumeric.Get(), "one skipped field per metric")
			})
		})
	}
}

// TestHungHistoryServerIsLoggedOnce: a database that takes the queries and
// never answers holds new series for max_wait, and says so in one line,
// however many series it holds.
func TestHungHistoryServerIsLoggedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &testutil.CaptureLogger{}
		p, acc := newHistoryPlugin(t, http.HandlerFunc(stalling), func(p *Anomaly) {
			p.Log = log
			p.History.MaxWait, p.History.Timeout = config.Duration(100*time.Millisecond), config.Duration(time.Minute)
		})
		in := bootSeries(0, 2, false, "a", "b", "c")
		for _, m := range in {
			require.NoError(t, p.Add(m, acc))
		}
		waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == uint64(len(in)) }, "the held metrics passed on")
		more := bootSeries(2, 3, false, "d")
		require.NoError(t, p.Add(more[0], acc))
		waitUntil(t, 5*time.Second, func() bool { return acc.NMetrics() == uint64(len(in)+1) }, "d passed on")
		p.Stop()
		require.Len(t, log.Warnings(), 1, "one line for the hung database, not one per series: %v", log.Warnings())
		require.Contains(t, log.Warnings()[0], "max_wait (100ms)")
		require.Empty(t, log.Errors())
	})
}
