package history

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/toml"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		err    string // "" when valid
	}{
		{name: "the defaults with urls", change: func(*Config) {}},
		{name: "no urls", change: func(c *Config) { c.URLs = nil }, err: "urls is empty"},
		{name: "a url that is not http", change: func(c *Config) { c.URLs = []string{"udp://127.0.0.1:8089"} },
			err: `"udp://127.0.0.1:8089": want http://HOST:PORT or https://HOST:PORT`},
		{name: "a url without host", change: func(c *Config) { c.URLs = []string{"http://"} }, err: "want http://HOST:PORT"},
		{name: "credentials in a url", change: func(c *Config) { c.URLs = []string{"http://u:secret@db:8086"} },
			err: `"http://u:xxxxx@db:8086": credentials in a URL`},
		{name: "no database", change: func(c *Config) { c.Database = "" }, err: "database must not be empty"},
		{name: "username and password", change: func(c *Config) {
			c.Username, c.Password = config.NewSecret([]byte("u")), config.NewSecret([]byte("p"))
		}},
		{name: "a token", change: func(c *Config) { c.Token = config.NewSecret([]byte("t")) }},
		{name: "a username alone", change: func(c *Config) { c.Username = config.NewSecret([]byte("u")) }, err: "username and password go together"},
		{name: "a token and a username", change: func(c *Config) {
			c.Token, c.Username, c.Password = config.NewSecret([]byte("t")), config.NewSecret([]byte("u")), config.NewSecret([]byte("p"))
		}, err: "either token"},
		{name: "no lookback", change: func(c *Config) { c.Lookback = 0 }, err: "lookback = 0s: want a positive duration"},
		{name: "no max_points", change: func(c *Config) { c.MaxPoints = 0 }, err: "max_points = 0: want at least 1"},
		{name: "no timeout", change: func(c *Config) { c.Timeout = 0 }, err: "timeout = 0s"},
		{name: "max_wait 0 never holds", change: func(c *Config) { c.MaxWait = 0 }},
		{name: "a negative max_wait", change: func(c *Config) { c.MaxWait = -1 }, err: "max_wait = -1ns"},
		{name: "no max_held_metrics", change: func(c *Config) { c.MaxHeld = 0 }, err: "max_held_metrics = 0: want at least 1"},
		{name: "no concurrency", change: func(c *Config) { c.Concurrency = 0 }, err: "concurrency = 0: want at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConfig()
			c.URLs = []string{"http://127.0.0.1:8086"}
			tt.change(&c)
			err := c.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
			require.ErrorContains(t, err, "history: ")
		})
	}
}

func TestNewRefusesABadTLSConfiguration(t *testing.T) {
	c := NewConfig()
	c.URLs = []string{"https://127.0.0.1:8086"}
	c.TLSCA = "/nonexistent/ca.pem"
	_, err := New(&c, Identity{})
	require.ErrorContains(t, err, "/nonexistent/ca.pem")
}

// The sub-table reads as a Telegraf configuration writes it, keys the user
// leaves out keeping their defaults, and history is off without urls.
func TestConfigFromTOML(t *testing.T) {
	var plugin struct {
		History Config `toml:"history"`
	}
	plugin.History = NewConfig()
	require.False(t, plugin.History.Enabled())
	require.NoError(t, toml.Unmarshal([]byte(`
[history]
  urls = ["http://db1:8086", "http://db2:8086"]
  database = "metrics"
  retention_policy = "autogen"
  username = "reader"
  password = "pw"
  tls_ca = "/etc/ssl/ca.pem"
  insecure_skip_verify = true
  lookback = "72h"
  max_wait = "5s"
  max_held_metrics = 500
`), &plugin))
	h := plugin.History
	require.True(t, h.Enabled())
	require.NoError(t, h.Validate())
	require.Equal(t, []string{"http://db1:8086", "http://db2:8086"}, h.URLs)
	require.Equal(t, "metrics", h.Database)
	require.Equal(t, "autogen", h.RetentionPolicy)
	user, err := h.Username.Get()
	require.NoError(t, err)
	require.Equal(t, "reader", user.String())
	user.Destroy()
	require.True(t, h.Token.Empty())
	require.Equal(t, "/etc/ssl/ca.pem", h.TLSCA)
	require.True(t, h.InsecureSkipVerify)
	require.Equal(t, config.Duration(72*time.Hour), h.Lookback)
	require.Equal(t, config.Duration(5*time.Second), h.MaxWait)
	require.Equal(t, 500, h.MaxHeld)
	require.Equal(t, DefaultMaxPoints, h.MaxPoints)
	require.Equal(t, DefaultTimeout, h.Timeout)
	require.Equal(t, DefaultConcurrency, h.Concurrency)
}
