package history

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf/filter"
)

// Identity says which tags identify a series, as the processor's
// series_tags and anomaly_tag do.
type Identity struct {
	// Tags selects the identifying tags; nil: every tag.
	Tags filter.Filter
	// AnomalyTag is the processor's own tag: it never identifies a series,
	// so the points stored with it (the anomalous ones, in a series of
	// their own in InfluxDB) belong to the series without it.
	AnomalyTag string
}

func (id *Identity) identifies(key string) bool {
	return key != id.AnomalyTag && (id.Tags == nil || id.Tags.Match(key))
}

// Series is one series whose history is wanted: a field of the measurement
// Fetch is given, with the series' tags and the time of its first live point.
type Series struct {
	// Tags are the series' tags; only those that identify it (Identity) are used.
	Tags map[string]string
	// Field is the field whose values are read: no other is, so the
	// processor's own outputs stored beside it (FIELD_score) never are.
	Field string
	// Start is the event time of the series' first live point, in ns since
	// the Unix epoch: the history is the points of [Start-lookback, Start).
	Start int64
}

// Point is one point of a series' history.
type Point struct {
	Time  int64 // ns since the Unix epoch
	Value float64
}

// Result is the history of one series.
type Result struct {
	// Points are the most recent points of [Start-lookback, Start), at most
	// max_points, oldest first, each timestamp once. Read only: they may
	// share memory with the decoding.
	Points []Point
	// Points not learned among those read, as the processor skips them
	// live: Overflow integers beyond ±2^53, NotNumeric strings and
	// booleans, Duplicates a timestamp already taken from another stored
	// series (a point stored both with and without the anomaly tag).
	Overflow, NotNumeric, Duplicates int
	// Err is nil or an *Error: no points could be read.
	Err error
}

// Stats are a client's totals since it was made: the processor's
// self-metrics, and where a bootstrap's time goes.
type Stats struct {
	// Queries answered, refetches included.
	Queries int64
	// Refetches: queries for series whose first query LIMIT cut short.
	Refetches int64
	// Failed: queries that failed on every url (not those the caller
	// stopped waiting for).
	Failed int64
	// Bytes of the answers, as decoded (after any compression).
	Bytes int64
	// Values: field values decoded.
	Values int64
	// Wait: from sending queries to their answers' first bytes, summed:
	// the database's work before it streams.
	Wait time.Duration
	// Read: reading and decoding the answers, summed: transfer and decoding.
	Read time.Duration
}

// Client reads series' history from InfluxDB over InfluxQL, many series
// per query. It is safe for concurrent use.
type Client struct {
	cfg       *Config
	identity  Identity
	endpoints []string // each url's /query
	http      *http.Client
	sem       chan struct{} // one token per query in flight, over every Fetch
	preferred atomic.Int32  // the url that answered last: tried first

	queries, refetches, failed, bytes, values, wait, read atomic.Int64
}

// How queries are cut. Not settings: they bound what one query costs the
// database and the processor, whatever the configuration.
const (
	// startSpread is the widest range of the series' Start in one query: its
	// time range spans them all, and the points a series' window does not
	// hold are read for nothing (and may cost it a refetch, see run).
	startSpread = int64(time.Minute)
	// maxQueryBytes bounds a statement's text: InfluxDB parses it whole,
	// and proxies in front of it often refuse bodies of 1 MiB.
	maxQueryBytes = 256 << 10
	// maxQueryUnits bounds the conditions OR'ed in one statement. InfluxDB
	// 1.6 spent 0.37 ms per condition with 50 to 250 of them, 0.42 with 500
	// (LIMIT 1, 6,000 stored series in the measurement), 0.76 ms with 1,000 and
	// 2.3 ms with 2,500: past a few hundred its cost grows with their square.
	maxQueryUnits = 500
	// maxQueryPoints bounds the points one query may return (max_points for
	// each series and field), which are held, 16 bytes each, until its
	// series are delivered.
	maxQueryPoints = 1 << 20
	// chunkSize is the points per chunk InfluxDB streams (its default).
	chunkSize = "10000"
)

// userAgent names the client in InfluxDB's logs.
const userAgent = "telegraf-anomaly processors.anomaly history"

// New returns a client for cfg, which must be valid, reading the series
// that identity names.
func New(cfg *Config, identity Identity) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := cfg.ClientConfig.TLSConfig()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.MaxIdleConnsPerHost = cfg.Concurrency
	// InfluxDB compresses at the cost of its own CPU, the resource a
	// bootstrap is bound by: on loopback, 10M points came 1.7 to 2.9 times
	// slower gzipped (README.md).
	transport.DisableCompression = true
	if cfg.DialContext != nil {
		transport.DialContext = cfg.DialContext
	}
	c := &Client{
		cfg:      cfg,
		identity: identity,
		http:     &http.Client{Transport: transport},
		sem:      make(chan struct{}, cfg.Concurrency),
	}
	for _, u := range cfg.URLs {
		parsed, _ := url.Parse(u) // validated
		c.endpoints = append(c.endpoints, parsed.JoinPath("query").String())
	}
	return c, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Stats returns the client's totals.
func (c *Client) Stats() Stats {
	return Stats{
		Queries:   c.queries.Load(),
		Refetches: c.refetches.Load(),
		Failed:    c.failed.Load(),
		Bytes:     c.bytes.Load(),
		Values:    c.values.Load(),
		Wait:      time.Duration(c.wait.Load()),
		Read:      time.Duration(c.read.Load()),
	}
}

// Fetch reads the history of series, fields of one measurement, and calls
// deliver once for each, with its index in series, as soon as its query is
// answered; deliver is called by one goroutine at a time. Fetch returns
// when every series is delivered. Queries wait for one another beyond
// concurrency, over every Fetch; once ctx is done, the series not yet read
// are delivered with an error of ReasonCanceled.
func (c *Client) Fetch(ctx context.Context, measurement string, series []Series, deliver func(i int, r *Result)) {
	var mu sync.Mutex
	send := func(i int, r *Result) {
		mu.Lock()
		defer mu.Unlock()
		deliver(i, r)
	}
	units := c.units(measurement, series, send)
	var wg sync.WaitGroup
	for _, q := range c.plan(units, startSpread, false) {
		wg.Go(func() { c.run(ctx, measurement, q, send) })
	}
	wg.Wait()
}

// tag is an identifying tag of a series.
type tag struct{ key, value string }

// entry is one requested series in a unit.
type entry struct {
	index int // in Fetch's series
	field string
	start int64
	col   int // the field's column in its query
}

// unit is the series of one identity whose Start are close: one condition
// in a query, and what came back for it.
type unit struct {
	key       string // identity key: the identifying tags, see appendKeyPart
	tags      []tag  // identifying, sorted by key, values not empty
	entries   []entry
	fieldsKey string // the sorted fields of the entries, for grouping
	minStart  int64
	maxStart  int64

	cols  []column // per query field: filled by the decoder
	cut   bool     // some stored series of the unit came back with LIMIT rows
	cutAt int64    // the newest of their oldest rows: the unit is complete from there on
}

// column is what came back for one field of a unit, newest first until finish.
type column struct {
	points  []Point
	skips   []skipped
	entries int // how many entries read it
}

type skipKind uint8

const (
	skipOverflow skipKind = iota
	skipNotNumeric
	skipDuplicate
)

// skipped is a point read but not learned, and why.
type skipped struct {
	time int64
	why  skipKind
}

func (c *column) skip(t int64, why skipKind) { c.skips = append(c.skips, skipped{t, why}) }

// units groups series by identity, and those of one identity into units of
// close Start. A series that cannot be named in InfluxQL is delivered with
// an error at once.
func (c *Client) units(measurement string, series []Series, send func(int, *Result)) []*unit {
	type group struct {
		tags    []tag
		entries []entry
	}
	var groups []*group
	byKey := make(map[string]*group)
	var key []byte
	for i, s := range series {
		tags := make([]tag, 0, len(s.Tags))
		ok := nameable(measurement) && nameable(s.Field)
		for k, v := range s.Tags {
			if v != "" && c.identity.identifies(k) {
				tags = append(tags, tag{k, v})
				ok = ok && nameable(k) && nameable(v)
			}
		}
		if !ok {
			send(i, &Result{Err: &Error{Reason: ReasonUnqueryable,
				Message: "the measurement, a tag or the field is not valid UTF-8 or holds a carriage return: InfluxQL cannot name it"}})
			continue
		}
		slices.SortFunc(tags, func(a, b tag) int { return strings.Compare(a.key, b.key) })
		key = key[:0]
		for _, t := range tags {
			key = appendKeyPart(key, t.key)
			key = appendKeyPart(key, t.value)
		}
		g := byKey[string(key)]
		if g == nil {
			g = &group{tags: tags}
			byKey[string(key)] = g
			groups = append(groups, g)
		}
		g.entries = append(g.entries, entry{index: i, field: s.Field, start: s.Start})
	}
	var units []*unit
	for _, g := range groups {
		slices.SortStableFunc(g.entries, func(a, b entry) int { return cmp.Compare(a.start, b.start) })
		for len(g.entries) > 0 {
			n := 1
			for n < len(g.entries) && g.entries[n].start-g.entries[0].start <= startSpread {
				n++
			}
			units = append(units, newUnit(g.tags, g.entries[:n:n]))
			g.entries = g.entries[n:]
		}
	}
	return units
}

func newUnit(tags []tag, entries []entry) *unit {
	u := &unit{tags: tags, entries: entries, minStart: entries[0].start, maxStart: entries[len(entries)-1].start}
	var key []byte
	for _, t := range tags {
		key = appendKeyPart(key, t.key)
		key = appendKeyPart(key, t.value)
	}
	u.key = string(key)
	fields := make([]string, 0, len(entries))
	for _, e := range entries {
		fields = append(fields, e.field)
	}
	slices.Sort(fields)
	u.fieldsKey = strings.Join(slices.Compact(fields), "\x00")
	return u
}

// query is one statement: the units it reads, and how.
type query struct {
	identity *Identity
	fields   []string // selected, sorted
	keys     []string // the identifying tag keys of its units, sorted
	units    []*unit
	byKey    map[string]*unit
	lo, hi   int64 // time >= lo AND time < hi
	limit    int
	// exact: every unit has one entry whose window is [lo, hi) and the
	// query selects its field alone, so LIMIT cannot cut it short (see run).
	exact bool
	// refetch: it reads again series that another query cut short.
	refetch bool

	// While planning: the size of the units' conditions; per key, how many
	// units have it (the others require it absent); the units' identities,
	// each once in a query (the answer's series are told apart by them).
	size int
	have map[string]int
	has  map[string]bool
}

// plan cuts units into queries: units of one field set, with Start no
// further apart than spread, as many as the limits on a query allow.
func (c *Client) plan(units []*unit, spread int64, exact bool) []*query {
	slices.SortStableFunc(units, func(a, b *unit) int {
		return cmp.Or(strings.Compare(a.fieldsKey, b.fieldsKey), cmp.Compare(a.minStart, b.minStart))
	})
	var queries []*query
	var q *query
	for _, u := range units {
		if q == nil || u.fieldsKey != q.units[0].fieldsKey || u.maxStart-q.units[0].minStart > spread ||
			q.has[u.key] || !q.fits(u, c.cfg.MaxPoints) {
			q = &query{identity: &c.identity, limit: c.cfg.MaxPoints, exact: exact, refetch: exact,
				have: make(map[string]int), has: make(map[string]bool)}
			queries = append(queries, q)
		}
		q.add(u)
	}
	for _, q := range queries {
		q.prepare(int64(c.cfg.Lookback))
	}
	return queries
}

// fits reports whether u can join q within the limits on a query.
func (q *query) fits(u *unit, maxPoints int) bool {
	fields := strings.Count(u.fieldsKey, "\x00") + 1
	if len(q.units)+1 > maxQueryUnits || (len(q.units)+1)*fields*maxPoints > maxQueryPoints {
		return false
	}
	n := len(q.units) + 1
	size := q.size + conditionSize(u.tags)
	for k, have := range q.have {
		if !slices.ContainsFunc(u.tags, func(t tag) bool { return t.key == k }) {
			size += absentSize(k) * (n - have)
		} else {
			size += absentSize(k) * (n - have - 1)
		}
	}
	for _, t := range u.tags {
		if _, ok := q.have[t.key]; !ok {
			size += absentSize(t.key) * (n - 1)
		}
	}
	return size <= maxQueryBytes
}

func (q *query) add(u *unit) {
	q.units = append(q.units, u)
	q.has[u.key] = true
	q.size += conditionSize(u.tags)
	for _, t := range u.tags {
		q.have[t.key]++
	}
}

// prepare sets what the statement needs once its units are chosen.
func (q *query) prepare(lookback int64) {
	q.fields = strings.Split(q.units[0].fieldsKey, "\x00")
	for k := range q.have {
		q.keys = append(q.keys, k)
	}
	slices.Sort(q.keys)
	q.byKey = make(map[string]*unit, len(q.units))
	q.lo, q.hi = math.MaxInt64, math.MinInt64
	for _, u := range q.units {
		q.byKey[u.key] = u
		u.cols = make([]column, len(q.fields))
		for i := range u.entries {
			e := &u.entries[i]
			e.col, _ = slices.BinarySearch(q.fields, e.field)
			u.cols[e.col].entries++
			q.lo = min(q.lo, windowStart(e.start, lookback))
			q.hi = max(q.hi, e.start)
		}
	}
	q.have, q.has = nil, nil
}

// reset forgets what a failed attempt decoded.
func (q *query) reset() {
	for _, u := range q.units {
		for i := range u.cols {
			u.cols[i].points, u.cols[i].skips = u.cols[i].points[:0], u.cols[i].skips[:0]
		}
		u.cut = false
	}
}

// InfluxDB's time range: it rejects times beyond these.
const (
	minTime = math.MinInt64 + 2
	maxTime = math.MaxInt64 - 1
)

// windowStart is start-lookback, within InfluxDB's time range.
func windowStart(start, lookback int64) int64 {
	if start < minTime+lookback {
		return minTime
	}
	return min(start, maxTime) - lookback
}

// run answers q and delivers its series. A series whose stored series
// came back cut short by LIMIT, with fewer than max_points in its window
// from where the cut is on, may lack points the query did not reach: points
// newer than its Start (another series' window reaches further) or rows
// without its field took the places. It is read again in a query of its
// own window and field alone, which LIMIT cannot cut short: every row of
// a stored series there has the field, so the max_points newest of each
// are the newest of the window, and the union holds the newest of the series.
func (c *Client) run(ctx context.Context, measurement string, q *query, send func(int, *Result)) {
	if err := c.query(ctx, measurement, q); err != nil {
		for _, u := range q.units {
			for _, e := range u.entries {
				send(e.index, &Result{Err: err})
			}
		}
		return
	}
	// The series read again, one unit per window and field of an identity.
	var again []*unit //nolint:prealloc // usually none: only series that LIMIT cut short are read again
	type window struct {
		field string
		start int64
	}
	lookback, n := int64(c.cfg.Lookback), c.cfg.MaxPoints
	for _, u := range q.units {
		for i := range u.cols {
			u.cols[i].finish()
		}
		byWindow := make(map[window]*unit)
		for _, e := range u.entries {
			r, complete := u.result(&e, lookback, n, q.exact)
			if complete {
				send(e.index, r)
				continue
			}
			w := window{e.field, e.start}
			if byWindow[w] == nil {
				byWindow[w] = &unit{tags: u.tags}
			}
			byWindow[w].entries = append(byWindow[w].entries, entry{index: e.index, field: e.field, start: e.start})
		}
		for _, ru := range byWindow {
			again = append(again, newUnit(ru.tags, ru.entries))
		}
		u.cols = nil
	}
	for _, rq := range c.plan(again, 0, true) {
		c.run(ctx, measurement, rq, send)
	}
}

// finish sorts the column newest first (several stored series may have
// come back for it, each newest first) and drops repeated timestamps,
// keeping the first stored series' point.
func (c *column) finish() {
	newestFirst := func(a, b Point) int { return cmp.Compare(b.Time, a.Time) }
	if !slices.IsSortedFunc(c.points, newestFirst) {
		slices.SortStableFunc(c.points, newestFirst)
	}
	w := 0
	for _, p := range c.points {
		if w > 0 && c.points[w-1].Time == p.Time {
			c.skip(p.Time, skipDuplicate)
			continue
		}
		c.points[w] = p
		w++
	}
	c.points = c.points[:w]
}

// result returns e's history from its column, and whether it is complete
// (see run).
func (u *unit) result(e *entry, lookback int64, n int, exact bool) (*Result, bool) {
	c := &u.cols[e.col]
	lo := windowStart(e.start, lookback)
	p := c.points
	a := sort.Search(len(p), func(i int) bool { return p[i].Time < e.start })
	b := a + sort.Search(len(p)-a, func(i int) bool { return p[a+i].Time < lo })
	b = min(b, a+n)
	window := p[a:b:b]
	if !exact && u.cut && u.cutAt > lo && (len(window) < n || window[len(window)-1].Time < u.cutAt) {
		return nil, false
	}
	r := &Result{}
	oldest := lo
	if len(window) == n {
		oldest = window[n-1].Time
	}
	for _, s := range c.skips {
		if s.time < oldest || s.time >= e.start {
			continue
		}
		switch s.why {
		case skipOverflow:
			r.Overflow++
		case skipNotNumeric:
			r.NotNumeric++
		case skipDuplicate:
			r.Duplicates++
		}
	}
	switch {
	case len(window) == 0:
	case c.entries == 1:
		slices.Reverse(window)
		r.Points = window
	default:
		r.Points = make([]Point, len(window))
		for i, pt := range window {
			r.Points[len(window)-1-i] = pt
		}
	}
	return r, true
}

// query sends q to the urls, from the one that answered last on, until
// one answers it.
func (c *Client) query(ctx context.Context, measurement string, q *query) error {
	body := url.Values{
		"db":         {c.cfg.Database},
		"q":          {string(buildQuery(nil, c.cfg.RetentionPolicy, measurement, q))},
		"epoch":      {"ns"},
		"chunked":    {"true"},
		"chunk_size": {chunkSize},
	}.Encode()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return &Error{Reason: ReasonCanceled, Err: ctx.Err()}
	}
	defer func() { <-c.sem }()
	first := int(c.preferred.Load())
	var last *Error
	for a := range c.endpoints {
		i := (first + a) % len(c.endpoints)
		err := c.attempt(ctx, c.endpoints[i], body, q)
		if err == nil {
			c.preferred.Store(int32(i))
			c.queries.Add(1)
			if q.refetch {
				c.refetches.Add(1)
			}
			return nil
		}
		err.Attempts = a + 1
		last = err
		if err.Reason == ReasonCanceled {
			return last
		}
	}
	c.failed.Add(1)
	return last
}

// attempt sends q's statement to one url and decodes the answer into q.
func (c *Client) attempt(ctx context.Context, endpoint, body string, q *query) *Error {
	q.reset()
	actx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return &Error{Reason: ReasonConnection, URL: endpoint, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	if err := c.authorize(req); err != nil {
		return &Error{Reason: ReasonAuth, URL: endpoint, Message: "reading the credentials", Err: err}
	}
	sent := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return c.failure(ctx, actx, endpoint, err)
	}
	defer resp.Body.Close()
	answered := time.Now()
	c.wait.Add(int64(answered.Sub(sent)))
	if resp.StatusCode != http.StatusOK {
		reason := ReasonHTTPStatus
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			reason = ReasonAuth
		}
		return &Error{Reason: reason, URL: endpoint, Status: resp.StatusCode, Message: errorMessage(resp)}
	}
	d := newDecoder(resp.Body, q)
	err = d.decode()
	c.read.Add(int64(time.Since(answered)))
	c.bytes.Add(d.in.read)
	c.values.Add(d.values)
	if err != nil {
		return c.failure(ctx, actx, endpoint, err)
	}
	return nil
}

// authorize sets the request's credentials: a token as InfluxDB 2 and 3
// take it (their 1.x API too), else basic authentication, which every
// InfluxDB 1.x takes (1.x before 1.8 does not take the Token scheme).
func (c *Client) authorize(req *http.Request) error {
	if !c.cfg.Token.Empty() {
		token, err := c.cfg.Token.Get()
		if err != nil {
			return err
		}
		defer token.Destroy()
		req.Header.Set("Authorization", "Token "+token.String())
		return nil
	}
	if c.cfg.Username.Empty() {
		return nil
	}
	username, err := c.cfg.Username.Get()
	if err != nil {
		return err
	}
	defer username.Destroy()
	password, err := c.cfg.Password.Get()
	if err != nil {
		return err
	}
	defer password.Destroy()
	req.SetBasicAuth(username.String(), password.String())
	return nil
}

// failure classifies an error of sending a query or reading its answer.
func (c *Client) failure(ctx, actx context.Context, endpoint string, err error) *Error {
	e := &Error{URL: endpoint, Err: err}
	var syntax *syntaxError
	var statement *statementError
	switch {
	case ctx.Err() != nil:
		e.Reason = ReasonCanceled
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		e.Reason, e.Message = ReasonTimeout, "no complete answer within "+time.Duration(c.cfg.Timeout).String()
	case errors.As(err, &statement):
		e.Reason, e.Message, e.Err = ReasonQuery, statement.msg, nil
	case errors.As(err, &syntax):
		e.Reason, e.Message, e.Err = ReasonDecode, "not the JSON InfluxDB answers "+syntax.Error(), nil
	default:
		e.Reason = ReasonConnection
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			e.Err = urlErr.Err // the URL is said already
		}
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			e.Reason = ReasonTimeout
		}
	}
	return e
}

// errorMessage is what a failed answer says: InfluxDB's {"error": "..."},
// its X-Influxdb-Error header, or the start of the body.
func errorMessage(resp *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var answer struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &answer) == nil && answer.Error != "" {
		return answer.Error
	}
	if h := resp.Header.Get("X-Influxdb-Error"); h != "" {
		return h
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return text
}
