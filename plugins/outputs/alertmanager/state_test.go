package alertmanager

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

func TestIncidentsSurviveARestart(t *testing.T) {
	am1, am2 := newFakeAM(t), newFakeAM(t)
	urls := []string{am1.URL, am2.URL}
	file := filepath.Join(t.TempDir(), "alertmanager.state")
	withState := func(a *Alertmanager) { a.StateFile = file }

	before, _, _ := newOutput(t, urls, withState)
	am2.fail(http.StatusServiceUnavailable, "")
	require.NoError(t, before.Write([]telegraf.Metric{openEvent(id1), openEvent(id2)}))
	require.NoError(t, before.Write([]telegraf.Metric{resolvedEvent(id2)}))
	am1.taken()
	// No Close: the file is written at each change, so a crash loses nothing.

	after, _, _ := newOutput(t, urls, withState)
	require.Equal(t, before.sorted(), after.sorted(), "the same incidents, resolution pending for am2 included")
	require.Equal(t, int64(1), stat(after, "open_incidents"))
	require.Equal(t, int64(1), stat(after, "pending_resolved"))

	am2.fail(0, "")
	resend(after)
	require.Equal(t, []string{id1}, idsOf(am1.alerts(t)))
	require.Equal(t, []string{id1, id2}, idsOf(am2.alerts(t)))
	require.Equal(t, []string{id1}, keptIDs(after))
}

func TestRestoredIncidentsAreSentOnConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		am := newPipedAM(t)
		file := filepath.Join(t.TempDir(), "alertmanager.state")
		withState := func(a *Alertmanager) { a.StateFile = file }
		before, _, _ := newOutput(t, []string{am.URL}, withState)
		am.attach(before)
		require.NoError(t, before.Write([]telegraf.Metric{openEvent(id1)}))
		am.taken()

		after, _, _ := newOutput(t, []string{am.URL}, withState)
		am.attach(after)
		require.NoError(t, after.Connect())
		synctest.Wait()
		require.Len(t, am.taken(), 1, "Alertmanager may have let the incident expire while Telegraf was stopped")
	})
}

// TestCloseSavesWhatTheResendInFlightSettled protects telegraf --once runs
// from sending restored resolutions again at every run: Close lets the
// re-send Connect started finish, for timeout at most, and saves what it
// settled.
func TestCloseSavesWhatTheResendInFlightSettled(t *testing.T) {
	const timeout = 5 * time.Second
	for _, tt := range []struct {
		name    string
		answer  time.Duration // how long the Alertmanager takes to answer
		closing time.Duration // how long Close takes
		kept    []string      // the incidents the state file keeps after Close
	}{
		{"answered within timeout", 2 * time.Second, 2 * time.Second, nil},
		{"no answer within timeout", time.Hour, timeout, []string{id1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				am := newPipedAM(t)
				file := filepath.Join(t.TempDir(), "alertmanager.state")
				withState := func(a *Alertmanager) { a.StateFile, a.Timeout = file, config.Duration(timeout) }
				// A resolution no Alertmanager took: kept in the state file.
				before, _, _ := newOutput(t, []string{am.URL}, withState)
				am.attach(before)
				am.fail(http.StatusServiceUnavailable, "")
				require.Error(t, before.Write([]telegraf.Metric{openEvent(id1), resolvedEvent(id1)}))
				require.Equal(t, []string{id1}, keptIDs(before))

				// A --once run: Connect re-sends it, Close comes at once.
				am.fail(0, "")
				am.slow(tt.answer)
				run, _, _ := newOutput(t, []string{am.URL}, withState)
				am.attach(run)
				require.NoError(t, run.Connect())
				start := time.Now()
				require.NoError(t, run.Close())
				require.Equal(t, tt.closing, time.Since(start))

				next, _, _ := newOutput(t, []string{am.URL}, withState)
				require.Equal(t, tt.kept, keptIDs(next))
			})
		})
	}
}

func TestStateKeepsOnlyWhatTheConfigurationCanUse(t *testing.T) {
	am1, am2 := newFakeAM(t), newFakeAM(t)
	file := filepath.Join(t.TempDir(), "alertmanager.state")
	before, _, _ := newOutput(t, []string{am1.URL, am2.URL}, func(a *Alertmanager) { a.StateFile = file })
	am2.fail(http.StatusServiceUnavailable, "")
	require.NoError(t, before.Write([]telegraf.Metric{openEvent(id1), openEvent(id2), openEvent(id3), resolvedEvent(id3)}))

	// am2 left the configuration: the resolution it missed is done; max_incidents shrank.
	after, log, _ := newOutput(t, []string{am1.URL}, func(a *Alertmanager) { a.StateFile = file; a.MaxIncidents = 1 })
	require.Equal(t, []string{id1}, keptIDs(after), "the oldest kept")
	require.Equal(t, int64(1), stat(after, "untracked_incidents"))
	require.Contains(t, log.Warnings()[0], "the newest 1 are dropped")
}

// TestResolutionOwedOnlyToAnAlertmanagerGoneIsDropped: a resolution that
// no Alertmanager took, owed only to one that left the configuration, is
// owed to none of those configured now (they never had its alert): it is
// not kept, which would hold it (and count it in pending_resolved and
// against max_incidents) forever, since nothing would ever send it.
func TestResolutionOwedOnlyToAnAlertmanagerGoneIsDropped(t *testing.T) {
	gone, now := newFakeAM(t), newFakeAM(t)
	file := filepath.Join(t.TempDir(), "alertmanager.state")
	before, _, _ := newOutput(t, []string{gone.URL}, func(a *Alertmanager) { a.StateFile = file })
	gone.fail(http.StatusServiceUnavailable, "")
	require.Error(t, before.Write([]telegraf.Metric{openEvent(id1), resolvedEvent(id1), openEvent(id2)}))

	after, _, _ := newOutput(t, []string{now.URL}, func(a *Alertmanager) { a.StateFile = file })
	require.Equal(t, []string{id2}, keptIDs(after))
	require.Equal(t, int64(0), stat(after, "pending_resolved"))
}

func TestUnusableStateIsMovedAside(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"not JSON", "{"},
		{"another layout", `{"version": 99, "incidents": []}`},
		{"an incident without labels", `{"version": 1, "incidents": [{"id": "a", "alert": {"startsAt": "2024-03-01T00:00:00Z"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "alertmanager.state")
			require.NoError(t, os.WriteFile(file, []byte(tc.content), 0o600))
			a, log, _ := newOutput(t, []string{"http://127.0.0.1:1"}, func(a *Alertmanager) { a.StateFile = file })
			require.Empty(t, a.incidents)
			require.Equal(t, int64(1), stat(a, "state_errors"))
			aside := file + ".unusable-20240301T010000Z"
			kept, err := os.ReadFile(aside)
			require.NoError(t, err)
			require.Equal(t, tc.content, string(kept), "moved, never deleted")
			require.Contains(t, log.LastError(), "moved it to "+aside)
			_, err = os.Stat(file)
			require.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

func TestStateWriteFailureIsRetried(t *testing.T) {
	am := newFakeAM(t)
	dir := filepath.Join(t.TempDir(), "missing")
	file := filepath.Join(dir, "alertmanager.state")
	a, log, _ := newOutput(t, []string{am.URL}, func(a *Alertmanager) { a.StateFile = file })
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id1)}), "the alert is sent all the same")
	require.NoError(t, a.Write([]telegraf.Metric{openEvent(id2)}))
	require.GreaterOrEqual(t, stat(a, "state_errors"), int64(2))
	require.Len(t, log.Errors(), 1, "logged once")

	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, a.Close())
	saved, err := readState(file)
	require.NoError(t, err)
	require.Len(t, saved.Incidents, 2, "Close writes what the failed writes could not")
}

// TestUnusableStatesMovedAsideInOneSecondAreAllKept protects the promise
// that an unusable state file is never deleted: two moved aside within the
// same second keep a name each.
func TestUnusableStatesMovedAsideInOneSecondAreAllKept(t *testing.T) {
	file := filepath.Join(t.TempDir(), "alertmanager.state")
	for _, content := range []string{"{", `{"version": 99}`} {
		require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
		newOutput(t, []string{"http://127.0.0.1:1"}, func(a *Alertmanager) { a.StateFile = file }) // on the same clock
	}
	first, err := os.ReadFile(file + ".unusable-20240301T010000Z")
	require.NoError(t, err)
	second, err := os.ReadFile(file + ".unusable-20240301T010000Z-2")
	require.NoError(t, err)
	require.Equal(t, []string{"{", `{"version": 99}`}, []string{string(first), string(second)})
}

// TestStaleStateTemporariesAreRemovedAtStart protects the disk after kills
// while state_file was written: the temporary files left are removed at
// the next start, and said so.
func TestStaleStateTemporariesAreRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "alertmanager.state")
	stale := filepath.Join(dir, "alertmanager.state.tmp2024")
	other := filepath.Join(dir, "anomaly.state.tmp2024")
	for _, name := range []string{stale, other} {
		require.NoError(t, os.WriteFile(name, []byte(`{"version": 1, "incid`), 0o600))
	}
	_, log, _ := newOutput(t, []string{"http://127.0.0.1:1"}, func(a *Alertmanager) { a.StateFile = file })
	require.NoFileExists(t, stale)
	require.FileExists(t, other, "another file's temporaries are not this output's")
	said := 0
	for _, m := range log.Messages() {
		if strings.Contains(m.Text, "temporary files") {
			require.Contains(t, m.Text, stale)
			said++
		}
	}
	require.Equal(t, 1, said, "one log line says what was removed")
}
