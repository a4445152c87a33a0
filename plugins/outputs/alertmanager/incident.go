package alertmanager

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
)

// Incident is one incident event as the annotation and generator_url
// templates see it: the fields and tags of an incident metric (the contract
// of processors.anomaly's incident_measurement), read and checked.
type Incident struct {
	// Measurement and Field name the scored series' metric and field (the
	// tags "measurement" and "field" of the event).
	Measurement, Field string
	// Tags are the series' identifying tags: the event's tags other than
	// measurement and field.
	Tags map[string]string
	// Series is Tags as "k1=v1,k2=v2", sorted by key; "" without tags.
	Series string
	// State is "open" or "resolved".
	State string
	// ID is the incident's stable id (16 hex digits).
	ID string
	// Time is the event's time: when the incident opened or resolved.
	Time time.Time
	// Started is the event time of the incident's first flagged point.
	Started time.Time
	// Duration is from Started to Time (0 on open).
	Duration time.Duration
	// PeakScore is the highest score in the incident so far, in [0, 1].
	PeakScore float64
	// Value, Expected, Lower and Upper are the event point's value and the
	// model's prediction and band at that point.
	Value, Expected, Lower, Upper float64
	// Direction is "up", "down" or "both"; Reason is what raised the
	// incident: "deviation", "drift", "pattern" or "range".
	Direction, Reason string
	// Points is how many points were scored while the incident was open.
	Points int64
	// Severity is the alert's severity label.
	Severity string
}

// The states of an incident event.
const (
	stateOpen     = "open"
	stateResolved = "resolved"
)

// invalidMetricError says why a metric named like incidents is not one. Its
// kind names the problem without the metric's values, so each kind of
// problem is logged once.
type invalidMetricError struct {
	kind, detail string
}

func (e *invalidMetricError) Error() string { return e.kind + ": " + e.detail }

func invalid(kind, format string, args ...any) error {
	return &invalidMetricError{kind: kind, detail: fmt.Sprintf(format, args...)}
}

// parseIncident reads an incident metric. A metric without what an alert
// needs (the tags measurement and field, an id, a state of open or resolved,
// a start, times Alertmanager accepts) is an *invalidMetricError. The other
// fields only describe the incident in the annotations: one that is missing
// or of the wrong type reads as zero and is reported in incomplete, an
// *invalidMetricError too, because an alert with a poorer description is
// better than no alert.
func parseIncident(m telegraf.Metric) (inc *Incident, incomplete, err error) {
	inc = &Incident{Time: m.Time(), Tags: make(map[string]string, len(m.TagList()))}
	var series []string
	for _, t := range m.TagList() {
		switch t.Key {
		case "measurement":
			inc.Measurement = t.Value
		case "field":
			inc.Field = t.Value
		default:
			inc.Tags[t.Key] = t.Value
			series = append(series, t.Key+"="+t.Value)
		}
	}
	sort.Strings(series)
	inc.Series = strings.Join(series, ",")
	if inc.Measurement == "" || inc.Field == "" {
		return nil, nil, invalid("missing tag", "tags measurement and field are required, have %v", m.Tags())
	}

	required := fieldReader{m: m}
	inc.State = required.str("state")
	inc.ID = required.str("id")
	started := required.integer("started")
	if required.err != nil {
		return nil, nil, required.err
	}
	inc.Started = time.Unix(0, started).UTC()
	switch {
	case inc.State != stateOpen && inc.State != stateResolved:
		return nil, nil, invalid("bad state", "state %q is neither %q nor %q", inc.State, stateOpen, stateResolved)
	case inc.ID == "":
		return nil, nil, invalid("empty id", "field id is empty")
	case started <= 0:
		return nil, nil, invalid("bad started", "started %d is not a time after 1970", started)
	case inc.State == stateResolved && inc.Time.Before(inc.Started):
		// Alertmanager rejects an alert that ends before it starts.
		return nil, nil, invalid("resolved before started", "resolved at %s, before it started at %s",
			inc.Time.UTC().Format(time.RFC3339Nano), inc.Started.Format(time.RFC3339Nano))
	}

	descriptive := fieldReader{m: m}
	inc.Duration = time.Duration(descriptive.integer("duration"))
	inc.PeakScore = descriptive.float("peak_score")
	inc.Value = descriptive.float("value")
	inc.Expected = descriptive.float("expected")
	inc.Lower = descriptive.float("lower")
	inc.Upper = descriptive.float("upper")
	inc.Direction = descriptive.str("direction")
	inc.Reason = descriptive.str("reason")
	inc.Points = descriptive.integer("points")
	return inc, descriptive.err, nil
}

// fieldReader reads typed fields; err is the first problem, and every field
// read after it is read all the same.
type fieldReader struct {
	m   telegraf.Metric
	err error
}

func (r *fieldReader) fail(kind, format string, args ...any) {
	if r.err == nil {
		r.err = invalid(kind, format, args...)
	}
}

func (r *fieldReader) get(name string) (any, bool) {
	v, ok := r.m.GetField(name)
	if !ok {
		r.fail("missing field", "field %s is missing", name)
	}
	return v, ok
}

func (r *fieldReader) wrongType(name, want string, v any) {
	r.fail("wrong field type", "field %s is %T, want %s", name, v, want)
}

func (r *fieldReader) str(name string) string {
	v, ok := r.get(name)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.wrongType(name, "a string", v)
	}
	return s
}

// integer reads an integer field; a uint64 beyond int64 is out of range.
func (r *fieldReader) integer(name string) int64 {
	v, ok := r.get(name)
	if !ok {
		return 0
	}
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n)
		}
	}
	r.wrongType(name, "an integer", v)
	return 0
}

// float reads a number field: a float, or an integer (a writer may send 12
// for 12.0).
func (r *fieldReader) float(name string) float64 {
	v, ok := r.get(name)
	if !ok {
		return 0
	}
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	}
	r.wrongType(name, "a number", v)
	return 0
}
