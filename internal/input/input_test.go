package input

import (
	"strings"
	"testing"
)

func TestReadLineProtocolMakesASeriesPerField(t *testing.T) {
	// The second line was scored by processors.anomaly: its outputs, tag
	// included, are not series (credit_score, with no credit, is), and
	// state_score beside a string state is an output too, as in the plugin.
	lp := `cpu,host=b,dc=x usage=1.5,idle=98i,state="ok",up=true 1000
cpu,anomaly=up,dc=x,host=b usage=2.5,usage_score=0.7,usage_expected=1.5,usage_anomaly=true,idle=97i,credit_score=5 2000
cpu,host=c usage=3u 1000
cpu,host=c state="ok",state_score=1 2000
`
	ss, err := ReadLineProtocol(strings.NewReader(lp), "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ss {
		names = append(names, s.Name)
	}
	want := []string{"cpu,dc=x,host=b usage", "cpu,dc=x,host=b idle", "cpu,dc=x,host=b credit_score", "cpu,host=c usage"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("series %q, want %q (tags sorted, strings, booleans and scores skipped)", names, want)
	}
	if got := ss[0]; len(got.Values) != 2 || got.Values[1] != 2.5 || got.Times[1] != 2000 {
		t.Errorf("usage of host b: %+v", got)
	}
	if ss[3].Values[0] != 3 {
		t.Errorf("unsigned value read as %v", ss[3].Values[0])
	}
}

func TestReadLineProtocolErrors(t *testing.T) {
	for _, tc := range []struct{ name, lp, want string }{
		{"no timestamp", "cpu usage=1\n", "no timestamp"},
		{"bad line", "cpu usage=1 1000\ncpu usage= 2000\n", "line 2"},
	} {
		_, err := ReadLineProtocol(strings.NewReader(tc.lp), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestReadCSV(t *testing.T) {
	s, err := ReadCSV(strings.NewReader("timestamp,value,label\n2024-01-01 00:00:00,1,0\n1704067500,2.5,1\n"), "x", "label")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Values) != 2 || s.Times[1]-s.Times[0] != 300e9 || !s.Labels[1] || s.Labels[0] {
		t.Errorf("read %+v", s)
	}
	if _, err := ReadCSV(strings.NewReader("timestamp,value\nyesterday,1\n"), "x", "label"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad timestamp: %v", err)
	}
}

// TestReadLineProtocolLabels protects labelled line protocol: the label
// field labels each series of its line and is not a series itself.
func TestReadLineProtocolLabels(t *testing.T) {
	lp := `kpi,id=a value=1,errors=0i,label=0i 1000
kpi,id=a value=9,errors=4i,label=1i 2000
kpi,id=b value=2,label=true 1000
kpi,id=b value=3,label=0.0 2000
`
	ss, err := ReadLineProtocol(strings.NewReader(lp), "label")
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3 {
		t.Fatalf("%d series, want value and errors of a, value of b", len(ss))
	}
	for _, tc := range []struct {
		series int
		want   string
	}{{0, "01"}, {1, "01"}, {2, "10"}} {
		got := ""
		for _, l := range ss[tc.series].Labels {
			got += map[bool]string{false: "0", true: "1"}[l]
		}
		if got != tc.want {
			t.Errorf("%s: labels %s, want %s", ss[tc.series].Name, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, lp, want string }{
		{"missing", "kpi value=1,label=0i 1000\nkpi value=2 2000\n", `line 2: no label field "label"`},
		{"a string", "kpi value=1,label=\"yes\" 1000\n", `line 1: label field "label"`},
	} {
		if _, err := ReadLineProtocol(strings.NewReader(tc.lp), "label"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
