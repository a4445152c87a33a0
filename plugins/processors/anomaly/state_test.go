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
		says    string // what the error says of the cause
	}{
		{"foreign", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("[agent]\ninterval = \"10s\"\n"), 0o600))
		}, "not a telegraf-anomaly snapshot"},
		{"truncated", func(t *testing.T, path string) {
			p, acc := newPlugin(t, withState(path))
			warm(t, p, acc, 10, "a")
			p.Stop()
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, data[:len(data)-100], 0o600))
		}, "corrupt or truncated"},
		{"other seasonality", func(t *testing.T, path string) {
			p, acc := newPlugin(t, func(p *Anomaly) { p.StateFile, p.Seasonality = path, []string{"daily"} })
			warm(t, p, acc, 10, "a")
			p.Stop()
		}, `seasonality "daily=true weekly=false" then, "daily=true weekly=true" now`},
		{"other time zone", func(t *testing.T, path string) {
			p, acc := newPlugin(t, func(p *Anomaly) { p.StateFile, p.TimeZone = path, "Europe/Berlin" })
			warm(t, p, acc, 10, "a")
			p.Stop()
		}, `timezone "Europe/Berlin" then, "UTC" now`},
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
				require.Contains(t, e, tc.says)
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

// TestUnusableStatesMovedAsideInOneSecondAreAllKept protects the promise
// that a state file moved aside is never deleted: two moved aside within
// the same second keep a name each.
func TestUnusableStatesMovedAsideInOneSecondAreAllKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	for _, content := range []string{"first unusable", "second unusable"} {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		newPlugin(t, withState(path)) // on the same clock, t0
	}
	matches, _ := filepath.Glob(path + ".unusable-*")
	require.Len(t, matches, 2)
	kept := make([]string, 0, len(matches))
	for _, m := range matches {
		b, err := os.ReadFile(m)
		require.NoError(t, err)
		kept = append(kept, string(b))
	}
	require.ElementsMatch(t, []string{"first unusable", "second unusable"}, kept)
}

// TestStaleSnapshotTemporariesAreRemovedAtStart protects the disk after
// kills during snapshots: the temporary files they left are removed at the
// next start, and said so; another file's are not.
func TestStaleSnapshotTemporariesAreRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "anomaly.state")
	p, acc := newPlugin(t, withState(path))
	warm(t, p, acc, 10, "a")
	p.Stop()
	for _, name := range []string{"anomaly.state.tmp123", "anomaly.state.tmp4567", "other.state.tmp123"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("half a snapshot"), 0o600))
	}
	logger := &testutil.CaptureLogger{}
	newPlugin(t, func(p *Anomaly) { p.StateFile, p.Log = path, logger })
	require.NoFileExists(t, filepath.Join(dir, "anomaly.state.tmp123"))
	require.NoFileExists(t, filepath.Join(dir, "anomaly.state.tmp4567"))
	require.FileExists(t, filepath.Join(dir, "other.state.tmp123"))
	require.FileExists(t, path)
	var said []string
	for _, m := range logger.Messages() {
		if strings.Contains(m.Text, "temporary files") {
			said = append(said, m.Text)
		}
	}
	require.Len(t, said, 1, "one log line says what was removed")
	require.Contains(t, said[0], "anomaly.state.tmp123")
}
