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
	state := incident.StateOpen
	if inc.Open {
		s.stats.incidentsOpened.Incr(1)
	} else {
		state = incident.StateResolved
		s.stats.incidentsResolved.Incr(1)
	}
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
	e := incident.Event{
		Measurement: m.Name(), Field: f.Key, Tags: tags,
		State: state, ID: incident.ID(pt.Key, inc.Started),
		Time: m.Time(), Started: time.Unix(0, inc.Started), Duration: time.Duration(pt.Time - inc.Started),
		PeakScore: inc.Peak, Value: pt.Value, Expected: o.Expected, Lower: lower, Upper: upper,
		Direction: inc.Direction.String(), Reason: inc.Reason.String(), Points: int64(inc.Points),
	}
	s.incidents = append(s.incidents, e.Metric(s.incidentMeasurement))
}
