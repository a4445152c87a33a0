package anomaly

import (
	"reflect"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
)

// A metric's output fields are appended at once, not added one by one
// (and those of a metric scored upstream removed at once, in one pass):
// Telegraf's AddField looks for a field of the same name first, through
// every field of the metric, so adding a field to each of a metric's n
// fields costs n² comparisons. The
// processor knows its outputs are new to the metric (a metric that carries
// any was scored upstream, and mark removes them first; checkOutputNames
// refuses suffixes under which two would share a name), so it appends them
// to the metric's field list. That list is the exported MetricFields of
// Telegraf's metric struct (exported for its disk buffer); a metric of
// another implementation gets AddField.

// metricType is the type of metric.New's metrics, and metricFields the
// index of their MetricFields ([]*telegraf.Field) in its struct; metricType
// is nil if Telegraf keeps them otherwise.
var metricType, metricFields = findFieldList()

func findFieldList() (reflect.Type, int) {
	t := reflect.TypeOf(metric.New("", nil, nil, time.Time{}))
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, 0
	}
	f, ok := t.Elem().FieldByName("MetricFields")
	if !ok || f.Type != reflect.TypeFor[[]*telegraf.Field]() || len(f.Index) != 1 {
		return nil, 0
	}
	return t, f.Index[0]
}

// appendFields adds fields, none of which m has, to m.
func appendFields(m telegraf.Metric, fields []*telegraf.Field) {
	if len(fields) == 0 {
		return
	}
	if list := fieldsOf(m); list != nil {
		*list = append(*list, fields...)
		return
	}
	for _, f := range fields {
		m.AddField(f.Key, f.Value)
	}
}

// removeFields removes the fields named in names from m.
func removeFields(m telegraf.Metric, names map[string]struct{}) {
	list := fieldsOf(m)
	if list == nil {
		for name := range names {
			m.RemoveField(name)
		}
		return
	}
	kept := (*list)[:0]
	for _, f := range *list {
		if _, ok := names[f.Key]; !ok {
			kept = append(kept, f)
		}
	}
	clear((*list)[len(kept):])
	*list = kept
}

// fieldsOf returns the field list of m (unwrapped from its delivery
// tracking) when it is Telegraf's own metric, or nil.
func fieldsOf(m telegraf.Metric) *[]*telegraf.Field {
	for {
		u, ok := m.(telegraf.UnwrappableMetric)
		if !ok {
			break
		}
		m = u.Unwrap()
	}
	v := reflect.ValueOf(m)
	if metricType == nil || v.Type() != metricType {
		return nil
	}
	return v.Elem().Field(metricFields).Addr().Interface().(*[]*telegraf.Field)
}
