package history

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

// answer is a handler that writes status and body, as a faulty server would.
func answer(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// someRows is the first chunk of a good answer.
const someRows = `{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","v"],` +
	`"values":[[20,2],[10,1]],"partial":true}],"partial":true}]}` + "\n"

func TestFetchFaults(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		cancel  bool             // the caller's context is done before Fetch
		reason  Reason
		status  int
		message string // in the error's text
	}{
		{name: "InfluxDB down", reason: ReasonConnection, message: "connection refused"},
		{
			name: "no answer within timeout",
			handler: func(_ http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm() // a server notices a client gone only once it has read the request
				<-r.Context().Done()
			},
			reason:  ReasonTimeout,
			message: "no complete answer within 200ms",
		},
		{
			name: "an answer that stalls after its first chunk",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(someRows))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			reason: ReasonTimeout,
		},
		{
			name:    "credentials refused (InfluxDB 1.x)",
			handler: answer(401, `{"error":"authorization failed"}`),
			reason:  ReasonAuth, status: 401, message: "authorization failed",
		},
		{
			name: "no permission to read the database",
			handler: answer(403, `{"error":"error authorizing query: reader not authorized to execute statement 'SELECT ...', requires READ on telegraf"}`,
				"X-Influxdb-Error", "error authorizing query"),
			reason: ReasonAuth, status: 403, message: "requires READ on telegraf",
		},
		{
			name:    "a statement InfluxDB cannot parse",
			handler: answer(400, "", "X-Influxdb-Error", "error parsing query: found EOF, expected SELECT"),
			reason:  ReasonHTTPStatus, status: 400, message: "error parsing query: found EOF",
		},
		{
			name:    "a server error",
			handler: answer(500, `{"error":"timeout"}`),
			reason:  ReasonHTTPStatus, status: 500, message: ": timeout",
		},
		{
			name:    "a proxy's error page",
			handler: answer(502, "<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>"),
			reason:  ReasonHTTPStatus, status: 502, message: "<h1>502 Bad Gateway</h1>",
		},
		{
			name:    "the database does not exist",
			handler: answer(200, `{"results":[{"statement_id":0,"error":"database not found: telegraf"}]}`),
			reason:  ReasonQuery, message: "database not found: telegraf",
		},
		{
			name:    "an error for the whole request in a 200 answer",
			handler: answer(200, `{"error":"missing required parameter \"q\""}`),
			reason:  ReasonQuery, message: `missing required parameter "q"`,
		},
		{
			name:    "an error in a later chunk",
			handler: answer(200, someRows+`{"results":[{"statement_id":0,"error":"max-select-point limit exceeed: (10001/10000)"}]}`),
			reason:  ReasonQuery, message: "max-select-point limit exceeed",
		},
		{
			name:    "malformed JSON",
			handler: answer(200, `{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[10,1,]]}]}]}`),
			reason:  ReasonDecode, message: "invalid character ']' looking for beginning of value",
		},
		{
			name:    "results that are not a list",
			handler: answer(200, `{"results":{"statement_id":0}}`),
			reason:  ReasonDecode, message: `want '[', found '{'`,
		},
		{
			name:    "a page that is not JSON",
			handler: answer(200, "<html>maintenance</html>"),
			reason:  ReasonDecode, message: "invalid character '<' looking for beginning of value",
		},
		{
			name:    "an answer cut in the middle of an object",
			handler: answer(200, someRows[:len(someRows)-40]),
			reason:  ReasonDecode, message: "the response ends early",
		},
		{
			name:    "a chunked answer that ends after a partial chunk",
			handler: answer(200, someRows),
			reason:  ReasonDecode, message: "ends after a partial chunk",
		},
		{
			name: "a connection that breaks mid-answer",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "100000")
				_, _ = w.Write([]byte(someRows))
				w.(http.Flusher).Flush()
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			reason: ReasonConnection, message: "unexpected EOF",
		},
		{
			name: "times that are not nanoseconds since the epoch",
			handler: answer(200, `{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","v"],`+
				`"values":[["1970-01-01T00:00:00.00000001Z",1]]}]}]}`),
			reason: ReasonDecode, message: "a time that is not an integer",
		},
		{
			name:    "the caller stops waiting",
			handler: answer(200, `{"results":[{"statement_id":0}]}`),
			cancel:  true,
			reason:  ReasonCanceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			if tt.handler == nil {
				srv.Close()
			} else {
				t.Cleanup(srv.Close)
			}
			cfg := testConfig(srv.URL)
			cfg.Timeout = config.Duration(200 * time.Millisecond)
			c, err := New(cfg, Identity{AnomalyTag: "anomaly"})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			series := []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}, {Tags: tags("host", "b"), Field: "v", Start: 100}}
			delivered := 0
			t0 := time.Now()
			c.Fetch(ctx, "m", series, func(_ int, r *Result) {
				delivered++
				require.Empty(t, r.Points)
				var e *Error
				require.ErrorAs(t, r.Err, &e)
				require.Equal(t, tt.reason, e.Reason, "%v", e)
				require.Equal(t, tt.status, e.Status)
				require.Contains(t, e.Error(), tt.message)
				if tt.reason != ReasonCanceled {
					require.Contains(t, e.Error(), srv.URL+"/query")
				}
			})
			require.Equal(t, len(series), delivered)
			require.Less(t, time.Since(t0), 2*time.Second)
			if tt.reason != ReasonCanceled {
				require.Equal(t, int64(1), c.Stats().Failed)
			}
		})
	}
}

// counting serves handler and counts its requests.
type counting struct {
	*httptest.Server
	requests atomic.Int32
}

func newCounting(t *testing.T, handler http.Handler) *counting {
	c := &counting{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func TestFetchTriesTheNextURL(t *testing.T) {
	failing := newCounting(t, answer(503, `{"error":"starting up"}`))
	f := historytest.New(t)
	f.Add(pt("m", tags("host", "a"), 10, v(1.0)))
	good := newCounting(t, f.Config.Handler)
	c, err := New(testConfig(failing.URL, good.URL), Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	series := []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}}

	got := fetch(t, c, "m", series)
	require.Equal(t, []*Result{{Points: points(10, 1)}}, got)
	require.Equal(t, int32(1), failing.requests.Load())
	require.Equal(t, int32(1), good.requests.Load())

	// The url that answered is asked first from then on.
	got = fetch(t, c, "m", series)
	require.Equal(t, []*Result{{Points: points(10, 1)}}, got)
	require.Equal(t, int32(1), failing.requests.Load())
	require.Equal(t, int32(2), good.requests.Load())
}

func TestFetchFailsWhenEveryURLFails(t *testing.T) {
	failing := newCounting(t, answer(503, `{"error":"starting up"}`))
	down := httptest.NewServer(nil)
	down.Close()
	c, err := New(testConfig(failing.URL, down.URL), Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	got := fetch(t, c, "m", []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}})
	var e *Error
	require.ErrorAs(t, got[0].Err, &e)
	require.Equal(t, ReasonConnection, e.Reason)
	require.Equal(t, 2, e.Attempts)
	require.Equal(t, down.URL+"/query", e.URL)
	require.Contains(t, e.Error(), "(the last of 2 urls tried)")
}

func TestFetchStopsWaitingForAQueryWhenCanceled(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := testConfig(srv.URL)
	cfg.Concurrency = 1
	c, err := New(cfg, Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	// Two queries (starts minutes apart): the second waits for the first's turn.
	series := []Series{
		{Tags: tags("host", "a"), Field: "v", Start: 100},
		{Tags: tags("host", "a"), Field: "v", Start: 100 + int64(time.Hour)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	var reasons []Reason
	c.Fetch(ctx, "m", series, func(_ int, r *Result) {
		var e *Error
		require.ErrorAs(t, r.Err, &e)
		reasons = append(reasons, e.Reason)
	})
	require.Less(t, time.Since(t0), 2*time.Second)
	require.Equal(t, []Reason{ReasonCanceled, ReasonCanceled}, reasons)
}

func TestFetchSendsTheQueryAsInfluxDBWantsIt(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*Config)
		auth      string // the Authorization header
	}{
		{name: "no credentials", configure: func(*Config) {}},
		{
			name: "username and password, as basic authentication (every InfluxDB 1.x)",
			configure: func(c *Config) {
				c.Username, c.Password = config.NewSecret([]byte("reader")), config.NewSecret([]byte("pw"))
			},
			auth: "Basic cmVhZGVyOnB3",
		},
		{
			name:      "a token (InfluxDB 2 and 3)",
			configure: func(c *Config) { c.Token = config.NewSecret([]byte("s3cr3t")) },
			auth:      "Token s3cr3t",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := historytest.New(t)
			cfg := testConfig(f.URL)
			cfg.Database, cfg.RetentionPolicy = "metrics", "one week"
			tt.configure(cfg)
			c, err := New(cfg, Identity{AnomalyTag: "anomaly"})
			require.NoError(t, err)
			fetch(t, c, "cpu", []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}})
			require.Len(t, f.Forms(), 1)
			form := f.Forms()[0]
			require.Equal(t, "metrics", form["db"])
			require.Equal(t, "ns", form["epoch"])
			require.Equal(t, "true", form["chunked"])
			require.True(t, strings.HasPrefix(form["q"], `SELECT "v" FROM "one week"."cpu" WHERE`), form["q"])
			require.Equal(t, tt.auth, f.Headers()[0].Get("Authorization"))
			require.Empty(t, form["u"]+form["p"], "credentials in the form end up in logs")
		})
	}
}
