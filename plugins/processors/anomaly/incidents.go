package anomaly

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// An incident event is a metric of its own, incident_measurement, when a
// point opens an incident of its series and when one resolves it, for
// alerting outputs (outputs.alertmanager, a Kafka topic) and for
// annotations. Its tags say which series: the scored metric's measurement,
// the field, and the series' identifying tags. Points that open or resolve
// nothing pay nothing.

// incident makes the incident event of field f of m, scored as point pt
// with outcome o that opened or resolved one, and keeps it in p.incidents
// for Add to pass on after m.
func (p *Anomaly) incident(m telegraf.Metric, f *telegraf.Field, pt *detector.Point, o *detector.Outcome) {
	inc := &o.Incident
	p.stats.onIncident(inc)
	if p.IncidentMeasurement == "" {
		return
	}
	tags := make(map[string]string, len(m.TagList())+2)
	for _, tag := range m.TagList() {
		if p.Identifies(tag.Key) {
			tags[tag.Key] = tag.Value
		}
	}
	lower, upper := o.Bounds()
	p.incidents = append(p.incidents, p.incidentEvent(tags, m.Name(), f.Key, inc, pt.Key, m.Time(),
		eventPoint{time: pt.Time, value: pt.Value, expected: o.Expected, lower: lower, upper: upper}))
}

// eventPoint is what an incident event says of the series at its time: the
// point's value, and the model's prediction and band.
type eventPoint struct {
	time                          int64
	value, expected, lower, upper float64
}

// incidentEvent makes the incident event of the series of field of
// measurement, with identifying tags (taken), key, at t.
func (p *Anomaly) incidentEvent(tags map[string]string, measurement, field string, inc *detector.Incident,
	key uint64, t time.Time, at eventPoint) telegraf.Metric {
	state := "open"
	if !inc.Open {
		state = "resolved"
	}
	// Set last: a series tag of the same name gives way, or the event
	// would name another metric or field than the one scored.
	tags["measurement"], tags["field"] = measurement, field
	// Fields added one by one, in the contract's order: from a map, their
	// order (and so the line a serializer writes) would change from run to run.
	e := metric.New(p.IncidentMeasurement, tags, nil, t)
	e.AddField("state", state)
	e.AddField("id", incidentID(key, inc.Started))
	e.AddField("started", inc.Started)
	e.AddField("duration", at.time-inc.Started)
	e.AddField("peak_score", inc.Peak)
	e.AddField("value", at.value)
	e.AddField("expected", at.expected)
	e.AddField("lower", at.lower)
	e.AddField("upper", at.upper)
	e.AddField("direction", inc.Direction.String())
	e.AddField("reason", inc.Reason.String())
	e.AddField("points", int64(inc.Points))
	return e
}

// incidentID names an incident stably, whoever scores its series and however
// often it is reported: 16 hex digits of a hash of the series' key and the
// incident's start.
func incidentID(key uint64, started int64) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], key)
	binary.LittleEndian.PutUint64(b[8:], uint64(started))
	return fmt.Sprintf("%016x", xxhash.Sum64(b[:]))
}
