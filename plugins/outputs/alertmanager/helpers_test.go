package alertmanager

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/selfstat"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
)

// started is when the test incidents start; wall is the output's clock.
var (
	started = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	wall    = time.Date(2024, 3, 1, 1, 0, 0, 0, time.UTC)
)

// fakeAM is an in-process Alertmanager: it records every POST to
// /api/v2/alerts and answers with status (200 if 0).
type fakeAM struct {
	*httptest.Server
	mu      sync.Mutex
	delay   time.Duration // before it answers
	status  int
	answer  string
	bodies  []string
	headers []http.Header
}

func newFakeAM(t *testing.T) *fakeAM {
	t.Helper()
	f := &fakeAM{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAM) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return // the client gave up: nothing taken
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != alertsPath {
		http.NotFound(w, r)
		return
	}
	f.headers = append(f.headers, r.Header.Clone())
	if f.status != 0 && f.status != http.StatusBadRequest {
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.answer)
		return
	}
	f.bodies = append(f.bodies, string(body))
	if f.status != 0 {
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.answer)
	}
}

// fail makes the server answer status with answer; 0 makes it take alerts again.
func (f *fakeAM) fail(status int, answer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.answer = status, answer
}

// taken returns the bodies of the POSTs it took, and forgets them.
func (f *fakeAM) taken() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bodies
	f.bodies = nil
	return b
}

// alerts decodes the POSTs it took, and forgets them.
func (f *fakeAM) alerts(t *testing.T) []alert {
	t.Helper()
	bodies := f.taken()
	all := make([]alert, 0, len(bodies))
	for _, b := range bodies {
		var as []alert
		require.NoError(t, json.Unmarshal([]byte(b), &as))
		all = append(all, as...)
	}
	return all
}

// newOutput returns an initialised output sending to urls, on the fake clock
// *clock (wall unless changed), with its own statistics and a capturing log.
// It is not connected: tests call resend themselves.
func newOutput(t *testing.T, urls []string, change func(*Alertmanager)) (*Alertmanager, *testutil.CaptureLogger, *time.Time) {
	t.Helper()
	a := newAlertmanager()
	a.URLs = urls
	log := &testutil.CaptureLogger{}
	a.Log = log
	a.Statistics = selfstat.NewCollector(map[string]string{"test": t.Name()})
	t.Cleanup(a.Statistics.UnregisterAll)
	clock := wall
	a.now = func() time.Time { return clock }
	if change != nil {
		change(a)
	}
	require.NoError(t, a.Init())
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	return a, log, &clock
}

// event builds an incident metric of the contract for series cpu,host=db1 usage_idle.
type event struct {
	state, id string
	at        time.Time
	peak      float64
	value     float64
}

func (e event) metric() telegraf.Metric {
	points := int64(1)
	if e.state == incident.StateResolved {
		points = 14
	}
	return metric.New("anomaly_incident",
		map[string]string{"measurement": "cpu", "field": "usage_idle", "host": "db1"},
		map[string]any{
			"state": e.state, "id": e.id, "started": started.UnixNano(), "duration": int64(e.at.Sub(started)),
			"peak_score": e.peak, "value": e.value, "expected": 78.4, "lower": 61.2, "upper": 95.6,
			"direction": "down", "reason": "deviation", "points": points,
		}, e.at)
}

func openEvent(id string) telegraf.Metric {
	return event{incident.StateOpen, id, started, 0.47, 12}.metric()
}

func resolvedEvent(id string) telegraf.Metric {
	return event{incident.StateResolved, id, started.Add(30 * time.Minute), 0.93, 75.1}.metric()
}

// stat reads one of the output's statistics.
func stat(a *Alertmanager, field string) int64 {
	return a.Statistics.Get("alertmanager", field, nil).Get()
}

func resend(a *Alertmanager) { a.resend(context.Background()) }

// idsOf returns the incident ids of alerts.
func idsOf(alerts []alert) []string {
	out := make([]string, 0, len(alerts))
	for _, al := range alerts {
		out = append(out, al.Labels[labelID])
	}
	return out
}

// keptIDs returns the ids of the incidents a keeps, oldest first.
func keptIDs(a *Alertmanager) []string {
	kept := a.sorted()
	if len(kept) == 0 {
		return nil // as the tables write "keeps none"
	}
	out := make([]string, 0, len(kept))
	for _, t := range kept {
		out = append(out, t.id)
	}
	return out
}

// slow makes the server answer after delay.
func (f *fakeAM) slow(delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = delay
}

// pipedAM is a fakeAM reached over in-memory pipes rather than TCP, for
// tests in a synctest bubble: a goroutine blocked on a real socket is never
// durably blocked, so the bubble's fake clock would not move. Outputs reach
// it at URL once attached.
type pipedAM struct {
	*fakeAM
	URL       string
	transport *http.Transport
}

// newPipedAM starts a pipedAM; call it in the bubble.
func newPipedAM(t *testing.T) *pipedAM {
	t.Helper()
	f := &fakeAM{}
	l := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &pipedAM{fakeAM: f, URL: "http://alertmanager.test:9093", transport: &http.Transport{DialContext: l.dial}}
}

// attach makes a, initialised, send to the pipedAM.
func (p *pipedAM) attach(a *Alertmanager) { a.client.Transport = p.transport }

// pipeListener hands the server ends of the pipes its dial makes to an
// http.Server.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (*pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
