package internalstats

import (
	"testing"

	"github.com/influxdata/telegraf/selfstat"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

func TestGatherSumsInstancesUnlessPerInstance(t *testing.T) {
	a := selfstat.Register("itest", "points", map[string]string{"_id": "a"})
	b := selfstat.Register("itest", "points", map[string]string{"_id": "b"})
	a.Set(3)
	b.Set(4)
	t.Cleanup(func() { a.Unregister(); b.Unregister() })

	acc := &testutil.Accumulator{}
	require.NoError(t, (&Internal{}).Gather(acc))
	m, ok := acc.Get("internal_itest")
	require.True(t, ok)
	require.Equal(t, int64(7), m.Fields["points"], "instances are summed by default")
	require.NotContains(t, m.Tags, "_id")
	require.False(t, acc.HasMeasurement("internal_memstats"))

	acc = &testutil.Accumulator{}
	require.NoError(t, (&Internal{PerInstance: true, CollectMemstats: true}).Gather(acc))
	n := 0
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "internal_itest" {
			n++
		}
	}
	require.Equal(t, 2, n, "one metric per instance")
	require.True(t, acc.HasMeasurement("internal_memstats"))
}
