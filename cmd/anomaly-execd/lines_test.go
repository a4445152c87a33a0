package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLineCopierSkipsLongLines protects the bound on a line: the lines
// longer than max bytes (the newline aside) are dropped and counted, whatever
// the reads they come in, and the others pass whole.
func TestLineCopierSkipsLongLines(t *testing.T) {
	for _, tt := range []struct {
		name    string
		reads   []string
		want    string // the whole lines passed on, then the last one
		skipped int64
	}{
		{"short lines", []string{"a 1\nb 2\n"}, "a 1\nb 2\n", 0},
		{"a line across reads", []string{"a 1\nb", "b 2\nc 3"}, "a 1\nbb 2\nc 3\n", 0},
		{"exactly max", []string{"abcdefgh\n"}, "abcdefgh\n", 0},
		{"one byte over", []string{"abcdefghi\nx 1\n"}, "x 1\n", 1},
		{"a long line across reads", []string{"a 1\nlonglo", "nglong", "long\nb 2\n"}, "a 1\nb 2\n", 1},
		{"long lines in a row", []string{"123456789\n123456789", "0\n12345678\n"}, "12345678\n", 2},
		{"a long last line", []string{"a 1\n123456789"}, "a 1\n", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &lineCopier{max: 8}
			var got []byte
			for _, r := range tt.reads {
				got = c.whole(got, []byte(r))
			}
			got = append(got, c.last()...)
			require.Equal(t, tt.want, string(got))
			require.Equal(t, tt.skipped, c.skipped.Load())
		})
	}
}

// wideLine is a line of protocol of n fields.
func wideLine(n int) string {
	var b strings.Builder
	b.WriteString("wide,host=a ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "f%d=%d", i, i%7)
	}
	b.WriteString(" 1700000000000000000\n")
	return b.String()
}

// TestShimSkipsLinesOverMaxLineBytes: the shim scores the lines around a
// line too long, skips it, and says so: once when it comes, and the count
// at the end.
func TestShimSkipsLinesOverMaxLineBytes(t *testing.T) {
	conf := writeConf(t, "[[processors.anomaly]]\n  warmup_points = 1\n")
	input := "cpu,host=a value=1 1700000000000000000\n" + wideLine(100) + "cpu,host=a value=2 1700000010000000000\n" + wideLine(200)
	out, stderr, err := runShim(t, nil, []byte(input), "--config", conf, "--max-line-bytes=500")
	require.NoError(t, err, stderr)
	got := scored(out)
	require.Len(t, got, 2, "%s", out)
	require.True(t, strings.HasPrefix(got[0], "cpu,host=a "), got[0])
	require.Equal(t, 1, strings.Count(stderr, "longer than --max-line-bytes (500 bytes): skipped"), stderr)
	require.Contains(t, stderr, "2 lines of input longer than --max-line-bytes (500 bytes) were skipped")
}

// TestShimStopsOnSIGTERMWhateverTheLines: a line far beyond the bound (some
// 8 MB, 800,000 fields) does not hold the process after SIGTERM: it is
// skipped, not parsed and scored field by field.
func TestShimStopsOnSIGTERMWhateverTheLines(t *testing.T) {
	conf := writeConf(t, "[[processors.anomaly]]\n")
	cmd := exec.Command(shimBinary(t), "--config", conf, "--exit-delay=0")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill() //nolint:errcheck // a no-op once it exited

	_, err = io.WriteString(stdin, wideLine(800_000))
	require.NoError(t, err)
	_, err = io.WriteString(stdin, "cpu,host=a value=1 1700000000000000000\n")
	require.NoError(t, err)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM; stderr:\n%s", stderr.String())
	}
	require.Contains(t, stderr.String(), "finishing the metrics read so far")
}
