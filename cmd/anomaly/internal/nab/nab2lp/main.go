// Command nab2lp converts series of the Numenta Anomaly Benchmark (MIT
// licence) into the line protocol files and labelled windows bundled in
// testdata/. Run from the repository root, on the corpus bundled in
// cmd/anomaly/internal/nabcorpus or on a NAB checkout:
//
//	go run ./cmd/anomaly/internal/nab/nab2lp [NAB_DIR]
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nab"
	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nabcorpus"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/windows"
)

// files are the NAB series bundled, each with an incident a user would want to hear about.
var files = []string{
	"realKnownCause/machine_temperature_system_failure.csv",
	"realKnownCause/ec2_request_latency_system_failure.csv",
	"realKnownCause/nyc_taxi.csv",
}

func main() {
	if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./cmd/anomaly/internal/nab/nab2lp [NAB_DIR]")
		os.Exit(2)
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nab2lp:", err)
		os.Exit(1)
	}
}

// run converts the NAB corpus in args[0], or the bundled one.
func run(args []string) error {
	if len(args) == 1 {
		return convert(args[0], "testdata")
	}
	dir, err := os.MkdirTemp("", "nab2lp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := nabcorpus.UnpackData(dir); err != nil {
		return err
	}
	return convert(dir, "testdata")
}

func convert(nabDir, out string) error {
	corpus, err := nab.Load(nabDir)
	if err != nil {
		return err
	}
	labelled := make(map[string][]windows.Window)
	for _, f := range corpus.Files {
		want := false
		for _, name := range files {
			want = want || f.Name == name
		}
		if !want {
			continue
		}
		series := strings.TrimSuffix(filepath.Base(f.Name), ".csv")
		// prefix is measurement and tags of every line; the windows key adds
		// the field, as the replay tool names a series.
		prefix := fmt.Sprintf("nab,series=%s,source=%s", series, f.Folder())
		path := filepath.Join(out, series+".lp")
		if err := writeLP(path, f, prefix); err != nil {
			return err
		}
		key := prefix + " value"
		labelled[key] = append(labelled[key], f.Windows...)
	}
	data, err := json.MarshalIndent(labelled, "", "  ")
	if err != nil {
		return err
	}
	//nolint:gosec // a file of the repository's testdata, readable like the rest of the checkout
	return os.WriteFile(filepath.Join(out, "windows.json"), append(data, '\n'), 0o644)
}

// writeLP writes f's points to path as lines of prefix (measurement and
// tags) with the field value.
func writeLP(path string, f *nab.File, prefix string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	for i, v := range f.Values {
		fmt.Fprintf(w, "%s value=%v %d\n", prefix, v, f.Times[i].UnixNano())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return out.Close()
}
