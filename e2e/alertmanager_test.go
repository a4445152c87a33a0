package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/outputs"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/outputs/alertmanager"
)

// TestAlertmanagerOutput drives outputs.alertmanager inside Telegraf's own
// output model (its buffer and retries) against the real Alertmanager that
// scripts/alertmanager.sh started: an incident fires with the series' labels
// and is notified, stays firing through re-sends past its alert's lifetime,
// resolves; an incident opened while Alertmanager is stopped fails the
// write, stays in the buffer, and arrives once Alertmanager is back.
func TestAlertmanagerOutput(t *testing.T) {
	needServers(t)
	const resend = 2 * time.Second
	out := outputs.Outputs["alertmanager"]().(*alertmanager.Alertmanager)
	out.URLs = []string{e.amURL}
	out.ResendInterval = config.Duration(resend)
	out.StateFile = filepath.Join(t.TempDir(), "alertmanager.state")
	ro, err := models.NewRunningOutput(out, &models.OutputConfig{Name: "alertmanager"}, 1000, 10000)
	require.NoError(t, err)
	require.NoError(t, ro.Init())
	require.NoError(t, ro.Connect())
	defer ro.Close()

	now := time.Now().UTC().Truncate(time.Second)
	const first, second = "e2e0000000000001", "e2e0000000000002"

	ro.AddMetric(incident(stateOpen, first, now.Add(-time.Minute), now.Add(-time.Minute)))
	require.NoError(t, ro.Write())
	alerts := waitAlerts(t, first, 1)
	require.Equal(t, map[string]string{
		"alertname": "AnomalyDetected", "severity": "warning", "incident_id": first,
		"measurement": "cpu", "field": "usage_idle", "host": "db1", "region": "eu",
	}, alerts[0].Labels)
	require.True(t, alerts[0].StartsAt.Equal(now.Add(-time.Minute)), "startsAt %s", alerts[0].StartsAt)
	require.Equal(t, "cpu usage_idle on host=db1,region=eu: deviation anomaly (down)", alerts[0].Annotations["summary"])
	waitNotified(t, first, "firing")

	// Its alert lives 4 re-sends: past that, only the re-sends keep it firing.
	time.Sleep(5 * resend)
	require.Len(t, waitAlerts(t, first, 1), 1)

	ro.AddMetric(incident(stateResolved, first, now.Add(-time.Minute), now))
	require.NoError(t, ro.Write())
	waitAlerts(t, first, 0)
	waitNotified(t, first, "resolved")

	require.NoError(t, script(time.Minute, "alertmanager.sh", "stop"))
	ro.AddMetric(incident(stateOpen, second, now, now))
	err = ro.Write()
	require.ErrorContains(t, err, "POST "+e.amURL+"/api/v2/alerts: dial tcp")
	require.ErrorContains(t, err, "connection refused")
	require.Equal(t, 1, ro.BufferLength(), "Telegraf keeps the batch")
	time.Sleep(3 * resend) // re-sends fail meanwhile
	require.Error(t, ro.Write())
	require.NoError(t, script(time.Minute, "alertmanager.sh", "start"))

	// The re-sender delivers it first (no write in between), then the kept batch goes through.
	waitAlerts(t, second, 1)
	require.NoError(t, ro.Write())
	require.Equal(t, 0, ro.BufferLength())
	waitNotified(t, second, "firing")
}

const stateOpen, stateResolved = "open", "resolved"

// incident is an incident event of processors.anomaly's contract for cpu,host=db1,region=eu usage_idle.
func incident(state, id string, started, at time.Time) telegraf.Metric {
	return metric.New("anomaly_incident",
		map[string]string{"measurement": "cpu", "field": "usage_idle", "host": "db1", "region": "eu"},
		map[string]any{
			"state": state, "id": id, "started": started.UnixNano(), "duration": int64(at.Sub(started)),
			"peak_score": 0.47, "value": 12.0, "expected": 78.4, "lower": 61.2, "upper": 95.6,
			"direction": "down", "reason": "deviation", "points": int64(3),
		}, at)
}

// waitAlerts waits until Alertmanager holds n firing alerts of incident id, and returns them.
func waitAlerts(t *testing.T, id string, n int) []amAlert {
	t.Helper()
	var alerts []amAlert
	waitFor(t, 30*time.Second, fmt.Sprintf("%d firing alerts of incident %s in Alertmanager", n, id), func() (bool, error) {
		var err error
		alerts, err = amAlerts(fmt.Sprintf("incident_id=%q", id))
		if err != nil {
			return false, err
		}
		return len(alerts) == n, fmt.Errorf("have %+v", alerts)
	})
	return alerts
}

// waitNotified waits until Alertmanager notified the webhook of incident id as status.
func waitNotified(t *testing.T, id, status string) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("a %s notification of incident %s", status, id), func() (bool, error) {
		notes := e.webhook.notified("incident_id", id)
		for _, n := range notes {
			if n.Status == status {
				return true, nil
			}
		}
		return false, fmt.Errorf("notifications %+v", notes)
	})
}
