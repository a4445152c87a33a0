package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// generateCmd writes synthetic line protocol for load tests and benchmarks:
// many series, each a noisy daily cycle with rare spikes, interleaved in time
// order the way a collector receives them.
func generateCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	series := fs.Int("series", 100_000, "number of series (measurement bench, tags host and series)")
	points := fs.Int("points", 2_000_000, "total number of points, spread evenly over the series")
	interval := fs.Duration("interval", 10*time.Second, "time between two points of a series")
	start := fs.String("start", "2024-01-01T00:00:00Z", "time of the first point, RFC 3339")
	seed := fs.Uint64("seed", 1, "random seed: the same seed writes the same file")
	out := fs.String("out", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *series < 1 || *points < 1 || *interval <= 0 {
		return errors.New("generate: --series, --points and --interval must be positive")
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return fmt.Errorf("generate: --start: %w", err)
	}
	return writeOutput(*out, stdout, func(w io.Writer) error {
		return generate(w, *series, *points, *interval, t0, *seed)
	})
}

// generate writes the points of the synthetic series to w.
func generate(w io.Writer, nSeries, points int, interval time.Duration, t0 time.Time, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(seed, 7)) //nolint:gosec // synthetic data: the same seed must write the same file
	// Each series has its own level, amplitude and noise.
	level, amp, noise := make([]float64, nSeries), make([]float64, nSeries), make([]float64, nSeries)
	for s := range nSeries {
		level[s] = 10 + rng.Float64()*1000
		amp[s] = level[s] * rng.Float64() * 0.3
		noise[s] = level[s] * (0.005 + rng.Float64()*0.02)
	}
	var line []byte
	for i := range points {
		s := i % nSeries
		ts := t0.Add(time.Duration(i/nSeries) * interval)
		day := float64(ts.Unix()%86400) / 86400
		v := level[s] + amp[s]*math.Sin(2*math.Pi*day) + noise[s]*rng.NormFloat64()
		if rng.IntN(20_000) == 0 {
			v += 20 * noise[s] // a spike now and then
		}
		line = append(line[:0], "bench,host=h"...)
		line = strconv.AppendInt(line, int64(s%1000), 10)
		line = append(line, ",series=s"...)
		line = strconv.AppendInt(line, int64(s), 10)
		line = append(line, " value="...)
		line = strconv.AppendFloat(line, v, 'f', 3, 64)
		line = append(line, ' ')
		line = strconv.AppendInt(line, ts.UnixNano(), 10)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}
