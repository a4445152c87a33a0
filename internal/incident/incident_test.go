package incident

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

var started = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func resolved() Event {
	return Event{
		Measurement: "cpu", Field: "usage_idle", Tags: map[string]string{"host": "a", "cpu": "cpu0"},
		State: StateResolved, ID: ID(42, started.UnixNano()),
		Time: started.Add(30 * time.Minute), Started: started, Duration: 30 * time.Minute,
		PeakScore: 0.93, Value: 75.1, Expected: 40, Lower: 35, Upper: 45,
		Direction: "up", Reason: "deviation", Points: 7,
	}
}

// TestMetricIsTheContract: an event's metric has exactly the contract's
// tags and fields, of the contract's types, in its order.
func TestMetricIsTheContract(t *testing.T) {
	e := resolved()
	want := metric.New("anomaly_incident",
		map[string]string{"host": "a", "cpu": "cpu0", "measurement": "cpu", "field": "usage_idle"},
		map[string]any{
			"state": "resolved", "id": e.ID, "started": started.UnixNano(), "duration": int64(30 * time.Minute),
			"peak_score": 0.93, "value": 75.1, "expected": 40.0, "lower": 35.0, "upper": 45.0,
			"direction": "up", "reason": "deviation", "points": int64(7),
		}, started.Add(30*time.Minute))
	got := e.Metric(DefaultMeasurement)
	testutil.RequireMetricEqual(t, want, got)
	order := make([]string, 0, len(got.FieldList()))
	for _, f := range got.FieldList() {
		order = append(order, f.Key)
	}
	require.Equal(t, []string{FieldState, FieldID, FieldStarted, FieldDuration, FieldPeakScore, FieldValue,
		FieldExpected, FieldLower, FieldUpper, FieldDirection, FieldReason, FieldPoints}, order)
}

// TestRoundTrip: what Metric writes, FromMetric reads back whole.
func TestRoundTrip(t *testing.T) {
	for _, e := range []Event{resolved(), func() Event {
		e := resolved()
		e.State, e.Time, e.Duration, e.Tags = StateOpen, started, 0, map[string]string{}
		return e
	}(), func() Event {
		e := resolved()
		e.LastSeen, e.Ended = started.Add(20*time.Minute), "absent"
		return e
	}()} {
		got, incomplete, err := FromMetric(e.Metric("incidents"))
		require.NoError(t, err)
		require.NoError(t, incomplete)
		require.Equal(t, e, got)
	}
}

// TestSeriesTagOfAContractNameGivesWay: a series tag named measurement or
// field does not rename what the event is about.
func TestSeriesTagOfAContractNameGivesWay(t *testing.T) {
	e := resolved()
	e.Tags = map[string]string{"field": "other", "measurement": "other", "host": "a"}
	m := e.Metric(DefaultMeasurement)
	require.Equal(t, map[string]string{"field": "usage_idle", "measurement": "cpu", "host": "a"}, m.Tags())
}

// TestFromMetricRefusesWhatIsNotAnIncident: without what identifies an
// incident and its state, a metric is an *Error of a kind; without a
// descriptive field, it is read, and the gap is reported as incomplete.
func TestFromMetricRefusesWhatIsNotAnIncident(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(m telegraf.Metric)
		kind   string
	}{
		{"no field tag", func(m telegraf.Metric) { m.RemoveTag(TagField) }, "missing tag"},
		{"no id", func(m telegraf.Metric) { m.RemoveField(FieldID) }, "missing field"},
		{"a float start", func(m telegraf.Metric) { m.RemoveField(FieldStarted); m.AddField(FieldStarted, 1.5) }, "wrong field type"},
		{"a bad state", func(m telegraf.Metric) { m.RemoveField(FieldState); m.AddField(FieldState, "closed") }, "bad state"},
		{"an empty id", func(m telegraf.Metric) { m.RemoveField(FieldID); m.AddField(FieldID, "") }, "empty id"},
		{"started before 1970", func(m telegraf.Metric) { m.RemoveField(FieldStarted); m.AddField(FieldStarted, int64(-1)) }, "bad started"},
		{"resolved before started", func(m telegraf.Metric) { m.SetTime(started.Add(-time.Second)) }, "resolved before started"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := resolved()
			m := e.Metric(DefaultMeasurement)
			tt.change(m)
			_, _, err := FromMetric(m)
			var ie *Error
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tt.kind, ie.Kind)
		})
	}

	e := resolved()
	m := e.Metric(DefaultMeasurement)
	m.RemoveField(FieldPeakScore)
	m.RemoveField(FieldPoints)
	m.AddField(FieldPoints, "seven")
	got, incomplete, err := FromMetric(m)
	require.NoError(t, err)
	var ie *Error
	require.ErrorAs(t, incomplete, &ie)
	require.Equal(t, "missing field", ie.Kind, "the first gap")
	e.PeakScore, e.Points = 0, 0
	require.Equal(t, e, got)
}
