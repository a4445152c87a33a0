// Package windows reads labelled anomaly windows: the truth that the bundled
// demo series (testdata/windows.json) and a user's own labels are judged by,
// shared by the report tool and the tests that replay the demo.
package windows

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Window is a labelled anomaly window; both ends are inclusive.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Read reads windows keyed by series name from a JSON file:
// {"series name": [{"start": RFC3339, "end": RFC3339}, ...]}.
func Read(path string) (map[string][]Window, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var windows map[string][]Window
	if err := json.Unmarshal(data, &windows); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return windows, nil
}

// Holds reports whether t lies in the window, ends included.
func (w Window) Holds(t time.Time) bool { return !t.Before(w.Start) && !t.After(w.End) }
