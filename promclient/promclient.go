// Package promclient asks PromQL questions of any Prometheus HTTP API
// (the embedded store, Prometheus, AMP, Mimir, Thanos) or, in-process, of
// the embedded store's engine. Callers can't tell which.
package promclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/meshlens/meshlens/endpoint"
)

// Querier answers instant PromQL queries with a vector.
type Querier interface {
	// Query evaluates q at ts and returns its vector.
	Query(ctx context.Context, q string, ts time.Time) (Vector, error)
	// ScrapeInterval is the interval at which the data behind the querier
	// was scraped, or 0 when unknown.
	ScrapeInterval(ctx context.Context) (time.Duration, error)
	// LabelValues are the values label name has on any series between
	// start and end: a read of the index, much cheaper than a query.
	LabelValues(ctx context.Context, name string, start, end time.Time) ([]string, error)
}

// ErrUnavailable wraps errors from a Prometheus that could not be reached
// or did not answer in time; the console maps it to 503.
var ErrUnavailable = errors.New("prometheus unavailable")

// ErrBadQuery wraps errors Prometheus gave for the query itself.
var ErrBadQuery = errors.New("prometheus rejected the query")

// HTTP queries a Prometheus HTTP API.
type HTTP struct {
	// shown is the server's URL as messages show it: without a password.
	shown  string
	client api.Client
	api    promv1.API
	// http sends queries itself, so that answers are decoded as they
	// arrive rather than read whole first.
	http    *http.Client
	timeout time.Duration
	// interval, when set, overrides what the server's config says.
	interval time.Duration

	// The interval read from the server: once read, kept; when the server
	// does not serve its config, asked again after intervalRetry.
	mu        sync.Mutex
	read      time.Duration
	readErr   error
	readAt    time.Time
	readRetry time.Duration

	// samples, when set, adds up the samples each query read, as the
	// server reports them (stats=all).
	samples *atomic.Int64
}

// DefaultScrapeInterval is assumed when neither the configuration nor the
// store says the scrape interval (Prometheus's default is 1m, Istio's
// Prometheus and meshlens scrape every 15s).
const DefaultScrapeInterval = 15 * time.Second

// ErrIntervalAssumed is wrapped by ScrapeInterval's error when it answers
// DefaultScrapeInterval because the store did not say its interval; the
// interval it returns is usable, and the caller should say it was assumed.
var ErrIntervalAssumed = errors.New("the store does not serve its scrape interval")

// HTTPOptions configure an HTTP querier.
type HTTPOptions struct {
	URL string
	// RoundTripper adds auth (bearer, basic, SigV4) and TLS; default http.DefaultTransport.
	RoundTripper http.RoundTripper
	// Timeout bounds each query. Default 30s.
	Timeout time.Duration
	// ScrapeInterval, when known from configuration (Kiali's
	// thanos_proxy.scrape_interval), saves asking the server.
	ScrapeInterval time.Duration
}

// NewHTTP builds a querier for the Prometheus API at o.URL.
func NewHTTP(o HTTPOptions) (*HTTP, error) {
	u, err := endpoint.Parse("prometheus url", o.URL)
	if err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.RoundTripper == nil && onThisMachine(u) {
		o.RoundTripper = uncompressed
	}
	c, err := api.NewClient(api.Config{Address: o.URL, RoundTripper: o.RoundTripper})
	if err != nil {
		return nil, fmt.Errorf("prometheus url %q: %w", u.Redacted(), err)
	}
	rt := o.RoundTripper
	if rt == nil {
		rt = api.DefaultRoundTripper
	}
	return &HTTP{shown: u.Redacted(), client: c, api: promv1.NewAPI(c), http: &http.Client{Transport: rt}, timeout: o.Timeout, interval: o.ScrapeInterval, readRetry: time.Minute}, nil
}

// URL is the server's URL as messages may show it: a password in it is
// replaced by "xxxxx".
func (h *HTTP) URL() string { return h.shown }

// uncompressed asks for answers as they are: over loopback, gzip costs
// both ends CPU (a fifth of a large graph's) and saves nothing.
var uncompressed http.RoundTripper = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	return t
}()

// onThisMachine tells whether u names a loopback host.
func onThisMachine(u *url.URL) bool {
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// SampleCounter makes queriers of the same data that count what their
// queries read: the cost a store like AMP bills for.
type SampleCounter interface {
	// CountingSamples is a querier of the same data that adds to n the
	// samples each of its instant queries reads.
	CountingSamples(n *atomic.Int64) RangeQuerier
}

// CountingSamples implements SampleCounter with what the server reports
// (Prometheus's stats=all; a server that does not report them adds none).
func (h *HTTP) CountingSamples(n *atomic.Int64) RangeQuerier {
	return &HTTP{client: h.client, api: h.api, http: h.http, timeout: h.timeout, interval: h.interval, readRetry: h.readRetry, samples: n}
}

// Query implements Querier. It decodes the answer in one pass, as it
// arrives: client_golang's API client reads every answer whole and decodes
// it twice, which was two thirds of a large graph's time and memory.
func (h *HTTP) Query(ctx context.Context, q string, ts time.Time) (Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	form := url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', -1, 64)}}
	if h.samples != nil {
		form.Set("stats", "all")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.client.URL("/api/v1/query", nil).String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	a, err := decodeAnswer(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: answer (HTTP %d) is not the Prometheus API's: %v", ErrUnavailable, resp.StatusCode, err)
	}
	if a.status != "success" {
		if a.errorType == string(promv1.ErrBadData) || a.errorType == string(promv1.ErrExec) {
			return nil, fmt.Errorf("%w: %s: %s", ErrBadQuery, a.errorType, a.errorText)
		}
		return nil, fmt.Errorf("%w: HTTP %d: %s %s", ErrUnavailable, resp.StatusCode, a.errorType, a.errorText)
	}
	if a.resultType != "vector" {
		return nil, fmt.Errorf("%w: query answered a %s, not a vector", ErrBadQuery, a.resultType)
	}
	if h.samples != nil {
		h.samples.Add(a.samples)
	}
	return a.vector, nil
}

// LabelValues implements Querier.
func (h *HTTP) LabelValues(ctx context.Context, name string, start, end time.Time) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	vals, _, _, err := h.api.LabelValues(ctx, name, nil, start, end)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out, nil
}

// LabelNames are the label names of any series between start and end.
func (h *HTTP) LabelNames(ctx context.Context, start, end time.Time) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	names, _, _, err := h.api.LabelNames(ctx, nil, start, end)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return out, nil
}

func classify(err error) error {
	var apiErr *promv1.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Type {
		case promv1.ErrBadData, promv1.ErrExec:
			return fmt.Errorf("%w: %w", ErrBadQuery, err)
		}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// ScrapeInterval is the configured interval or, when none was configured,
// the smallest interval of the server's /api/v1/status/config, read once.
// Servers that do not serve their config (AMP, Mimir) or serve one without
// an interval get DefaultScrapeInterval with an error wrapping
// ErrIntervalAssumed, and are asked again a minute later.
func (h *HTTP) ScrapeInterval(ctx context.Context) (time.Duration, error) {
	if h.interval > 0 {
		return h.interval, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.read > 0 {
		return h.read, nil
	}
	if h.readErr != nil && time.Since(h.readAt) < h.readRetry {
		return DefaultScrapeInterval, h.readErr
	}
	d, err := h.readInterval(ctx)
	if err == nil && d <= 0 {
		err = errors.New("its configuration sets no scrape_interval")
	}
	if err != nil {
		h.readErr, h.readAt = fmt.Errorf("%w (%w); assumed %s", ErrIntervalAssumed, err, model.Duration(DefaultScrapeInterval)), time.Now()
		return DefaultScrapeInterval, h.readErr
	}
	h.read = d
	return d, nil
}

func (h *HTTP) readInterval(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	cfg, err := h.api.Config(ctx)
	if err != nil {
		return 0, classify(err)
	}
	return ScrapeIntervalOf(cfg.YAML)
}

// ScrapeIntervalOf reads the smallest scrape interval of a Prometheus
// configuration: the global one, or a job's if shorter.
func ScrapeIntervalOf(yml string) (time.Duration, error) {
	var cfg struct {
		Global struct {
			ScrapeInterval model.Duration `yaml:"scrape_interval"`
		} `yaml:"global"`
		ScrapeConfigs []struct {
			ScrapeInterval model.Duration `yaml:"scrape_interval"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(yml), &cfg); err != nil {
		return 0, fmt.Errorf("reading the scrape interval from the config: %w", err)
	}
	d := time.Duration(cfg.Global.ScrapeInterval)
	for _, sc := range cfg.ScrapeConfigs {
		if i := time.Duration(sc.ScrapeInterval); i > 0 && (d == 0 || i < d) {
			d = i
		}
	}
	return d, nil
}

// Window is the rate window for asked: never shorter than two scrape
// intervals, where a rate would have too few samples. It also returns the
// scrape interval and, for the answer's warnings, what it assumed or
// widened.
func Window(ctx context.Context, q Querier, asked time.Duration) (window, interval time.Duration, warnings []string, err error) {
	interval, err = q.ScrapeInterval(ctx)
	switch {
	case errors.Is(err, ErrIntervalAssumed):
		warnings = append(warnings, fmt.Sprintf("%v; set it with --prometheus.scrape-interval or thanos_proxy.scrape_interval in the config file", err))
	case err != nil:
		return 0, 0, nil, err
	case interval <= 0:
		interval = DefaultScrapeInterval
		warnings = append(warnings, fmt.Sprintf("the scrape interval is unknown; assumed %s", model.Duration(interval)))
	}
	if min := 2 * interval; asked < min {
		warnings = append(warnings, fmt.Sprintf("duration %s is shorter than twice the scrape interval (%s); rates are computed over %s",
			model.Duration(asked), model.Duration(interval), model.Duration(min)))
		return min, interval, warnings, nil
	}
	return asked.Truncate(time.Second), interval, warnings, nil
}
