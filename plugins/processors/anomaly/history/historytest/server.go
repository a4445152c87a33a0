// Package historytest is an in-process InfluxDB for the tests of the history
// client and of processors.anomaly, which reads series' history with it.
package historytest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/influxdata/influxql"
)

// Server is an in-process server that speaks InfluxDB 1.x's /query for
// the statements the history client sends. It parses them with InfluxDB's
// own InfluxQL parser and answers from its points as InfluxDB does: GROUP BY *
// with every tag key of the measurement (empty when a series lacks it),
// newest first, LIMIT per stored series, rows where a selected field has a
// value, numbers as Go's encoding/json writes them, and with chunked=true
// one JSON object per piece of a series, partial until the last.
type Server struct {
	*httptest.Server
	t testing.TB

	// ChunkSize is the rows per chunk when the client asks for chunks; 0:
	// the client's chunk_size. Set it before the first query.
	ChunkSize int
	// NotChunked answers in one object whatever the client asks, as a
	// server without chunking would. Set it before the first query.
	NotChunked bool

	mu      sync.Mutex
	points  []Point
	queries []string
	forms   []map[string]string
	headers []http.Header
}

// Point is a point the server holds.
type Point struct {
	Measurement string
	Tags        map[string]string
	Time        int64          // ns since the Unix epoch
	Fields      map[string]any // float64, int64, string or bool
}

// New starts a server, closed when the test ends.
func New(t testing.TB) *Server {
	f := &Server{t: t}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Add stores points.
func (f *Server) Add(points ...Point) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.points = append(f.points, points...)
}

// Points returns the points stored.
func (f *Server) Points() []Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.points)
}

// Statements returns the statements received so far.
func (f *Server) Statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

// Forms returns the form values of the queries received so far.
func (f *Server) Forms() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.forms)
}

// Headers returns the headers of the queries received so far.
func (f *Server) Headers() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.headers)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/query" || r.Method != http.MethodPost {
		http.Error(w, "want POST /query", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := make(map[string]string)
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	f.mu.Lock()
	f.queries = append(f.queries, form["q"])
	f.forms = append(f.forms, form)
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	stmt, err := influxql.ParseStatement(form["q"])
	if err != nil {
		w.Header().Set("X-Influxdb-Error", "error parsing query: "+err.Error())
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "error parsing query: " + err.Error()})
		return
	}
	series, err := f.answer(stmt.(*influxql.SelectStatement))
	if err != nil {
		f.t.Errorf("historytest: %v in %s", err, form["q"])
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	chunkSize := f.ChunkSize
	if chunkSize == 0 {
		chunkSize, _ = strconv.Atoi(form["chunk_size"])
	}
	if form["chunked"] != "true" || f.NotChunked || chunkSize <= 0 {
		writeJSON(w, response(series, false))
		return
	}
	// One object per piece of a series, as InfluxDB 1.x streams them.
	var pieces []Row
	for _, s := range series {
		for len(s.Values) > chunkSize {
			piece := s
			piece.Values, piece.Partial = s.Values[:chunkSize], true
			pieces = append(pieces, piece)
			s.Values = s.Values[chunkSize:]
		}
		pieces = append(pieces, s)
	}
	if len(pieces) == 0 {
		writeJSON(w, response(nil, false))
	}
	for i, p := range pieces {
		writeJSON(w, response([]Row{p}, i < len(pieces)-1))
		w.(http.Flusher).Flush()
	}
}

// Row is a series of an answer: InfluxDB's models.Row, fields in its order.
type Row struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags,omitempty"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values,omitempty"`
	Partial bool              `json:"partial,omitempty"`
}

// Chunk is one JSON object of an answer, as InfluxDB 1.x streams them: the
// series, and whether more of the answer follows.
func Chunk(series []Row, partial bool) []byte { return mustJSON(response(series, partial)) }

func response(series []Row, partial bool) any {
	type result struct {
		StatementID int   `json:"statement_id"`
		Series      []Row `json:"series,omitempty"`
		Partial     bool  `json:"partial,omitempty"`
	}
	return map[string][]result{"results": {{Series: series, Partial: partial}}}
}

func writeJSON(w http.ResponseWriter, v any) {
	_, _ = w.Write(append(mustJSON(v), '\n'))
}

// answer runs a SELECT of the client's shape on the fake's points.
func (f *Server) answer(stmt *influxql.SelectStatement) ([]Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(stmt.Sources) != 1 {
		return nil, fmt.Errorf("want one source, have %d", len(stmt.Sources))
	}
	m := stmt.Sources[0].(*influxql.Measurement).Name
	fields := make([]string, 0, len(stmt.Fields))
	for _, fl := range stmt.Fields {
		ref, ok := fl.Expr.(*influxql.VarRef)
		if !ok {
			return nil, fmt.Errorf("a field that is not a name: %s", fl)
		}
		fields = append(fields, ref.Val)
	}
	if len(stmt.Dimensions) != 1 || stmt.Dimensions[0].String() != "*" {
		return nil, fmt.Errorf("want GROUP BY *, have %s", stmt.Dimensions)
	}
	desc := len(stmt.SortFields) == 1 && !stmt.SortFields[0].Ascending
	tagKeys := make(map[string]bool)
	bySeries := make(map[string]*Row)
	var keys []string
	for _, p := range f.points {
		if p.Measurement != m {
			continue
		}
		for k := range p.Tags {
			tagKeys[k] = true
		}
	}
	for _, p := range f.points {
		if p.Measurement != m {
			continue
		}
		ok, err := eval(stmt.Condition, p.Tags, p.Time)
		if err != nil {
			return nil, err
		}
		row := make([]any, 0, 1+len(fields))
		row = append(row, p.Time)
		hasValue := false
		for _, fl := range fields {
			v, has := p.Fields[fl]
			hasValue = hasValue || has
			row = append(row, v)
		}
		if !ok || !hasValue {
			continue
		}
		tags := make(map[string]string, len(tagKeys))
		for k := range tagKeys {
			tags[k] = p.Tags[k]
		}
		key := GroupKey(tagKeys, p.Tags)
		s := bySeries[key]
		if s == nil {
			s = &Row{Name: m, Columns: append([]string{"time"}, fields...)}
			if len(tags) > 0 {
				s.Tags = tags
			}
			bySeries[key] = s
			keys = append(keys, key)
		}
		s.Values = append(s.Values, row)
	}
	// InfluxDB 1.6 sends the series of GROUP BY * in the order of their tag
	// values, key by key (an absent tag is empty), and in reverse with
	// ORDER BY time DESC.
	slices.Sort(keys)
	if desc {
		slices.Reverse(keys)
	}
	out := make([]Row, 0, len(keys))
	for _, k := range keys {
		s := bySeries[k]
		slices.SortFunc(s.Values, func(a, b []any) int {
			if desc {
				a, b = b, a
			}
			return cmp.Compare(a[0].(int64), b[0].(int64))
		})
		if stmt.Limit > 0 && len(s.Values) > stmt.Limit {
			s.Values = s.Values[:stmt.Limit]
		}
		out = append(out, *s)
	}
	return out, nil
}

// GroupKey orders the series of GROUP BY * as InfluxDB does: by the
// values of every tag key of the measurement, key by key, an absent tag
// empty.
func GroupKey(tagKeys map[string]bool, tags map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(tagKeys)) {
		b.WriteString(tags[k])
		b.WriteByte(0)
	}
	return b.String()
}

// eval evaluates the client's conditions: AND, OR, parentheses, time
// compared with an integer and a tag compared with a string (an absent
// tag is the empty string).
func eval(e influxql.Expr, tags map[string]string, t int64) (bool, error) {
	switch e := e.(type) {
	case nil:
		return true, nil
	case *influxql.ParenExpr:
		return eval(e.Expr, tags, t)
	case *influxql.BinaryExpr:
		switch e.Op {
		case influxql.AND, influxql.OR:
			l, err := eval(e.LHS, tags, t)
			if err != nil {
				return false, err
			}
			r, err := eval(e.RHS, tags, t)
			if e.Op == influxql.AND {
				return l && r, err
			}
			return l || r, err
		}
		ref, ok := e.LHS.(*influxql.VarRef)
		if !ok {
			return false, fmt.Errorf("a comparison whose left side is not a name: %s", e)
		}
		if ref.Val == "time" {
			lit, ok := e.RHS.(*influxql.IntegerLiteral)
			if !ok {
				return false, fmt.Errorf("time compared with %T", e.RHS)
			}
			switch e.Op {
			case influxql.GTE:
				return t >= lit.Val, nil
			case influxql.LT:
				return t < lit.Val, nil
			}
			return false, fmt.Errorf("time compared with %s", e.Op)
		}
		lit, ok := e.RHS.(*influxql.StringLiteral)
		if !ok || e.Op != influxql.EQ {
			return false, fmt.Errorf("a tag condition other than = 'string': %s", e)
		}
		return tags[ref.Val] == lit.Val, nil
	}
	return false, fmt.Errorf("an expression of type %T", e)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
