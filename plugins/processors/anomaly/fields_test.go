package anomaly

import (
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"
)

// countingMetric counts the calls of AddField and RemoveField on a metric
// it wraps as delivery tracking does.
type countingMetric struct {
	telegraf.Metric
	addField, removeField int
}

func (c *countingMetric) AddField(key string, value any) {
	c.addField++
	c.Metric.AddField(key, value)
}

func (c *countingMetric) RemoveField(key string) {
	c.removeField++
	c.Metric.RemoveField(key)
}

func (c *countingMetric) Unwrap() telegraf.Metric { return c.Metric }

// TestOutputsOfAWideMetricAreAppended protects the processor's cost on wide
// metrics from growing with the square of their width: the outputs of a
// Telegraf metric (tracked or not) are appended to its fields at once, not
// added by AddField, which looks through every field each time, and those
// of a metric scored upstream are removed in one pass; and the metric
// carries them as AddField and RemoveField would have left them.
func TestOutputsOfAWideMetricAreAppended(t *testing.T) {
	const width = 100
	p, acc := newPlugin(t, func(p *Anomaly) { p.WarmupPoints = 1 })
	fields := make(map[string]any, width)
	for i := range width {
		fields["f"+strconv.Itoa(i)] = float64(i)
	}
	require.NoError(t, p.Add(metric.New("wide", nil, fields, t0), acc))

	m := metric.New("wide", nil, fields, t0.Add(time.Minute))
	tracked, _ := metric.WithTracking(m, func(telegraf.DeliveryInfo) {})
	counting := &countingMetric{Metric: tracked}
	require.NoError(t, p.Add(counting, acc))
	require.Zero(t, counting.addField, "outputs added one by one")

	want := make([]string, 0, 2*width) // the fields, then their scores in the same order
	for _, f := range m.FieldList()[:width] {
		want = append(want, f.Key)
	}
	for _, f := range m.FieldList()[:width] {
		want = append(want, f.Key+"_score")
	}
	var got []string
	for _, f := range last(acc).FieldList() {
		got = append(got, f.Key)
	}
	require.Equal(t, want, got)

	// Scored upstream: its outputs are replaced, not added beside.
	upstream := &countingMetric{Metric: last(acc).Copy()}
	upstream.SetTime(t0.Add(2 * time.Minute))
	require.NoError(t, p.Add(upstream, acc))
	require.Zero(t, upstream.addField+upstream.removeField, "outputs replaced one by one")
	got = got[:0]
	for _, f := range last(acc).FieldList() {
		got = append(got, f.Key)
	}
	require.Equal(t, want, got)
}
