// Command clusters writes requests.lp beside it: the request latency of six
// nodes in two clusters (east, west), one point per node per minute for 12
// minutes, the series that examples/cluster-aggregates.conf aggregates per
// cluster before scoring. Run from the repository root:
//
//	go run ./examples/clusters
package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"
)

const (
	minutes = 12
	out     = "examples/clusters/requests.lp"
)

// nodes are the series: each node's usual latency in ms, by cluster.
var nodes = []struct {
	cluster, node string
	latency       float64
}{
	{"east", "east-1", 40}, {"east", "east-2", 44}, {"east", "east-3", 38},
	{"west", "west-1", 61}, {"west", "west-2", 57}, {"west", "west-3", 65},
}

func main() {
	if err := write(); err != nil {
		fmt.Fprintln(os.Stderr, "clusters:", err)
		os.Exit(1)
	}
}

func write() error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a fixed seed, so the file is the same on every run; nothing secret
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for m := range minutes {
		ts := start.Add(time.Duration(m) * time.Minute).UnixNano()
		for _, n := range nodes {
			// A slow swell shared by the cluster's nodes, and each node's own noise.
			v := n.latency * (1 + 0.05*math.Sin(float64(m)/3)) * (1 + 0.04*rng.NormFloat64())
			fmt.Fprintf(w, "requests,cluster=%s,node=%s latency_ms=%.1f %d\n", n.cluster, n.node, v, ts)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
