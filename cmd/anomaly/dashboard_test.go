package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// regenerate is the command that writes the e2e collector's dashboard.
const regenerate = "go run ./cmd/anomaly dashboard --config e2e/configs/collector.conf --out e2e/configs/collector.dashboard.json"

// TestCollectorDashboardIsCurrent protects the dashboard checked in beside
// the e2e collector's configuration (and tested against InfluxDB by e2e's
// TestDashboardQueries): it is what `anomaly dashboard` makes of that
// configuration today.
func TestCollectorDashboardIsCurrent(t *testing.T) {
	var got bytes.Buffer
	require.NoError(t, run([]string{"dashboard", "--config", filepath.Join("..", "..", "e2e", "configs", "collector.conf")}, &got, os.Stderr))
	want, err := os.ReadFile(filepath.Join("..", "..", "e2e", "configs", "collector.dashboard.json"))
	require.NoError(t, err)
	if !bytes.Equal(want, got.Bytes()) {
		t.Fatalf("e2e/configs/collector.dashboard.json is stale: regenerate it from the repository's root with\n  %s", regenerate)
	}
}

// TestDashboardOfAConfiguration protects how the command reads a Telegraf
// configuration: the [[processors.anomaly]] table with its sub-tables
// through the plugin's loader (the other plugins are not built into the
// tool), and the statistics panels only with [[inputs.internal]] (the
// history's with the table's history sub-table), the alerts' only with
// [[outputs.alertmanager]] too.
func TestDashboardOfAConfiguration(t *testing.T) {
	const processor = `
[[processors.anomaly]]
  namedrop = ["internal*"]
  [processors.anomaly.tagdrop]
    env = ["test"]
  [processors.anomaly.history]
    urls = ["http://127.0.0.1:8086"]
`
	for _, tc := range []struct {
		name, conf string
		want       []string
	}{
		{"the table alone", processor, []string{"$measurement $field", "$measurement $field: score", "Open incidents"}},
		{"with inputs.internal", "[[inputs.internal]]\n" + processor + "[[outputs.influxdb]]\n  urls = [\"http://127.0.0.1:8086\"]\n",
			[]string{"$measurement $field", "$measurement $field: score", "Open incidents", "Points scored and warming",
				"Incidents opened and resolved", "History bootstrap"}},
		{"and outputs.alertmanager", "[[inputs.internal]]\n" + processor + "[[outputs.alertmanager]]\n  urls = [\"http://127.0.0.1:9093\"]\n",
			[]string{"$measurement $field", "$measurement $field: score", "Open incidents", "Points scored and warming",
				"Incidents opened and resolved", "History bootstrap", "Alerts sent and failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "telegraf.conf")
			require.NoError(t, os.WriteFile(path, []byte(tc.conf), 0o600))
			var out bytes.Buffer
			require.NoError(t, run([]string{"dashboard", "--config", path}, &out, os.Stderr))
			var d struct {
				Panels []struct{ Title string }
			}
			require.NoError(t, json.Unmarshal(out.Bytes(), &d))
			titles := make([]string, 0, len(d.Panels))
			for _, p := range d.Panels {
				titles = append(titles, p.Title)
			}
			require.Equal(t, tc.want, titles)
		})
	}
}
