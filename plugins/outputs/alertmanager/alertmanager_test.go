package alertmanager

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
)

const id1, id2, id3 = "00000000000000a1", "00000000000000a2", "00000000000000a3"

// resolvedDescription is the description annotation of resolvedEvent's alert.
const resolvedDescription = "usage_idle is back to 75.1, expected 78.4 (band 61.2 to 95.6), " +
	"after 30m0s and 14 points from 2024-03-01 00:00:00Z, peak score 0.93."

func TestPayloads(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*Alertmanager)
		metrics []telegraf.Metric
		want    string
	}{
		{
			name:    "open incident with the defaults",
			metrics: []telegraf.Metric{openEvent(id1)},
			want: `[{
				"labels": {"alertname": "AnomalyDetected", "severity": "warning", "incident_id": "00000000000000a1",
				           "measurement": "cpu", "field": "usage_idle", "host": "db1"},
				"annotations": {
					"summary": "cpu usage_idle on host=db1: deviation anomaly (down)",
					"description": "usage_idle is 12, expected 78.4 (band 61.2 to 95.6), score 0.47, since 2024-03-01 00:00:00Z."},
				"startsAt": "2024-03-01T00:00:00Z",
				"endsAt": "2024-03-01T01:04:00Z"}]`,
		},
		{
			name:    "incident opened and resolved in one batch: its resolution alone, severity of its opening",
			metrics: []telegraf.Metric{openEvent(id1), resolvedEvent(id1)},
			want: `[{
				"labels": {"alertname": "AnomalyDetected", "severity": "warning", "incident_id": "00000000000000a1",
				           "measurement": "cpu", "field": "usage_idle", "host": "db1"},
				"annotations": {
					"summary": "cpu usage_idle on host=db1: deviation anomaly (down)",
					"description": "` + resolvedDescription + `"},
				"startsAt": "2024-03-01T00:00:00Z",
				"endsAt": "2024-03-01T00:30:00Z"}]`,
		},
		{
			name:    "resolution of an incident not kept: severity of its peak",
			metrics: []telegraf.Metric{resolvedEvent(id1)},
			want: `[{
				"labels": {"alertname": "AnomalyDetected", "severity": "critical", "incident_id": "00000000000000a1",
				           "measurement": "cpu", "field": "usage_idle", "host": "db1"},
				"annotations": {
					"summary": "cpu usage_idle on host=db1: deviation anomaly (down)",
					"description": "` + resolvedDescription + `"},
				"startsAt": "2024-03-01T00:00:00Z",
				"endsAt": "2024-03-01T00:30:00Z"}]`,
		},
		{
			name: "configured alertname, levels, annotations and generator URL",
			change: func(a *Alertmanager) {
				a.Alertname = "SeriesAnomaly"
				a.SeverityLevels = map[string]float64{"info": 0, "page": 0.45}
				a.Annotations = map[string]string{
					"description": "",
					"runbook_url": "https://wiki.example.com/anomaly#{{.Reason}}",
					"value":       `{{printf "%.1f" .Value}} against {{.Expected}} ({{.Tags.host}}{{.Tags.missing}})`,
				}
				a.GeneratorURL = `https://grafana.example.com/d/anomaly?var-host={{urlquery .Tags.host}}&from={{.Started.UnixMilli}}&to=now`
			},
			metrics: []telegraf.Metric{openEvent(id1)},
			want: `[{
				"labels": {"alertname": "SeriesAnomaly", "severity": "page", "incident_id": "00000000000000a1",
				           "measurement": "cpu", "field": "usage_idle", "host": "db1"},
				"annotations": {
					"summary": "cpu usage_idle on host=db1: deviation anomaly (down)",
					"runbook_url": "https://wiki.example.com/anomaly#deviation",
					"value": "12.0 against 78.4 (db1)"},
				"startsAt": "2024-03-01T00:00:00Z",
				"endsAt": "2024-03-01T01:04:00Z",
				"generatorURL": "https://grafana.example.com/d/anomaly?var-host=db1&from=1709251200000&to=now"}]`,
		},
		{
			name: "tags that are not label names, and tags named like the output's labels",
			metrics: []telegraf.Metric{metric.New("anomaly_incident",
				map[string]string{"measurement": "disk", "field": "used", "host.name": "db1", "1dc": "eu", "severity": "tag", "alertname": "tag"},
				map[string]any{"state": "open", "id": id2, "started": started.UnixNano(), "duration": int64(0),
					"peak_score": 0.85, "value": 95.0, "expected": 40.0, "lower": 30.0, "upper": 50.0,
					"direction": "up", "reason": "range", "points": int64(1)}, started)},
			want: `[{
				"labels": {"alertname": "AnomalyDetected", "severity": "critical", "incident_id": "00000000000000a2",
				           "measurement": "disk", "field": "used", "host_name": "db1", "_1dc": "eu"},
				"annotations": {
					"summary": "disk used on 1dc=eu,alertname=tag,host.name=db1,severity=tag: range anomaly (up)",
					"description": "used is 95, expected 40 (band 30 to 50), score 0.85, since 2024-03-01 00:00:00Z."},
				"startsAt": "2024-03-01T00:00:00Z",
				"endsAt": "2024-03-01T01:04:00Z"}]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := newFakeAM(t)
			a, _, _ := newOutput(t, []string{am.URL}, tc.change)
			require.NoError(t, a.Write(tc.metrics))
			bodies := am.taken()
			require.Len(t, bodies, 1)
			require.JSONEq(t, tc.want, bodies[0])
		})
	}
}

func TestOpenIncidentsAreResentUntilResolved(t *testing.T) {
	am := newFakeAM(t)
	a, _, clock := newOutput(t, []string{am.URL}, nil)
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1), openEvent(id2)}))
	require.Len(t, am.alerts(t), 2)

	*clock = wall.Add(time.Minute)
	resend(a)
	alerts := am.alerts(t)
	require.Len(t, alerts, 2, "both open incidents re-sent")
	for _, al := range alerts {
		require.True(t, al.EndsAt.Equal(wall.Add(5*time.Minute)), "each re-send moves the end %d intervals past it: %s", lifetimeResends, al.EndsAt)
	}
	require.Equal(t, int64(2), stat(a, "open_incidents"))

	require.NoError(t, a.Write([]telegraf.Metric{resolvedEvent(id1)}))
	resolved := am.alerts(t)
	require.Len(t, resolved, 1)
	require.True(t, resolved[0].EndsAt.Equal(started.Add(30*time.Minute)), "a resolution ends at its event time")

	resend(a)
	alerts = am.alerts(t)
	require.Len(t, alerts, 1, "the resolved incident, taken, is no longer sent")
	require.Equal(t, id2, alerts[0].Labels[labelID])
	require.Equal(t, int64(1), stat(a, "open_incidents"))
	require.Equal(t, int64(0), stat(a, "pending_resolved"))
	require.Equal(t, int64(6), stat(a, "alerts_sent"))
}

// TestOpenIncidentWithNoNewsIsAbandonedAfterMaxAge: an open incident the
// output heard nothing of for max_age is no longer re-sent (its processor
// is gone, it would fire for ever), and it is said once and counted; one
// with a later event is re-sent on.
func TestOpenIncidentWithNoNewsIsAbandonedAfterMaxAge(t *testing.T) {
	am := newFakeAM(t)
	a, log, clock := newOutput(t, []string{am.URL}, func(a *Alertmanager) { a.MaxAge = config.Duration(time.Hour) })
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1), openEvent(id2)}))
	*clock = wall.Add(30 * time.Minute)
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id2)})) // news of id2
	am.alerts(t)

	*clock = wall.Add(61 * time.Minute)
	resend(a)
	require.Equal(t, []string{id2}, idsOf(am.alerts(t)), "only the incident with news is re-sent")
	require.Equal(t, []string{id2}, keptIDs(a))
	require.Equal(t, int64(1), stat(a, "abandoned_incidents"))
	require.Equal(t, int64(1), stat(a, "open_incidents"))
	require.Len(t, log.Warnings(), 1, "logged once: %v", log.Messages())
	require.Contains(t, log.Warnings()[0], id1)

	*clock = wall.Add(200 * time.Minute)
	resend(a)
	require.Empty(t, keptIDs(a))
	require.Len(t, log.Warnings(), 1, "logged once: %v", log.Messages())
}

func TestReplayedOpenEventDoesNotReopenAResolvedIncident(t *testing.T) {
	am := newFakeAM(t)
	a, _, _ := newOutput(t, []string{am.URL, "http://127.0.0.1:1"}, nil)
	// The second URL is down, so the resolution stays kept for it.
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1), resolvedEvent(id1)}))
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1)}))
	resend(a)
	for _, al := range am.alerts(t) {
		require.False(t, al.EndsAt.IsZero())
		require.True(t, al.EndsAt.Equal(started.Add(30*time.Minute)), "only ever the resolution: %+v", al)
	}
	require.Equal(t, int64(0), stat(a, "open_incidents"))
}

func TestWriteFailsWhileNoAlertmanagerTakesTheBatch(t *testing.T) {
	am := newFakeAM(t)
	a, log, _ := newOutput(t, []string{am.URL}, nil)
	am.fail(http.StatusServiceUnavailable, "cluster not ready")
	batch := []telegraf.Metric{openEvent(id1), resolvedEvent(id2)}

	err := a.Write(batch)
	require.ErrorContains(t, err, "2 of 2 alerts reached no Alertmanager")
	require.ErrorContains(t, err, "POST "+am.URL+"/api/v2/alerts: HTTP 503 Service Unavailable")
	require.ErrorContains(t, err, `"cluster not ready"`)
	require.Error(t, a.Write(batch), "Telegraf writes the kept batch again")
	require.Len(t, log.Errors(), 1, "an outage is logged when it starts, not at each retry")
	require.Equal(t, int64(2), stat(a, "send_errors"))
	require.Equal(t, int64(1), stat(a, "open_incidents"), "kept all the same")
	require.Equal(t, int64(1), stat(a, "pending_resolved"))

	am.fail(0, "")
	require.NoError(t, a.Write(batch))
	require.Len(t, am.alerts(t), 2)
	require.Equal(t, int64(0), stat(a, "pending_resolved"), "the resolution is delivered")
	require.Contains(t, log.Messages()[len(log.Messages())-1].Text, "takes alerts again")

	// A connection refused names the URL too; each URL's reason, on one line.
	a2, _, _ := newOutput(t, []string{"http://127.0.0.1:1", "http://user:pass@127.0.0.1:2"}, nil)
	err = a2.Write(batch)
	require.ErrorContains(t, err, "POST http://127.0.0.1:1/api/v2/alerts: dial tcp 127.0.0.1:1")
	require.ErrorContains(t, err, "; POST http://user:xxxxx@127.0.0.1:2/api/v2/alerts: dial tcp 127.0.0.1:2")
	require.NotContains(t, err.Error(), "pass")
	require.NotContains(t, err.Error(), "\n")
}

func TestResolutionKeptWhileNoAlertmanagerTookIt(t *testing.T) {
	am := newFakeAM(t)
	a, _, clock := newOutput(t, []string{am.URL}, nil)
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1)}))
	am.taken()
	am.fail(http.StatusBadGateway, "")
	require.Error(t, a.Write([]telegraf.Metric{resolvedEvent(id1)}))

	// Long past any lifetime: a resolution nobody took is never let go.
	*clock = wall.Add(24 * time.Hour)
	resend(a)
	require.Equal(t, int64(1), stat(a, "pending_resolved"))
	am.fail(0, "")
	resend(a)
	alerts := am.alerts(t)
	require.Len(t, alerts, 1)
	require.True(t, alerts[0].EndsAt.Equal(started.Add(30*time.Minute)))
	require.Equal(t, int64(0), stat(a, "pending_resolved"))
}

func TestEveryURLGetsEveryAlert(t *testing.T) {
	am1, am2 := newFakeAM(t), newFakeAM(t)
	a, log, clock := newOutput(t, []string{am1.URL, am2.URL + "/"}, nil)
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1)}))
	require.Len(t, am1.alerts(t), 1)
	require.Len(t, am2.alerts(t), 1)

	// One of the pair down: the write succeeds, the other still gets everything.
	am2.fail(http.StatusInternalServerError, "")
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id2), resolvedEvent(id1)}), "the HA pair took the batch")
	require.Len(t, am1.alerts(t), 2)
	require.Len(t, log.Errors(), 1)
	require.Contains(t, log.Errors()[0], am2.URL+"/api/v2/alerts: HTTP 500")
	require.Equal(t, int64(1), stat(a, "pending_resolved"), "the resolution waits for the second")

	am2.fail(0, "")
	*clock = wall.Add(time.Minute)
	resend(a)
	require.Equal(t, []string{id2}, idsOf(am1.alerts(t)), "the first gets the open incident only")
	back := am2.alerts(t)
	require.Equal(t, []string{id1, id2}, idsOf(back), "the second gets the open incident and the resolution it missed")
	require.True(t, back[0].EndsAt.Equal(started.Add(30*time.Minute)))
	require.Equal(t, int64(0), stat(a, "pending_resolved"))
}

func TestResolutionMissedByOneURLIsDroppedOnceItsAlertExpiredThere(t *testing.T) {
	am1, am2 := newFakeAM(t), newFakeAM(t)
	a, _, clock := newOutput(t, []string{am1.URL, am2.URL}, nil)
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1)}))
	am2.fail(http.StatusServiceUnavailable, "")
	require.NoError(t, a.Write([]telegraf.Metric{resolvedEvent(id1)}))

	lifetime := lifetimeResends * time.Minute
	*clock = wall.Add(lifetime)
	resend(a)
	require.Equal(t, int64(1), stat(a, "pending_resolved"), "still within the lifetime of the last firing alert am2 got")
	*clock = wall.Add(lifetime + time.Second)
	resend(a)
	require.Equal(t, int64(0), stat(a, "pending_resolved"), "am2 has expired the alert on its own")
	require.Empty(t, a.incidents)
}

func TestMaxIncidentsBoundsTheKeptSet(t *testing.T) {
	am := newFakeAM(t)
	a, log, _ := newOutput(t, []string{am.URL}, func(a *Alertmanager) { a.MaxIncidents = 2 })
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1), openEvent(id2), openEvent(id3), openEvent("00000000000000a4")}))
	require.Len(t, am.alerts(t), 4, "every incident is sent")
	require.Equal(t, int64(2), stat(a, "untracked_incidents"))
	require.Len(t, log.Warnings(), 1, "logged once when the bound is reached")
	require.Contains(t, log.Warnings()[0], "max_incidents (2) reached: incident 00000000000000a3")

	resend(a)
	require.Equal(t, []string{id1, id2}, idsOf(am.alerts(t)), "only the kept ones are re-sent")
	require.Equal(t, int64(2), stat(a, "open_incidents"))

	// A delivered resolution frees its place; the next overflow is logged again.
	require.NoError(t, a.Write([]telegraf.Metric{resolvedEvent(id1)}))
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id3), openEvent("00000000000000a5")}))
	require.Equal(t, int64(2), stat(a, "open_incidents"))
	require.Equal(t, []string{id2, id3}, keptIDs(a))
	require.Len(t, log.Warnings(), 2)
	require.Contains(t, log.Warnings()[1], "incident 00000000000000a5")
	require.Equal(t, int64(3), stat(a, "untracked_incidents"))
}

func TestBadMetricsAreCountedAndLoggedOnce(t *testing.T) {
	good := event{incident.StateOpen, id1, started, 0.7, 12}.metric()
	without := func(field string) telegraf.Metric {
		m := good.Copy()
		m.RemoveField(field)
		return m
	}
	with := func(field string, v any) telegraf.Metric {
		m := good.Copy()
		m.AddField(field, v)
		return m
	}
	for _, tc := range []struct {
		name string
		m    telegraf.Metric
		log  string
	}{
		{"no state", without("state"), "field state is missing"},
		{"no id", without("id"), "field id is missing"},
		{"no started", without("started"), "field started is missing"},
		{"state not a string", with("state", int64(1)), "field state is int64, want a string"},
		{"started a float", with("started", 1.5), "field started is float64, want an integer"},
		{"started beyond int64", with("started", uint64(1<<63)), "field started is uint64, want an integer"},
		{"unknown state", with("state", "closed"), `state "closed" is neither "open" nor "resolved"`},
		{"empty id", with("id", ""), "field id is empty"},
		{"started at 0", with("started", int64(0)), "started 0 is not a time after 1970"},
		{"resolved before started", event{incident.StateResolved, id1, started.Add(-time.Second), 0.7, 1}.metric(), "before it started"},
		{"no field tag", func() telegraf.Metric { m := good.Copy(); m.RemoveTag("field"); return m }(), "tags measurement and field are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := newFakeAM(t)
			a, log, _ := newOutput(t, []string{am.URL}, nil)
			require.NoError(t, a.Write([]telegraf.Metric{tc.m, tc.m}), "a bad metric is dropped, never retried")
			require.Empty(t, am.taken())
			require.Equal(t, int64(2), stat(a, "invalid_metrics"))
			require.Len(t, log.Errors(), 1)
			require.Contains(t, log.Errors()[0], tc.log)
		})
	}

	t.Run("a descriptive field missing or of the wrong type", func(t *testing.T) {
		am := newFakeAM(t)
		a, log, _ := newOutput(t, []string{am.URL}, nil)
		noValue, stringScore := without("value"), with("peak_score", "high")
		require.NoError(t, a.Write([]telegraf.Metric{stringScore, noValue, without("expected")}))
		alerts := am.alerts(t)
		require.Len(t, alerts, 1, "the alert is sent, once per incident")
		require.Equal(t, "warning", alerts[0].Labels[labelSeverity], "a missing score is the lowest level")
		require.Contains(t, alerts[0].Annotations["description"], "usage_idle is 12, expected 0 ")
		require.Equal(t, int64(0), stat(a, "invalid_metrics"))
		require.Len(t, log.Warnings(), 2, "one warning per kind of problem")
	})

	t.Run("other metrics", func(t *testing.T) {
		am := newFakeAM(t)
		a, log, _ := newOutput(t, []string{am.URL}, nil)
		cpu := metric.New("cpu", nil, map[string]any{"usage_idle": 12.0}, started)
		require.NoError(t, a.Write([]telegraf.Metric{cpu, cpu, good}))
		require.Len(t, am.alerts(t), 1)
		require.Equal(t, int64(2), stat(a, "ignored_metrics"))
		require.Len(t, log.Warnings(), 1)
		require.Contains(t, log.Warnings()[0], `set namepass = ["anomaly_incident"]`)
	})
}

func TestBadRequestCountsAsTakenAndIsLoggedOnce(t *testing.T) {
	// Alertmanager answers 400 after storing the valid alerts of a POST: the
	// invalid ones would be refused again.
	am := newFakeAM(t)
	a, log, _ := newOutput(t, []string{am.URL}, nil)
	am.fail(http.StatusBadRequest, `"invalid label set"`)
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1)}))
	resend(a)
	require.Len(t, am.taken(), 2)
	require.Len(t, log.Errors(), 1)
	require.Contains(t, log.Errors()[0], "HTTP 400 Bad Request")
	require.Equal(t, int64(0), stat(a, "send_errors"))
}

func TestGeneratorURLThatIsNotAURLIsLeftOut(t *testing.T) {
	// Alertmanager refuses a whole POST (422) for one alert's bad generatorURL.
	am := newFakeAM(t)
	a, log, _ := newOutput(t, []string{am.URL}, func(a *Alertmanager) { a.GeneratorURL = "http://x/%{{.Field}}" })
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1), openEvent(id2)}))
	alerts := am.alerts(t)
	require.Len(t, alerts, 2)
	require.Empty(t, alerts[0].GeneratorURL)
	require.Len(t, log.Errors(), 1)
	require.Contains(t, log.Errors()[0], "generator_url")
}

func TestAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Alertmanager)
		want   string
	}{
		{"none", nil, ""},
		{"basic", func(a *Alertmanager) {
			a.Username, a.Password = config.NewSecret([]byte("telegraf")), config.NewSecret([]byte("s3cret"))
		}, "Basic dGVsZWdyYWY6czNjcmV0"},
		{"bearer", func(a *Alertmanager) { a.Token = config.NewSecret([]byte("t0ken")) }, "Bearer t0ken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := newFakeAM(t)
			a, _, _ := newOutput(t, []string{am.URL}, tc.change)
			require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1)}))
			resend(a)
			require.Len(t, am.headers, 2)
			for _, h := range am.headers {
				require.Equal(t, tc.want, h.Get("Authorization"), "on writes and re-sends")
				require.Equal(t, "application/json", h.Get("Content-Type"))
			}
		})
	}
}

func TestTLS(t *testing.T) {
	am := &fakeAM{}
	am.Server = httptest.NewTLSServer(http.HandlerFunc(am.serve))
	t.Cleanup(am.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: am.Certificate().Raw})
	require.NoError(t, os.WriteFile(caFile, ca, 0o600))

	untrusted, _, _ := newOutput(t, []string{am.URL}, nil)
	require.ErrorContains(t, untrusted.Write([]telegraf.Metric{openEvent(id1)}), "certificate")

	trusted, _, _ := newOutput(t, []string{am.URL}, func(a *Alertmanager) { a.TLSCA = caFile })
	require.NoError(t, trusted.Write([]telegraf.Metric{openEvent(id1)}))
	require.Len(t, am.alerts(t), 1)
}

func TestInitRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Alertmanager)
		err    string
	}{
		{"no urls", func(a *Alertmanager) { a.URLs = nil }, "urls"},
		{"bad url", func(a *Alertmanager) { a.URLs = []string{"127.0.0.1:9093"} }, "urls: parse"},
		{"not http", func(a *Alertmanager) { a.URLs = []string{"ftp://a:9093"} }, "not an http:// or https:// URL"},
		{"url twice", func(a *Alertmanager) { a.URLs = []string{"http://a:9093", "http://a:9093/"} }, "given twice"},
		{"timeout", func(a *Alertmanager) { a.Timeout = 0 }, "timeout"},
		{"resend_interval", func(a *Alertmanager) { a.ResendInterval = config.Duration(time.Millisecond) }, "resend_interval"},
		{"max_incidents", func(a *Alertmanager) { a.MaxIncidents = 0 }, "max_incidents"},
		{"measurement", func(a *Alertmanager) { a.Measurement = "" }, "measurement"},
		{"alertname", func(a *Alertmanager) { a.Alertname = "" }, "alertname"},
		{"basic and bearer", func(a *Alertmanager) {
			a.Username, a.Token = config.NewSecret([]byte("u")), config.NewSecret([]byte("t"))
		}, "not both"},
		{"password alone", func(a *Alertmanager) { a.Password = config.NewSecret([]byte("p")) }, "without a username"},
		{"no levels", func(a *Alertmanager) { a.SeverityLevels = map[string]float64{} }, "severity_levels is empty"},
		{"equal levels", func(a *Alertmanager) { a.SeverityLevels = map[string]float64{"a": 0.5, "b": 0.5} }, "same threshold"},
		{"annotation name", func(a *Alertmanager) { a.Annotations = map[string]string{"runbook-url": "x"} }, "annotation \"runbook-url\""},
		{"annotation template", func(a *Alertmanager) { a.Annotations = map[string]string{"summary": "{{.Field"} }, "annotation \"summary\""},
		{"generator_url template", func(a *Alertmanager) { a.GeneratorURL = "{{end}}" }, "generator_url"},
		{"tls", func(a *Alertmanager) { a.TLSCA = "/nonexistent/ca.pem" }, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAlertmanager()
			a.Log = testutil.Logger{}
			tc.change(a)
			require.ErrorContains(t, a.Init(), tc.err)
		})
	}
}

func TestSampleConfigLoads(t *testing.T) {
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(sampleConfig), config.EmptySourcePath))
	require.Len(t, c.Outputs, 1)
	a, ok := c.Outputs[0].Output.(*Alertmanager)
	require.True(t, ok)
	require.Equal(t, []string{"http://127.0.0.1:9093"}, a.URLs)
}

func TestSampleConfigWithEveryKeyLoads(t *testing.T) {
	// Every commented key of sample.conf uncommented: each is a real key.
	uncommented := regexp.MustCompile(`(?m)^  # ( *[a-z_\[].*)$`).ReplaceAllString(sampleConfig, "  $1")
	uncommented = strings.Replace(uncommented, `tls_ca = "/etc/telegraf/ca.pem"`, `tls_ca = ""`, 1)
	uncommented = strings.Replace(uncommented, `tls_cert = "/etc/telegraf/cert.pem"`, `tls_cert = ""`, 1)
	uncommented = strings.Replace(uncommented, `tls_key = "/etc/telegraf/key.pem"`, `tls_key = ""`, 1)
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(uncommented), config.EmptySourcePath), uncommented)
	a := c.Outputs[0].Output.(*Alertmanager)
	require.Equal(t, map[string]float64{"warning": 0, "critical": 0.5}, a.SeverityLevels)
	require.Equal(t, map[string]string{"runbook_url": "https://wiki.example.com/anomaly#{{.Reason}}"}, a.Annotations)
}

func TestReadmeShowsTheSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```toml @sample.conf\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, block, "README.md has a ```toml @sample.conf block")
	require.Equal(t, sampleConfig, string(block[1]))
}

func TestTracking(t *testing.T) {
	// Through Telegraf's own output model: a batch no Alertmanager took stays
	// in the buffer, undelivered, and is delivered once one takes it; a bad
	// metric is delivered (dropped as handled), never held.
	am := newFakeAM(t)
	a := newAlertmanager()
	a.URLs = []string{am.URL}
	ro, err := models.NewRunningOutput(a, &models.OutputConfig{Name: "alertmanager"}, 100, 1000)
	require.NoError(t, err)
	require.NoError(t, ro.Init())
	require.NoError(t, ro.Connect())
	defer ro.Close()

	delivered := make(map[telegraf.TrackingID]bool)
	var mu sync.Mutex
	notify := func(di telegraf.DeliveryInfo) {
		mu.Lock()
		defer mu.Unlock()
		delivered[di.ID()] = di.Delivered()
	}
	outcome := func(id telegraf.TrackingID) (done, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		ok, done = delivered[id]
		return done, ok
	}
	opened, openedID := metric.WithTracking(openEvent(id1), notify)
	bad := openEvent(id2)
	bad.RemoveField("state")
	bad, badID := metric.WithTracking(bad, notify)

	am.fail(http.StatusServiceUnavailable, "")
	ro.AddMetricNoCopy(opened)
	ro.AddMetricNoCopy(bad)
	require.Error(t, ro.Write())
	require.Equal(t, 2, ro.BufferLength(), "the batch is kept")
	done, _ := outcome(openedID)
	require.False(t, done)

	am.fail(0, "")
	require.NoError(t, ro.Write())
	require.Equal(t, 0, ro.BufferLength())
	for _, id := range []telegraf.TrackingID{openedID, badID} {
		done, ok := outcome(id)
		require.True(t, done)
		require.True(t, ok)
	}
	require.NotEmpty(t, am.taken(), "(the re-sender, running since Connect, may have sent it too)")
}

// TestDefaultSeverityPagesOnTheSurest protects the default severity_levels:
// the processor's score is calibrated per series, so an incident flagged at
// the default threshold (0.45) is a warning and one scored 0.5 or more,
// where alerts are surest, is critical.
func TestDefaultSeverityPagesOnTheSurest(t *testing.T) {
	levels, err := parseSeverityLevels(defaultSeverityLevels)
	require.NoError(t, err)
	for score, want := range map[float64]string{0.45: "warning", 0.49: "warning", 0.5: "critical", 0.93: "critical"} {
		require.Equal(t, want, severity(levels, score), "score %v", score)
	}
}
