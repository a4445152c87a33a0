package anomaly

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

func withState(path string) func(*Anomaly) {
	return func(p *Anomaly) { p.StateFile = path }
}

func TestStateSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	p, acc := newPlugin(t, withState(path))
	warm(t, p, acc, 100, "a", "b")
	p.Stop() // writes the snapshot
	require.FileExists(t, path)

	q, acc := newPlugin(t, withState(path))
	require.Equal(t, 2, q.scorer.table.Len())
	require.Equal(t, int64(2), q.stats.restored.Get())
	// The series resume at once: not warming, and a normal point is normal.
	m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 100.0}, t0.Add(100*time.Minute))
	require.NoError(t, q.Add(m, acc))
	got := last(acc)
	require.NotContains(t, got.Fields(), "value_warming", "a restored series must not warm up again")
	require.NotContains(t, got.Fields(), "value_anomaly")
	// A point older than the snapshot's last one is recognised as already seen.
	m = metric.New("cpu", map[string]string{"host": "b"}, map[string]any{"value": 100.0}, t0.Add(99*time.Minute))
	require.NoError(t, q.Add(m, acc))
	require.Equal(t, int64(1), q.stats.duplicate.Get())
}

func TestSnapshotsAreWrittenOnTheInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	clock := t0
	p, acc := newPlugin(t, func(p *Anomaly) {
		p.StateFile = path
		p.now = func() time.Time { return clock }
	})
	warm(t, p, acc, 10, "a")
	require.NoFileExists(t, path, "no snapshot before the interval")
	p.housekeep(clock)
	require.NoFileExists(t, path, "no snapshot before the interval")
	clock = clock.Add(6 * time.Minute)
	p.housekeep(clock)
	require.FileExists(t, path)
	require.Equal(t, int64(1), p.stats.snapshots.Get())
	require.Positive(t, p.stats.snapshotBytes.Get())
}

func TestUnusableStateIsMovedAside(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, path string)
	}{
		{"foreign", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("[agent]\ninterval = \"10s\"\n"), 0o644))
		}},
		{"truncated", func(t *testing.T, path string) {
			p, acc := newPlugin(t, withState(path))
			warm(t, p, acc, 10, "a")
			p.Stop()
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, data[:len(data)-100], 0o644))
		}},
		{"other seasonality", func(t *testing.T, path string) {
			p, acc := newPlugin(t, func(p *Anomaly) { p.StateFile, p.Seasonality = path, []string{"daily"} })
			warm(t, p, acc, 10, "a")
			p.Stop()
		}},
		{"other time zone", func(t *testing.T, path string) {
			p, acc := newPlugin(t, func(p *Anomaly) { p.StateFile, p.TimeZone = path, "Europe/Berlin" })
			warm(t, p, acc, 10, "a")
			p.Stop()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "anomaly.state")
			tc.prepare(t, path)
			errs := 0
			p := newAnomaly()
			p.StateFile = path
			logger := &testutil.CaptureLogger{}
			p.Log = logger
			require.NoError(t, p.Init(), "an unusable state file must not stop Telegraf")
			require.Equal(t, 0, p.scorer.table.Len())
			for _, e := range logger.Errors() {
				require.Contains(t, e, path)
				errs++
			}
			require.Equal(t, 1, errs, "one clear error is logged")
			matches, _ := filepath.Glob(path + ".unusable-*")
			require.Len(t, matches, 1, "the file is moved aside, not deleted")
			require.NoFileExists(t, path)
		})
	}
}

func TestMissingStateStartsFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	p, _ := newPlugin(t, withState(path))
	require.Equal(t, 0, p.scorer.table.Len())
}
