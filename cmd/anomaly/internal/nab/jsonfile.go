package nab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// readJSON decodes the JSON file at path into v. Errors name the file and,
// where the decoder knows it, the line.
func readJSON(path string, v any) error {
	b, err := readFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		var (
			se *json.SyntaxError
			te *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("nab: %s:%d: %w", path, lineAt(b, se.Offset), err)
		case errors.As(err, &te):
			return fmt.Errorf("nab: %s:%d: %w", path, lineAt(b, te.Offset), err)
		}
		return fmt.Errorf("nab: %s: %w", path, err)
	}
	return nil
}

// lineAt returns the 1-based line holding byte offset off of b.
func lineAt(b []byte, off int64) int {
	off = min(max(off, 0), int64(len(b)))
	return 1 + bytes.Count(b[:off], []byte("\n"))
}

// readWindows reads labels/combined_windows.json: for each data file, a list
// of [start, end] timestamp pairs.
func readWindows(path string) (map[string][]Window, error) {
	var raw map[string][][2]string
	if err := readJSON(path, &raw); err != nil {
		return nil, err
	}
	out := make(map[string][]Window, len(raw))
	for name, pairs := range raw {
		ws := make([]Window, 0, len(pairs))
		for k, p := range pairs {
			start, err1 := time.Parse(timeLayout, p[0])
			end, err2 := time.Parse(timeLayout, p[1])
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("nab: %s: %s window %d: %w", path, name, k, err)
			}
			ws = append(ws, Window{Start: start, End: end})
		}
		out[name] = ws
	}
	return out, nil
}
