package input

import (
	"strings"
	"testing"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// everyField is a Scheme that scores every numeric field, each a series
// named after its metric's measurement, tags and field.
type everyField struct{}

func (everyField) Series(m telegraf.Metric, yield func(string, float64)) {
	var b strings.Builder
	b.WriteString(m.Name())
	for _, t := range m.TagList() {
		b.WriteString("," + t.Key + "=" + t.Value)
	}
	name := b.String()
	for _, f := range m.FieldList() {
		switch v := f.Value.(type) {
		case float64:
			yield(name+" "+f.Key, v)
		case int64:
			yield(name+" "+f.Key, float64(v))
		case uint64:
			yield(name+" "+f.Key, float64(v))
		}
	}
}

func (everyField) Condition([]*telegraf.Tag, int64) detector.Condition { return detector.Ordinary }

func TestReadLineProtocolMakesTheSchemesSeries(t *testing.T) {
	lp := `cpu,host=b,dc=x usage=1.5,idle=98i,state="ok",up=true 1000
cpu,dc=x,host=b usage=2.5 2000
cpu,host=c usage=3u 1000
`
	ss, err := readLineProtocol(strings.NewReader(lp), everyField{}, "")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(ss))
	for _, s := range ss {
		names = append(names, s.Name)
	}
	want := []string{"cpu,dc=x,host=b usage", "cpu,dc=x,host=b idle", "cpu,host=c usage"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("series %q, want %q (in order of first appearance; every type as the line says)", names, want)
	}
	if got := ss[0]; len(got.Values) != 2 || got.Values[1] != 2.5 || got.Times[1] != 2000 {
		t.Errorf("usage of host b: %+v", got)
	}
	if ss[1].Values[0] != 98 || ss[2].Values[0] != 3 {
		t.Errorf("integer values read as %v and %v", ss[1].Values[0], ss[2].Values[0])
	}
}

func TestReadLineProtocolErrors(t *testing.T) {
	for _, tc := range []struct{ name, lp, label, want string }{
		{"no timestamp", "cpu usage=1\n", "", "no timestamp"},
		{"bad line", "cpu usage=1 1000\ncpu usage= 2000\n", "", "line 2"},
		{"no timestamp after a comment and a blank line", "# cpu\n\ncpu usage=1 1000\ncpu usage=2\n", "", "line 4: no timestamp"},
		{"no label after a comment", "# cpu\ncpu usage=1,label=0 1000\n  \ncpu usage=2 2000\n", "label", `line 4: no label field "label"`},
		{"bad label after a comment", "# cpu\ncpu usage=1,label=\"x\" 1000\n", "label", `line 2: label field "label"`},
	} {
		_, err := readLineProtocol(strings.NewReader(tc.lp), everyField{}, tc.label)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestReadCSV(t *testing.T) {
	s, err := readCSV(strings.NewReader("timestamp,value,label\n2024-01-01 00:00:00,1,0\n1704067500,2.5,1\n"), "x", "label")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Values) != 2 || s.Times[1]-s.Times[0] != 300e9 || !s.Labels[1] || s.Labels[0] {
		t.Errorf("read %+v", s)
	}
	if _, err := readCSV(strings.NewReader("timestamp,value\nyesterday,1\n"), "x", "label"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad timestamp: %v", err)
	}
}

// TestReadLabelledLineProtocol protects labelled line protocol: the label
// field labels each series of its line and is not scored itself.
func TestReadLabelledLineProtocol(t *testing.T) {
	lp := `kpi,id=a value=1,errors=0i,label=0i 1000
kpi,id=a value=9,errors=4i,label=1i 2000
kpi,id=b value=2,label=true 1000
kpi,id=b value=3,label=0.0 2000
`
	ss, err := readLineProtocol(strings.NewReader(lp), everyField{}, "label")
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
		var got strings.Builder
		for _, l := range ss[tc.series].Labels {
			got.WriteString(map[bool]string{false: "0", true: "1"}[l])
		}
		if got.String() != tc.want {
			t.Errorf("%s: labels %s, want %s", ss[tc.series].Name, got.String(), tc.want)
		}
	}
	for _, tc := range []struct{ name, lp, want string }{
		{"missing", "kpi value=1,label=0i 1000\nkpi value=2 2000\n", `line 2: no label field "label"`},
		{"a string", "kpi value=1,label=\"yes\" 1000\n", `line 1: label field "label"`},
	} {
		if _, err := readLineProtocol(strings.NewReader(tc.lp), everyField{}, "label"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
