package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nab"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// TestEveryFlagExplainsItself runs the default detector over the whole NAB
// corpus: every flag has a reason, and every flag whose reason is deviation
// lies outside its own band [lower, upper], so that the band a chart shows
// explains it.
func TestEveryFlagExplainsItself(t *testing.T) {
	corpus, err := nab.Load(nabDir(t))
	require.NoError(t, err)
	d, err := detector.New(detector.DefaultConfig())
	require.NoError(t, err)
	reasons := map[detector.Reason]int{}
	for _, f := range corpus.Files {
		var m detector.Model
		for i, v := range f.Values {
			r, err := d.Update(&m, f.Times[i].UnixNano(), v)
			if err != nil || !r.Anomaly {
				continue
			}
			reasons[r.Reason]++
			require.NotEqual(t, detector.NoReason, r.Reason, "%s point %d is flagged without a reason", f.Name, i)
			if r.Reason == detector.Deviation {
				lower, upper := r.Bounds()
				require.Truef(t, v < lower || v > upper, "%s point %d is flagged for its deviation but %v lies in its band [%v, %v]",
					f.Name, i, v, lower, upper)
			}
		}
	}
	t.Logf("flags by reason: %v", reasons)
	require.Positive(t, reasons[detector.Deviation], "the corpus has flags for deviation: the band property was tested")
}
