package history

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/common/tls"
)

// Config is the [processors.anomaly.history] sub-table: where the series'
// history is and how much of it to read. With no urls, history is off.
type Config struct {
	URLs            []string      `toml:"urls"`
	Database        string        `toml:"database"`
	RetentionPolicy string        `toml:"retention_policy"`
	Username        config.Secret `toml:"username"`
	Password        config.Secret `toml:"password"`
	Token           config.Secret `toml:"token"`
	tls.ClientConfig

	Lookback    config.Duration `toml:"lookback"`
	MaxPoints   int             `toml:"max_points"`
	Timeout     config.Duration `toml:"timeout"`
	MaxWait     config.Duration `toml:"max_wait"`
	MaxHeld     int             `toml:"max_held_metrics"`
	Concurrency int             `toml:"concurrency"`

	// DialContext, when set, opens the client's connections in place of
	// the network's: for tests that serve InfluxDB in process, in a
	// testing/synctest bubble (see historytest.Pipe). Not a setting.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error) `toml:"-"`
}

// Defaults of the keys a user leaves out. The database is the one
// outputs.influxdb writes by default.
const (
	DefaultDatabase  = "telegraf"
	DefaultLookback  = config.Duration(168 * time.Hour)
	DefaultMaxPoints = 10080 // a week at one point a minute
	DefaultTimeout   = config.Duration(30 * time.Second)
	DefaultMaxWait   = config.Duration(30 * time.Second)
	// DefaultMaxHeld bounds the metrics held at once, a few hundred bytes
	// each. Held metrics count against inputs.kafka_consumer's
	// max_undelivered_messages: keep it well under that (see the plugin README).
	DefaultMaxHeld     = 10000
	DefaultConcurrency = 2
)

// NewConfig returns the defaults, with no urls: history off until a user sets them.
func NewConfig() Config {
	return Config{
		Database:    DefaultDatabase,
		Lookback:    DefaultLookback,
		MaxPoints:   DefaultMaxPoints,
		Timeout:     DefaultTimeout,
		MaxWait:     DefaultMaxWait,
		MaxHeld:     DefaultMaxHeld,
		Concurrency: DefaultConcurrency,
	}
}

// Enabled reports whether history is configured: urls are set.
func (c *Config) Enabled() bool { return len(c.URLs) > 0 }

// Validate checks every key and says which one is wrong and why.
func (c *Config) Validate() error {
	if !c.Enabled() {
		return errors.New("history: urls is empty: set the InfluxDB HTTP API to read history from")
	}
	for _, u := range c.URLs {
		parsed, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("history: urls: %q: %w", u, err)
		}
		if parsed.Scheme != "http" && parsed.Scheme != "https" || parsed.Host == "" {
			return fmt.Errorf("history: urls: %q: want http://HOST:PORT or https://HOST:PORT", u)
		}
		if parsed.User != nil {
			return fmt.Errorf("history: urls: %q: credentials in a URL would be logged with every error: use username and password", parsed.Redacted())
		}
	}
	if c.Database == "" {
		return errors.New("history: database must not be empty")
	}
	if !c.Token.Empty() && (!c.Username.Empty() || !c.Password.Empty()) {
		return errors.New("history: set either token (InfluxDB 2 and 3) or username and password (InfluxDB 1), not both")
	}
	if c.Username.Empty() != c.Password.Empty() {
		return errors.New("history: username and password go together: set both or neither")
	}
	if c.Lookback <= 0 {
		return fmt.Errorf("history: lookback = %s: want a positive duration", time.Duration(c.Lookback))
	}
	if c.MaxPoints < 1 {
		return fmt.Errorf("history: max_points = %d: want at least 1", c.MaxPoints)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("history: timeout = %s: want a positive duration", time.Duration(c.Timeout))
	}
	if c.MaxWait < 0 {
		return fmt.Errorf("history: max_wait = %s: want 0 (never hold live points) or a positive duration", time.Duration(c.MaxWait))
	}
	if c.MaxHeld < 1 {
		return fmt.Errorf("history: max_held_metrics = %d: want at least 1 (max_wait = \"0s\" holds none)", c.MaxHeld)
	}
	if c.Concurrency < 1 {
		return fmt.Errorf("history: concurrency = %d: want at least 1", c.Concurrency)
	}
	return nil
}
