package alertmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/atomicfile"
)

// The kept incidents are written to state_file whenever they change (a few
// hundred bytes an incident; incidents are rare) and read back by Init, so
// that neither a restart nor a crash forgets an open incident, or a
// resolution not yet delivered. The file is written crash-safely: a
// temporary file in the same folder, synced, renamed over it; the temporary
// files of writes that never finished are removed at start. A file that
// cannot be read is moved aside, never deleted nor replaced, and the output
// starts with no incidents.
//
// Telegraf's own statefile (telegraf.StatefulPlugin) is not used: the agent
// writes it only on a clean stop, so a crash would lose every incident
// opened since the start, and it files a plugin's state under a hash of the
// plugin's whole configuration, so that editing a template or adding a URL
// would silently drop it.

// stateVersion is the layout of state_file; a file of another layout is unusable.
const stateVersion = 1

type savedState struct {
	Version   int             `json:"version"`
	Incidents []savedIncident `json:"incidents"`
}

type savedIncident struct {
	ID         string    `json:"id"`
	Alert      alert     `json:"alert"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Pending names the Alertmanagers (as in urls, passwords masked) that
	// have not taken the resolution yet.
	Pending   []string `json:"pending,omitempty"`
	Delivered bool     `json:"delivered,omitempty"`
	// HeardAt is when the output last received an event of the incident
	// (see max_age); a file without it restores it as the time of restart.
	HeardAt time.Time `json:"heard_at,omitzero"`
}

// restore returns the incidents saved in state_file, or none.
func (a *Alertmanager) restore() map[string]*tracked {
	incidents := make(map[string]*tracked)
	if a.StateFile == "" {
		return incidents
	}
	atomicfile.CleanStale(a.StateFile, a.Log)
	saved, err := readState(a.StateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		a.Log.Infof("No state file %s yet: no incidents to restore", a.StateFile)
		return incidents
	case err != nil:
		a.stats.stateErrors.Incr(1)
		if aside, rerr := atomicfile.MoveAside(a.StateFile, "unusable", a.now()); rerr != nil {
			a.Log.Errorf("%v; could not move it aside (%v): starting with no incidents", err, rerr)
		} else {
			a.Log.Errorf("%v; moved it to %s: starting with no incidents", err, aside)
		}
		return incidents
	}

	var usable []*tracked
	for _, s := range saved.Incidents {
		t := &tracked{id: s.ID, alert: s.Alert, resolvedAt: s.ResolvedAt, delivered: s.Delivered, heardAt: s.HeardAt}
		if t.heardAt.IsZero() {
			t.heardAt = a.now()
		}
		for i, ep := range a.endpoints {
			if slices.Contains(s.Pending, ep.name) {
				t.pending |= 1 << i
			}
		}
		if t.resolved() && t.pending == 0 {
			// Taken by every Alertmanager still configured, or owed only to
			// ones that left (those configured now never had its alert):
			// nothing would send it, and kept it would never be let go.
			continue
		}
		usable = append(usable, t)
	}
	slices.SortFunc(usable, byStart)
	if dropped := len(usable) - a.MaxIncidents; dropped > 0 {
		a.Log.Warnf("State file %s holds more incidents than max_incidents (%d): the newest %d are dropped",
			a.StateFile, a.MaxIncidents, dropped)
		a.stats.untracked.Incr(int64(dropped))
		usable = usable[:a.MaxIncidents]
	}
	for _, t := range usable {
		incidents[t.id] = t
	}
	a.Log.Infof("Restored %d incidents from %s", len(incidents), a.StateFile)
	return incidents
}

func readState(path string) (*savedState, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s savedState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("reading state file %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("reading state file %s: layout version %d, this Telegraf reads %d", path, s.Version, stateVersion)
	}
	for _, inc := range s.Incidents {
		if inc.ID == "" || inc.Alert.StartsAt.IsZero() || len(inc.Alert.Labels) == 0 {
			return nil, fmt.Errorf("reading state file %s: an incident without id, start or labels", path)
		}
	}
	return &s, nil
}

// save writes the kept incidents to state_file if they changed since the
// last write. A failed write is retried at the next change or on Close.
func (a *Alertmanager) save() {
	if a.StateFile == "" || !a.unsaved {
		return
	}
	s := savedState{Version: stateVersion, Incidents: make([]savedIncident, 0, len(a.incidents))}
	for _, t := range a.sorted() {
		saved := savedIncident{ID: t.id, Alert: t.alert, ResolvedAt: t.resolvedAt, Delivered: t.delivered, HeardAt: t.heardAt}
		for i, ep := range a.endpoints {
			if t.pending&(1<<i) != 0 {
				saved.Pending = append(saved.Pending, ep.name)
			}
		}
		s.Incidents = append(s.Incidents, saved)
	}
	err := atomicfile.Write(a.StateFile, func(w io.Writer) error { return json.NewEncoder(w).Encode(s) })
	if err != nil {
		a.stats.stateErrors.Incr(1)
		a.logOncef("state file", a.Log.Errorf,
			"Writing state file %s: %v (retried at each change; further failures are counted in state_errors)", a.StateFile, err)
		return
	}
	a.unsaved = false
}
