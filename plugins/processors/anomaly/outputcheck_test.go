package anomaly

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// TestCollidingOutputNamesAreRefused protects the output fields from one
// another: suffixes under which two outputs would share a name are refused
// at Init, the error naming both keys.
func TestCollidingOutputNamesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Anomaly)
		keys   []string // named in the error; none: accepted
	}{
		{"defaults", func(*Anomaly) {}, nil},
		{"anomaly flag named as the score", func(p *Anomaly) { p.AnomalySuffix = "_score" }, []string{"score_suffix", "anomaly_suffix"}},
		{"warming flag named as the score", func(p *Anomaly) { p.WarmingSuffix = "_score" }, []string{"score_suffix", "warming_suffix"}},
		{"expected named as the score", func(p *Anomaly) { p.ExpectedSuffix = "_score" }, []string{"score_suffix", "expected_suffix"}},
		{"calendar named as the reason", func(p *Anomaly) { p.CalendarSuffix = "_reason" }, []string{"reason_suffix", "calendar_suffix"}},
		{"lower named as the upper", func(p *Anomaly) { p.LowerSuffix = "_upper" }, []string{"lower_suffix", "upper_suffix"}},
		// value's expected value and value_x's score would both be value_x_score.
		{"a suffix that ends in another", func(p *Anomaly) { p.ExpectedSuffix = "_x_score" }, []string{"expected_suffix", "score_suffix", "value_x_score"}},
		{"another that ends in another", func(p *Anomaly) { p.ScoreSuffix = "_lower_upper" }, []string{"score_suffix", "upper_suffix"}},
		{"suffixes that only share an end", func(p *Anomaly) { p.ScoreSuffix, p.ExpectedSuffix = "_s1", "_e1" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newAnomaly()
			p.Log = testutil.Logger{}
			tc.change(p)
			err := p.Init()
			if tc.keys == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, key := range tc.keys {
				require.Contains(t, err.Error(), key)
			}
		})
	}
}

// TestIncidentMeasurementSelectedByNamepassIsRefused protects a scored
// measurement from being taken for incident events: a table that selects
// incident_measurement by namepass is refused when it is loaded.
func TestIncidentMeasurementSelectedByNamepassIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.conf")
	require.NoError(t, os.WriteFile(path, []byte("[[processors.anomaly]]\n  namepass = [\"cpu\", \"mem\"]\n  incident_measurement = \"cpu\"\n"), 0o600))
	_, err := LoadConfig(path)
	require.ErrorContains(t, err, "incident_measurement")
	require.ErrorContains(t, err, "namepass")
	require.ErrorContains(t, err, `"cpu"`)

	require.NoError(t, os.WriteFile(path, []byte("[[processors.anomaly]]\n  namepass = [\"cpu\", \"mem\"]\n"), 0o600))
	_, err = LoadConfig(path)
	require.NoError(t, err)

	// namepass holds globs, as in Telegraf.
	require.NoError(t, os.WriteFile(path, []byte("[[processors.anomaly]]\n  namepass = [\"anomaly_*\"]\n"), 0o600))
	_, err = LoadConfig(path)
	require.ErrorContains(t, err, "incident_measurement")
}

// TestMetricNamedAsIncidentsIsLoggedOnce: inside Telegraf the table's
// namepass is not the plugin's to see, so the first metric named
// incident_measurement that is no incident event is logged, once.
func TestMetricNamedAsIncidentsIsLoggedOnce(t *testing.T) {
	logger := &testutil.CaptureLogger{}
	p, acc := newPlugin(t, func(p *Anomaly) { p.IncidentMeasurement, p.Log = "cpu", logger })
	for i := range 3 {
		m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 1.0}, t0.Add(time.Duration(i)*time.Minute))
		require.NoError(t, p.Add(m, acc))
	}
	event := metric.New("cpu", map[string]string{"measurement": "mem", "field": "used"}, map[string]any{"state": "open", "id": "0123456789abcdef"}, t0)
	require.NoError(t, p.Add(event, acc))
	require.Len(t, logger.Errors(), 1)
	require.Contains(t, logger.Errors()[0], `"cpu"`)
	require.Contains(t, logger.Errors()[0], "incident_measurement")
}

// TestConfigErrorsNameTheirKey protects the errors of settings out of
// range, the detector's included: each names the key as the user wrote it.
func TestConfigErrorsNameTheirKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		change func(*Anomaly)
	}{
		{"sensitivity", func(p *Anomaly) { p.Sensitivity = "extreme" }},
		{"direction", func(p *Anomaly) { p.Direction = "sideways" }},
		{"threshold", func(p *Anomaly) { p.Threshold = 2 }},
		{"min_deviation", func(p *Anomaly) { p.MinDeviation = -1 }},
		{"min_relative_deviation", func(p *Anomaly) { p.MinRelativeDeviation = -1 }},
		{"window", func(p *Anomaly) { p.Window = -1 }},
		{"anomalous_points", func(p *Anomaly) { p.AnomalousPoints, p.Window = 5, 2 }},
		{"warmup_points", func(p *Anomaly) { p.WarmupPoints = -1 }},
		{"hold", func(p *Anomaly) { p.Hold = -1 }},
		{"seasonality", func(p *Anomaly) { p.Seasonality = []string{"monthly"} }},
		{"timezone", func(p *Anomaly) { p.TimeZone = "Mars/Olympus" }},
		{"max_series", func(p *Anomaly) { p.MaxSeries = 0 }},
		{"series_ttl", func(p *Anomaly) { p.SeriesTTL = -1 }},
		{"snapshot_interval", func(p *Anomaly) { p.SnapshotInterval = -1 }},
		{"output_fields", func(p *Anomaly) { p.OutputFields = []string{"median"} }},
		{"score_suffix", func(p *Anomaly) { p.ScoreSuffix = "" }},
		{"anomaly_tag", func(p *Anomaly) { p.AnomalyTag = "" }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			p := newAnomaly()
			p.Log = testutil.Logger{}
			tc.change(p)
			err := p.Init()
			require.Error(t, err)
			named := strings.HasPrefix(err.Error(), tc.key+" ") || strings.HasPrefix(err.Error(), tc.key+":")
			require.True(t, named, "error %q, want it to start with the key %s", err, tc.key)
		})
	}
}
