package anomaly

import (
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
)

// An incident event is a metric of its own, incident_measurement, when a
// point opens an incident of its series and when one resolves it, for
// alerting outputs (outputs.alertmanager, a Kafka topic) and for
// annotations. Its tags say which series: the scored metric's measurement,
// the field, and the series' identifying tags. The event's names and types
// are the contract of package incident. Points that open or resolve nothing
// pay nothing.

// incident makes the incident event of field f of m, scored as point pt
// with outcome o that opened or resolved one, and keeps it in s.incidents
// to pass on after m.
func (s *Scorer) incident(m telegraf.Metric, f *telegraf.Field, pt *detector.Point, o *detector.Outcome) {
	inc := &o.Incident
	s.stats.onIncident(inc)
	if s.incidentMeasurement == "" {
		return
	}
	tags := make(map[string]string, len(m.TagList()))
	for _, tag := range m.TagList() {
		if s.Identifies(tag.Key) {
			tags[tag.Key] = tag.Value
		}
	}
	lower, upper := o.Bounds()
	e := incidentEvent(tags, m.Name(), f.Key, inc, pt.Key,
		eventPoint{time: m.Time(), value: pt.Value, expected: o.Expected, lower: lower, upper: upper})
	s.incidents = append(s.incidents, e.Metric(s.incidentMeasurement))
}

// eventPoint is what an incident event says of the series at its time: the
// point's time and value, and the model's prediction and band.
type eventPoint struct {
	time                          time.Time
	value, expected, lower, upper float64
}

// incidentEvent makes the incident event of the series of field of
// measurement, with identifying tags (taken), key, at the time of at.
func incidentEvent(tags map[string]string, measurement, field string, inc *detector.Incident,
	key uint64, at eventPoint) incident.Event {
	state := incident.StateOpen
	if !inc.Open {
		state = incident.StateResolved
	}
	return incident.Event{
		Measurement: measurement, Field: field, Tags: tags,
		State: state, ID: incident.ID(key, inc.Started),
		Time: at.time, Started: time.Unix(0, inc.Started), Duration: time.Duration(at.time.UnixNano() - inc.Started),
		PeakScore: inc.Peak, Value: at.value, Expected: at.expected, Lower: at.lower, Upper: at.upper,
		Direction: inc.Direction.String(), Reason: inc.Reason.String(), Points: int64(inc.Points),
	}
}
