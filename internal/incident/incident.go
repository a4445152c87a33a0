// Package incident is the contract of processors.anomaly's incident events:
// the metric a series' point makes when it opens an incident and when it
// resolves one, as the processor writes it and as alerting outputs
// (outputs.alertmanager) and tools read it back. Its names are declared
// here, once; a change to the event is a change to this package.
//
// An event's tags are the scored series' identifying tags and the tags
// named by TagMeasurement and TagField; its fields are named by the Field
// constants, with the types Metric writes.
package incident

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
)

// DefaultMeasurement is the events' measurement unless configured otherwise
// (processors.anomaly's incident_measurement, outputs.alertmanager's
// measurement).
const DefaultMeasurement = "anomaly_incident"

// The tags an event adds to the series' identifying tags. They are set
// last: a series tag of the same name gives way, or the event would name
// another metric or field than the one scored.
const (
	// TagMeasurement is the scored metric's measurement.
	TagMeasurement = "measurement"
	// TagField is the scored field.
	TagField = "field"
)

// The event's fields, in the order Metric adds them.
const (
	// FieldState is StateOpen or StateResolved (a string).
	FieldState = "state"
	// FieldID is the incident's stable id, 16 hex digits (a string, see ID).
	FieldID = "id"
	// FieldStarted is the event time of the incident's first flagged point,
	// in ns since the Unix epoch (an integer).
	FieldStarted = "started"
	// FieldDuration is from started to the event's time, in ns (an integer).
	FieldDuration = "duration"
	// FieldPeakScore is the highest score of the incident so far (a float).
	FieldPeakScore = "peak_score"
	// FieldValue is the value of the point that opened or resolved it (a float).
	FieldValue = "value"
	// FieldExpected, FieldLower and FieldUpper are the model's prediction and
	// band at that point (floats).
	FieldExpected = "expected"
	FieldLower    = "lower"
	FieldUpper    = "upper"
	// FieldDirection is "up", "down" or "both" (a string).
	FieldDirection = "direction"
	// FieldReason is what raised the incident: "deviation", "drift",
	// "pattern" or "range" (a string).
	FieldReason = "reason"
	// FieldPoints is how many points were scored while it was open (an integer).
	FieldPoints = "points"
	// FieldLastSeen is the event time of the series' last point, in ns since
	// the Unix epoch (an integer): only on the events no point of the series
	// made (an absent incident, one that ended when its series fell silent,
	// expired or was evicted).
	FieldLastSeen = "last_seen"
	// FieldEnded says why an incident ended without a point resolving it:
	// "absent", "expired" or "evicted" (a string), on its resolved event only.
	FieldEnded = "ended"
)

// The states of an incident event.
const (
	StateOpen     = "open"
	StateResolved = "resolved"
)

// Event is one incident event.
type Event struct {
	// Measurement and Field name the scored series' metric and field.
	Measurement, Field string
	// Tags are the series' identifying tags.
	Tags map[string]string
	// State is StateOpen or StateResolved.
	State string
	// ID is the incident's stable id (see ID).
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
	// LastSeen is the event time of the series' last point, on an event no
	// point made; zero on the others.
	LastSeen time.Time
	// Ended says why an incident ended without a point resolving it; ""
	// on the others.
	Ended string
}

// Metric returns e as a metric named measurement. It takes e.Tags as the
// metric's tags, TagMeasurement and TagField replacing any of those names.
func (e *Event) Metric(measurement string) telegraf.Metric {
	m := metric.New(measurement, e.Tags, nil, e.Time)
	m.AddTag(TagMeasurement, e.Measurement)
	m.AddTag(TagField, e.Field)
	// Fields added one by one, in the contract's order: from a map, their
	// order (and so the line a serializer writes) would change from run to run.
	m.AddField(FieldState, e.State)
	m.AddField(FieldID, e.ID)
	m.AddField(FieldStarted, e.Started.UnixNano())
	m.AddField(FieldDuration, int64(e.Duration))
	m.AddField(FieldPeakScore, e.PeakScore)
	m.AddField(FieldValue, e.Value)
	m.AddField(FieldExpected, e.Expected)
	m.AddField(FieldLower, e.Lower)
	m.AddField(FieldUpper, e.Upper)
	m.AddField(FieldDirection, e.Direction)
	m.AddField(FieldReason, e.Reason)
	m.AddField(FieldPoints, e.Points)
	if !e.LastSeen.IsZero() {
		m.AddField(FieldLastSeen, e.LastSeen.UnixNano())
	}
	if e.Ended != "" {
		m.AddField(FieldEnded, e.Ended)
	}
	return m
}

// ID names an incident stably, whoever scores its series and however often
// it is reported: 16 hex digits of a hash of the series' key and the
// incident's start (ns since the Unix epoch).
func ID(key uint64, started int64) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], key)
	binary.LittleEndian.PutUint64(b[8:], uint64(started))
	return fmt.Sprintf("%016x", xxhash.Sum64(b[:]))
}

// Error says why a metric is not a complete incident event. Kind names the
// problem without the metric's values, for a reader that logs each kind
// once.
type Error struct {
	Kind, Detail string
}

func (e *Error) Error() string { return e.Kind + ": " + e.Detail }

func invalid(kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// FromMetric reads an incident event. A metric without what identifies the
// incident and its state (the tags measurement and field, an id, a state of
// open or resolved, a start after 1970, and not resolved before it started)
// is an *Error in err. The other fields only describe the incident: one
// that is missing or of the wrong type reads as zero and is reported in
// incomplete, an *Error too, so that a reader can still use the event.
// Integers are read from int64 and uint64 fields, floats from any number.
func FromMetric(m telegraf.Metric) (e Event, incomplete, err error) {
	e = Event{Time: m.Time(), Tags: make(map[string]string, len(m.TagList()))}
	for _, t := range m.TagList() {
		switch t.Key {
		case TagMeasurement:
			e.Measurement = t.Value
		case TagField:
			e.Field = t.Value
		default:
			e.Tags[t.Key] = t.Value
		}
	}
	if e.Measurement == "" || e.Field == "" {
		return Event{}, nil, invalid("missing tag", "tags %s and %s are required, have %v", TagMeasurement, TagField, m.Tags())
	}

	required := fieldReader{m: m}
	e.State = required.str(FieldState)
	e.ID = required.str(FieldID)
	started := required.integer(FieldStarted)
	if required.err != nil {
		return Event{}, nil, required.err
	}
	e.Started = time.Unix(0, started).UTC()
	switch {
	case e.State != StateOpen && e.State != StateResolved:
		return Event{}, nil, invalid("bad state", "state %q is neither %q nor %q", e.State, StateOpen, StateResolved)
	case e.ID == "":
		return Event{}, nil, invalid("empty id", "field %s is empty", FieldID)
	case started <= 0:
		return Event{}, nil, invalid("bad started", "started %d is not a time after 1970", started)
	case e.State == StateResolved && e.Time.Before(e.Started):
		return Event{}, nil, invalid("resolved before started", "resolved at %s, before it started at %s",
			e.Time.UTC().Format(time.RFC3339Nano), e.Started.Format(time.RFC3339Nano))
	}

	descriptive := fieldReader{m: m}
	e.Duration = time.Duration(descriptive.integer(FieldDuration))
	e.PeakScore = descriptive.float(FieldPeakScore)
	e.Value = descriptive.float(FieldValue)
	e.Expected = descriptive.float(FieldExpected)
	e.Lower = descriptive.float(FieldLower)
	e.Upper = descriptive.float(FieldUpper)
	e.Direction = descriptive.str(FieldDirection)
	e.Reason = descriptive.str(FieldReason)
	e.Points = descriptive.integer(FieldPoints)
	if m.HasField(FieldLastSeen) {
		e.LastSeen = time.Unix(0, descriptive.integer(FieldLastSeen)).UTC()
	}
	if m.HasField(FieldEnded) {
		e.Ended = descriptive.str(FieldEnded)
	}
	if descriptive.err != nil {
		return e, descriptive.err, nil
	}
	return e, nil, nil
}

// fieldReader reads typed fields; err is the first problem, and every field
// read after it is read all the same.
type fieldReader struct {
	m   telegraf.Metric
	err *Error
}

func (r *fieldReader) failf(kind, format string, args ...any) {
	if r.err == nil {
		r.err = invalid(kind, format, args...)
	}
}

func (r *fieldReader) get(name string) (any, bool) {
	v, ok := r.m.GetField(name)
	if !ok {
		r.failf("missing field", "field %s is missing", name)
	}
	return v, ok
}

func (r *fieldReader) wrongType(name, want string, v any) {
	r.failf("wrong field type", "field %s is %T, want %s", name, v, want)
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
