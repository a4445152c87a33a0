package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// alertsPath is where Alertmanager's API v2 takes alerts, below each of urls.
const alertsPath = "/api/v2/alerts"

// maxAlertsPerPost bounds a POST's body (about 1 kB an alert) when many
// incidents are re-sent at once.
const maxAlertsPerPost = 500

// userAgent names the output in Alertmanager's access logs and proxies.
const userAgent = "Telegraf outputs.alertmanager"

// maxBodyInError is how much of an error answer's body an error message quotes.
const maxBodyInError = 256

// endpoint is one Alertmanager.
type endpoint struct {
	url  string // where alerts are POSTed
	name string // url with any password masked, for logs and errors
	// failing is true from a failed POST to the next that succeeds, so that
	// an outage is logged when it starts and when it ends, not at each retry.
	failing bool
}

func parseEndpoint(raw string) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("urls: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("urls: %q is not an http:// or https:// URL with a host", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + alertsPath
	return &endpoint{url: u.String(), name: u.Redacted()}, nil
}

// postAll sends alerts[i] to endpoint i, for every endpoint at once, and
// returns for each how many of its alerts were taken (the alerts are sent in
// order, in POSTs of at most maxAlertsPerPost, and a failed POST ends that
// endpoint's turn) and why it stopped, if it did.
func (a *Alertmanager) postAll(ctx context.Context, alerts [][]alert) ([]int, []error) {
	taken := make([]int, len(a.endpoints))
	errs := make([]error, len(a.endpoints))
	var wg sync.WaitGroup
	for i, ep := range a.endpoints {
		if len(alerts[i]) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < len(alerts[i]); start += maxAlertsPerPost {
				chunk := alerts[i][start:min(start+maxAlertsPerPost, len(alerts[i]))]
				if errs[i] = a.post(ctx, ep, chunk); errs[i] != nil {
					return
				}
				taken[i] += len(chunk)
			}
		}()
	}
	wg.Wait()
	for i, ep := range a.endpoints {
		a.noteOutcome(ep, taken[i], errs[i])
	}
	return taken, errs
}

// noteOutcome counts a turn's alerts and errors and logs an endpoint's
// outage when it starts and when it ends.
func (a *Alertmanager) noteOutcome(ep *endpoint, taken int, err error) {
	a.stats.alertsSent.Incr(int64(taken))
	if errors.Is(err, context.Canceled) {
		return // Close cut the re-send short after timeout: not a problem of the endpoint
	}
	if err == nil {
		if ep.failing && taken > 0 {
			ep.failing = false
			a.Log.Infof("Alertmanager %s takes alerts again", ep.name)
		}
		return
	}
	a.stats.sendErrors.Incr(1)
	if !ep.failing {
		ep.failing = true
		a.Log.Errorf("%v (kept and re-sent every %s until it answers)", err, time.Duration(a.ResendInterval))
		return
	}
	a.Log.Debugf("still failing: %v", err)
}

// post sends alerts in one POST. Alertmanager answers 400 Bad Request when
// some alerts are invalid, after it has stored the valid ones: sending the
// invalid ones again would fail again, so 400 counts as taken, and is
// logged once per distinct answer.
func (a *Alertmanager) post(ctx context.Context, ep *endpoint, alerts []alert) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // a generatorURL's & stays readable in captures
	if err := enc.Encode(alerts); err != nil {
		// Only strings, string maps and times: cannot happen.
		return fmt.Errorf("encoding alerts for %s: %w", ep.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, &body)
	if err != nil {
		return fmt.Errorf("POST %s: %w", ep.name, err) //nolint:revive // POST is the HTTP method, named as it is sent
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if err := a.authorize(req); err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // it repeats the URL, unmasked
		}
		return fmt.Errorf("POST %s: %w", ep.name, err) //nolint:revive // POST is the HTTP method, named as it is sent
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyInError))
	_, _ = io.Copy(io.Discard, resp.Body) // lets the connection be reused
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusBadRequest:
		a.logOncef("400 "+string(answer), a.Log.Errorf,
			"POST %s: HTTP %s: %q: Alertmanager kept the valid alerts of the POST and refused the others; those are not sent again",
			ep.name, resp.Status, answer)
		return nil
	}
	return fmt.Errorf("POST %s: HTTP %s: %q", ep.name, resp.Status, answer) //nolint:revive // POST is the HTTP method, named as it is sent
}

// authorize sets basic auth or the bearer token, read from their secrets
// for each request (a secret store may rotate them).
func (a *Alertmanager) authorize(req *http.Request) error {
	if !a.Token.Empty() {
		token, err := a.Token.Get()
		if err != nil {
			return fmt.Errorf("reading token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token.String())
		token.Destroy()
		return nil
	}
	if a.Username.Empty() {
		return nil
	}
	user, err := a.Username.Get()
	if err != nil {
		return fmt.Errorf("reading username: %w", err)
	}
	defer user.Destroy()
	pass, err := a.Password.Get()
	if err != nil {
		return fmt.Errorf("reading password: %w", err)
	}
	defer pass.Destroy()
	req.SetBasicAuth(user.String(), pass.String())
	return nil
}
