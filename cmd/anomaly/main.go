// Command anomaly replays recorded series through the detector, scores it on
// the Numenta Anomaly Benchmark, and draws reports, so that users can tune the
// detector on their own history before it goes live in Telegraf.
//
// Usage:
//
//	anomaly replay [--sensitivity low|medium|high] [--out FILE] FILE...
//	anomaly nab [--nab-dir DIR] [--results DIR]
//	anomaly report [--sensitivity ...] [--nab-dir DIR] [--windows FILE] [--title T] [--out FILE] FILE...
//	anomaly generate [--series N] [--points N] [--interval D] [--start T] [--seed N] [--out FILE]
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/input"
)

const usage = `usage:
  anomaly replay [--sensitivity low|medium|high] [--out FILE] FILE...
  anomaly nab [--nab-dir DIR] [--results DIR]
  anomaly report [--sensitivity low|medium|high] [--nab-dir DIR] [--windows FILE] [--title T] [--out FILE] FILE...
  anomaly generate [--series N] [--points N] [--interval D] [--start T] [--seed N] [--out FILE]
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "anomaly:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand; tests call it directly.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no subcommand")
	}
	switch args[0] {
	case "replay":
		return replayCmd(args[1:], stdout)
	case "nab":
		return nabCmd(args[1:], stdout)
	case "report":
		return reportCmd(args[1:], stdout)
	case "generate":
		return generateCmd(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// writeOutput runs write on the file named path, or on stdout when path is
// empty, and reports the first error, closing the file included.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readSeries reads every series of the input files, in order.
func readSeries(paths []string) ([]*input.Series, error) {
	var series []*input.Series
	for _, path := range paths {
		ss, err := input.ReadFile(path)
		if err != nil {
			return nil, err
		}
		series = append(series, ss...)
	}
	return series, nil
}
