package anomaly

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/atomicfile"
)

// The processor's models are saved to state_file every snapshot_interval and
// on stop, and restored on start, so a restart resumes every series where it
// was instead of warming up again. The file is written crash-safely (see
// detector.Table.SaveSnapshot); the temporary files of snapshots that never
// finished (the process was killed while writing one) are removed at start.
// A file that cannot be used is moved aside, never deleted nor replaced, and
// the processor starts fresh.

// settings are what a snapshot's models depend on, by configuration key:
// which tags make a series (its key), which seasonal profiles it learns, and
// the zone whose clock they follow. Settings that only shape decisions
// (sensitivity, direction, ...) may change freely across a restart.
func (p *Anomaly) settings() detector.Settings {
	cfg := p.scorer.detector.Config()
	return detector.Settings{
		"series key":  "xxhash64(name,tags,field)",
		"series_tags": fmt.Sprintf("%q", p.SeriesTags),
		"seasonality": fmt.Sprintf("daily=%v weekly=%v", cfg.Daily, cfg.Weekly),
		"timezone":    p.scorer.detector.Location().String(),
	}
}

// restore returns the table saved in state_file, or an empty one.
func (p *Anomaly) restore() *detector.Table {
	if p.StateFile == "" {
		return detector.NewTable(p.MaxSeries)
	}
	atomicfile.CleanStale(p.StateFile, p.Log)
	start := time.Now()
	t, err := detector.LoadSnapshot(p.StateFile, p.settings(), p.MaxSeries)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.Log.Infof("No state file %s yet: starting with no series", p.StateFile)
		return detector.NewTable(p.MaxSeries)
	case err != nil:
		if aside, rerr := atomicfile.MoveAside(p.StateFile, "unusable", p.now()); rerr != nil {
			p.Log.Errorf("%v; could not move it aside (%v): starting with no series", err, rerr)
		} else {
			p.Log.Errorf("%v; moved it to %s: starting with no series", err, aside)
		}
		p.stats.snapshotErrors.Incr(1)
		return detector.NewTable(p.MaxSeries)
	}
	p.Log.Infof("Restored %d series from %s in %s", t.Len(), p.StateFile, time.Since(start).Round(time.Millisecond))
	p.stats.restored.Set(int64(t.Len()))
	p.stats.setSeries(t)
	return t
}

// snapshot saves the table to state_file, if one is configured.
func (p *Anomaly) snapshot() {
	if p.StateFile == "" || p.scorer == nil {
		return
	}
	start := time.Now()
	n, err := p.scorer.table.SaveSnapshot(p.StateFile, p.settings())
	if err != nil {
		p.stats.snapshotErrors.Incr(1)
		p.Log.Errorf("Saving state: %v", err)
		return
	}
	took := time.Since(start)
	p.stats.snapshots.Incr(1)
	p.stats.snapshotBytes.Set(n)
	p.stats.snapshotDuration.Set(took.Nanoseconds())
	p.Log.Debugf("Saved %d series (%d bytes) to %s in %s", p.scorer.table.Len(), n, p.StateFile, took.Round(time.Millisecond))
}

func (p *Anomaly) scheduleSnapshot(now time.Time) {
	p.nextSnapshot = now.Add(time.Duration(p.SnapshotInterval))
}
