package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/synth"
)

// kpiCmd writes synthetic labelled KPI-like series (see internal/synth),
// one CSV file per series with the columns anomaly eval reads.
func kpiCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kpi", flag.ContinueOnError)
	out := fs.String("out", "", "the folder to write the series to (created if missing)")
	series := fs.Int("series", 30, "number of series")
	seed := fs.Uint64("seed", 1, "random seed: the same seed writes the same series")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *series < 1 {
		return errors.New("kpi: --out is required and --series must be positive")
	}
	if err := os.MkdirAll(*out, 0o750); err != nil {
		return err
	}
	points, incidents := 0, 0
	for _, s := range synth.KPIs(*series, *seed) {
		path := filepath.Join(*out, s.Name+".csv")
		if err := writeOutput(path, nil, func(w io.Writer) error { return writeLabelled(w, s) }); err != nil {
			return fmt.Errorf("kpi: %w", err)
		}
		points += len(s.Values)
		incidents += s.Incidents
	}
	fmt.Fprintf(stdout, "%d series, %d points, %d incidents in %s\n", *series, points, incidents, *out)
	return nil
}

// writeLabelled writes a series as CSV: timestamp (unix seconds), value, label.
func writeLabelled(w io.Writer, s *synth.Series) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("timestamp,value,label\n"); err != nil {
		return err
	}
	var line []byte
	for i, v := range s.Values {
		line = strconv.AppendInt(line[:0], s.Times[i]/1e9, 10)
		line = append(line, ',')
		line = strconv.AppendFloat(line, v, 'g', -1, 64)
		line = append(line, ',', '0')
		if s.Labels[i] {
			line[len(line)-1] = '1'
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}
