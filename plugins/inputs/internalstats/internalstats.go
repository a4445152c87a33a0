// Package internalstats is inputs.internal for this binary: it reports Telegraf's
// statistics about itself (selfstat), among them processors.anomaly's
// internal_anomaly measurement.
//
// Upstream's inputs.internal cannot be imported from another module: Go keeps
// a package under a folder named internal private to its own module. This is
// a port of its two main options; collect_gostats is left out.
package internalstats

import (
	_ "embed"
	"runtime"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/selfstat"
)

//go:embed sample.conf
var sampleConfig string

// Internal is the plugin's configuration.
type Internal struct {
	CollectMemstats bool `toml:"collect_memstats"`
	PerInstance     bool `toml:"per_instance"`
}

// SampleConfig returns the plugin's sample configuration.
func (*Internal) SampleConfig() string { return sampleConfig }

// Gather reports every registered statistic, summed per plugin type unless
// per_instance is set, and the memory statistics when asked.
func (s *Internal) Gather(acc telegraf.Accumulator) error {
	if s.PerInstance {
		for _, m := range selfstat.Metrics() {
			acc.AddMetric(m)
		}
	} else {
		addSummed(acc)
	}
	if s.CollectMemstats {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		acc.AddFields("internal_memstats", map[string]any{
			"alloc_bytes":         ms.Alloc,
			"total_alloc_bytes":   ms.TotalAlloc,
			"sys_bytes":           ms.Sys,
			"mallocs":             ms.Mallocs,
			"frees":               ms.Frees,
			"heap_alloc_bytes":    ms.HeapAlloc,
			"heap_sys_bytes":      ms.HeapSys,
			"heap_idle_bytes":     ms.HeapIdle,
			"heap_in_use_bytes":   ms.HeapInuse,
			"heap_released_bytes": ms.HeapReleased,
			"heap_objects":        ms.HeapObjects,
			"num_gc":              ms.NumGC,
		}, nil)
	}
	return nil
}

// addSummed adds the statistics of all instances of a plugin type together,
// as upstream does by default: instances differ only in their "_id" tag.
func addSummed(acc telegraf.Accumulator) {
	summed := make(map[uint64]telegraf.Metric)
	var order []uint64
	for _, m := range selfstat.Metrics() {
		key := m.HashIDWithFieldsFiltered([]string{"_id"}, nil)
		sum, ok := summed[key]
		if !ok {
			sum = m.Copy()
			sum.RemoveTag("_id")
			summed[key] = sum
			order = append(order, key)
			continue
		}
		for _, f := range m.FieldList() {
			prev, _ := sum.GetField(f.Key)
			a, _ := prev.(int64)
			b, _ := f.Value.(int64)
			sum.AddField(f.Key, a+b)
		}
	}
	for _, key := range order {
		acc.AddMetric(summed[key])
	}
}

func init() {
	inputs.Add("internal", func() telegraf.Input {
		return &Internal{CollectMemstats: true}
	})
}
