// Package cardinality measures what a Prometheus holds — its active series
// per metric and per label — what each of the collector's thinning presets
// would leave of it, and what its samples cost to ingest into Amazon
// Managed Service for Prometheus before and after.
package cardinality

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"golang.org/x/sync/errgroup"

	"github.com/meshlens/meshlens/collect"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic"
)

// Source is a Prometheus to measure.
type Source interface {
	Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error)
	promclient.LabelNamer
}

// Options say what to measure.
type Options struct {
	// At is when; default two scrape intervals ago (see Measure). Active
	// series are those with a sample in the five minutes before (PromQL's
	// lookback).
	At time.Time
	// ScrapeInterval turns series into samples per second.
	ScrapeInterval time.Duration
	// Top is how many metrics and labels to list. Default 10.
	Top    int
	Prices Prices
	// Graph, when its Every is set, is a graph refresh whose query
	// samples were counted (by the caller, which builds the graph).
	Graph GraphRefresh
}

// GraphRefresh is what the console's graph costs in query samples while
// one tab keeps it open.
type GraphRefresh struct {
	Namespaces []string `json:"namespaces"`
	// Duration is the graph's window, Every its refresh interval.
	Duration string `json:"duration"`
	Every    string `json:"every"`
	// SamplesPerRefresh are the samples its queries read, as the store
	// reports them; 0 when it does not.
	SamplesPerRefresh int64   `json:"samplesPerRefresh"`
	SamplesPerMonth   float64 `json:"samplesPerMonth"`
	MonthlyUSD        float64 `json:"monthlyUSD"`
	// every is Every as a duration.
	every time.Duration
}

// NewGraphRefresh describes a graph of namespaces over duration refreshed
// every interval, whose one refresh read samples.
func NewGraphRefresh(namespaces []string, duration, every time.Duration, samples int64) GraphRefresh {
	return GraphRefresh{Namespaces: namespaces, Duration: model.Duration(duration).String(), Every: model.Duration(every).String(),
		SamplesPerRefresh: samples, every: every}
}

// MeasureGraph builds, once, the graph page's default graph (versioned
// apps of every namespace with Istio telemetry over duration) and counts
// the samples its queries read; every is how often a tab refreshes it.
func MeasureGraph(ctx context.Context, q promclient.SampleCounter, lv traffic.LabelValuer, duration, every time.Duration) (GraphRefresh, error) {
	end := time.Now()
	namespaces, err := traffic.Namespaces(ctx, lv, end.Add(-time.Hour), end)
	if err != nil {
		return GraphRefresh{}, err
	}
	var samples atomic.Int64
	if len(namespaces) > 0 {
		o := graph.Options{Namespaces: namespaces, Type: graph.TypeVersionedApp, Duration: duration, ResponseTime: "95", Throughput: "request", InjectServiceNodes: true}
		if _, err := graph.NewBuilder(q.CountingSamples(&samples), nil).Build(ctx, o); err != nil {
			return GraphRefresh{}, err
		}
	}
	return NewGraphRefresh(namespaces, duration, every, samples.Load()), nil
}

// Count is a metric's or a label's share.
type Count struct {
	Name string `json:"name"`
	// Series holding it.
	Series int `json:"series"`
	// Values is a label's distinct values.
	Values int `json:"values,omitempty"`
}

// Preset is what a thinning preset leaves.
type Preset struct {
	Name             string  `json:"name"`
	Series           int     `json:"series"`
	SamplesPerSecond float64 `json:"samplesPerSecond"`
	SamplesPerMonth  float64 `json:"samplesPerMonth"`
	MonthlyUSD       float64 `json:"monthlyUSD"`
	// DroppedLabels are the label names present that it drops.
	DroppedLabels []string `json:"droppedLabels,omitempty"`
}

// Report is a measurement.
type Report struct {
	At             time.Time `json:"at"`
	ScrapeInterval string    `json:"scrapeInterval"`
	Series         int       `json:"series"`
	Metrics        []Count   `json:"metrics"`
	Labels         []Count   `json:"labels"`
	// Presets are none (all), kiali and kiali-strict.
	Presets []Preset `json:"presets"`
	// Graph is the console's graph's query cost, when it was measured.
	Graph  *GraphRefresh `json:"graph,omitempty"`
	Prices Prices        `json:"prices"`
}

// Measure measures src.
func Measure(ctx context.Context, src Source, o Options) (*Report, error) {
	if o.ScrapeInterval <= 0 {
		return nil, fmt.Errorf("the scrape interval is needed to count samples")
	}
	if o.At.IsZero() {
		// The report is several queries at one time; what a store writes
		// about that time arrives for up to a scrape (a target's samples)
		// or a rule evaluation after it. Two intervals back, everything
		// is in, and every query counts the same series: at "now", the
		// preset that drops nothing once counted 74 series more than the
		// total, written between the two queries (most likely a rule
		// group's first evaluation).
		o.At = time.Now().Add(-2 * o.ScrapeInterval)
	}
	if o.Top <= 0 {
		o.Top = 10
	}
	if len(o.Prices.Tiers) == 0 {
		o.Prices = AMPPrices
	}
	r := &Report{At: o.At, ScrapeInterval: model.Duration(o.ScrapeInterval).String(), Prices: o.Prices}
	perMetric, err := src.Query(ctx, `count by (__name__) ({__name__=~".+"})`, o.At)
	if err != nil {
		return nil, err
	}
	for _, s := range perMetric {
		r.Metrics = append(r.Metrics, Count{Name: s.Metric.Get(model.MetricNameLabel), Series: int(s.Value)})
		r.Series += int(s.Value)
	}
	names, err := src.LabelNames(ctx, o.At.Add(-5*time.Minute), o.At)
	if err != nil {
		return nil, err
	}
	// Names PromQL would have to quote (which Prometheus 2 cannot) are left out.
	names = slices.DeleteFunc(names, func(n string) bool { return n == model.MetricNameLabel || !legacyName.MatchString(n) })
	if r.Labels, err = labelCounts(ctx, src, names, o.At); err != nil {
		return nil, err
	}
	for _, t := range collect.Thinnings {
		p, err := preset(ctx, src, t, names, o)
		if err != nil {
			return nil, fmt.Errorf("thinning %s: %w", t, err)
		}
		r.Presets = append(r.Presets, p)
	}
	if g := o.Graph; g.every > 0 && len(g.Namespaces) > 0 { // no namespace with telemetry, no graph to price
		g.SamplesPerMonth = float64(g.SamplesPerRefresh) * secondsPerMonth / g.every.Seconds()
		g.MonthlyUSD = g.SamplesPerMonth / 1e9 * o.Prices.QueryUSDPerBillion
		r.Graph = &g
	}
	// Most first; ties by name, so that the same store gives the same list.
	slices.SortFunc(r.Metrics, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Series, a.Series), cmp.Compare(a.Name, b.Name)) })
	r.Metrics = r.Metrics[:min(o.Top, len(r.Metrics))]
	slices.SortFunc(r.Labels, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Values, a.Values), cmp.Compare(b.Series, a.Series), cmp.Compare(a.Name, b.Name))
	})
	r.Labels = r.Labels[:min(o.Top, len(r.Labels))]
	return r, nil
}

// labelCounts counts, for every label, the series holding it and its
// distinct values, four labels at a time.
func labelCounts(ctx context.Context, src Source, names []string, at time.Time) ([]Count, error) {
	counts := make([]Count, len(names))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, n := range names {
		g.Go(func() error {
			has := selector(labels.MustNewMatcher(labels.MatchNotEqual, n, ""))
			series, err := scalar(ctx, src, "count("+has+")", at)
			if err != nil {
				return err
			}
			values, err := scalar(ctx, src, "count(group by ("+n+") ("+has+"))", at)
			if err != nil {
				return err
			}
			counts[i] = Count{Name: n, Series: int(series), Values: int(values)}
			return nil
		})
	}
	return counts, g.Wait()
}

// preset counts the series t leaves: none of the metrics it drops, and
// the others with its labels dropped, counted once where that makes two
// series one (as count without does).
func preset(ctx context.Context, src Source, t collect.Thinning, names []string, o Options) (Preset, error) {
	p := Preset{Name: string(t)}
	matchers := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")}
	for _, rc := range t.RelabelConfigs() {
		switch rc.Action {
		case relabel.Drop:
			matchers = append(matchers, labels.MustNewMatcher(labels.MatchNotRegexp, model.MetricNameLabel, rc.Regex.String()))
		case relabel.LabelDrop:
			for _, n := range names {
				if rc.Regex.MatchString(n) && !slices.Contains(p.DroppedLabels, n) {
					p.DroppedLabels = append(p.DroppedLabels, n)
				}
			}
		}
	}
	sort.Strings(p.DroppedLabels)
	// Aggregations drop the metric name: keep it in a label of its own.
	const name = "meshlens_metric_name"
	q := fmt.Sprintf(`count(count without (%s) (label_replace(%s, %q, "$1", "__name__", "(.+)")))`,
		strings.Join(p.DroppedLabels, ", "), selector(matchers...), name)
	series, err := scalar(ctx, src, q, o.At)
	if err != nil {
		return p, err
	}
	p.Series = int(series)
	p.SamplesPerSecond = series / o.ScrapeInterval.Seconds()
	p.SamplesPerMonth = p.SamplesPerSecond * secondsPerMonth
	p.MonthlyUSD = o.Prices.Cost(p.SamplesPerMonth)
	return p, nil
}

var legacyName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// selector renders matchers as a PromQL selector.
func selector(ms ...*labels.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// secondsPerMonth is AWS's billing month, 730 hours.
const secondsPerMonth = 730 * 3600

func scalar(ctx context.Context, src Source, q string, at time.Time) (float64, error) {
	v, err := src.Query(ctx, q, at)
	if err != nil {
		return 0, err
	}
	if len(v) == 0 {
		return 0, nil
	}
	return v[0].Value, nil
}

// Tier is a price band: samples up to UpTo in a month (cumulative) cost
// USDPer10M for every ten million.
type Tier struct {
	UpTo      float64 `json:"upTo"`
	USDPer10M float64 `json:"usdPer10M"`
}

// tierJSON is a Tier in JSON, where the last band's unbounded top is null.
type tierJSON struct {
	UpTo      *float64 `json:"upTo"`
	USDPer10M float64  `json:"usdPer10M"`
}

// MarshalJSON writes an unbounded band's top as null (JSON has no infinity).
func (t Tier) MarshalJSON() ([]byte, error) {
	j := tierJSON{USDPer10M: t.USDPer10M}
	if !math.IsInf(t.UpTo, 1) {
		j.UpTo = &t.UpTo
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *Tier) UnmarshalJSON(b []byte) error {
	var j tierJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t.USDPer10M, t.UpTo = j.USDPer10M, math.Inf(1)
	if j.UpTo != nil {
		t.UpTo = *j.UpTo
	}
	return nil
}

// Prices are ingestion price bands and the price of query samples, with
// the date they were read.
type Prices struct {
	Date  string `json:"date"`
	Tiers []Tier `json:"tiers"`
	// QueryUSDPerBillion is the price of a billion query samples processed.
	QueryUSDPerBillion float64 `json:"queryUSDPerBillion"`
}

// AMPPrices are AMP's prices (US East) as AWS published them when they
// were written here: ingestion, per month, the first 2 billion samples at
// $0.90 per 10 million, the next 250 billion at $0.35, above that $0.16;
// queries, $0.10 per billion samples processed. Override them with
// ParsePrices when they change.
var AMPPrices = Prices{Date: "2026-12", Tiers: []Tier{{2e9, 0.90}, {252e9, 0.35}, {math.Inf(1), 0.16}}, QueryUSDPerBillion: 0.10}

// Cost is the monthly price of ingesting samples.
func (p Prices) Cost(samples float64) float64 {
	usd, below := 0.0, 0.0
	for _, t := range p.Tiers {
		in := math.Min(samples, t.UpTo) - below
		if in <= 0 {
			break
		}
		usd += in / 1e7 * t.USDPer10M
		below = t.UpTo
	}
	return usd
}

// ParsePrices reads bands written "2e9:0.90,252e9:0.35,inf:0.16": each
// band's cumulative upper bound in samples a month, and its price per ten
// million samples.
func ParsePrices(s, date string) (Prices, error) {
	p := Prices{Date: date, QueryUSDPerBillion: AMPPrices.QueryUSDPerBillion}
	for _, band := range strings.Split(s, ",") {
		upTo, price, ok := strings.Cut(strings.TrimSpace(band), ":")
		if !ok {
			return p, fmt.Errorf("price band %q: want upTo:usdPer10M, e.g. 2e9:0.90", band)
		}
		u, err := strconv.ParseFloat(upTo, 64)
		if err != nil {
			return p, fmt.Errorf("price band %q: %w", band, err)
		}
		usd, err := strconv.ParseFloat(price, 64)
		if err != nil {
			return p, fmt.Errorf("price band %q: %w", band, err)
		}
		if len(p.Tiers) > 0 && u <= p.Tiers[len(p.Tiers)-1].UpTo {
			return p, fmt.Errorf("price band %q: bounds must grow", band)
		}
		p.Tiers = append(p.Tiers, Tier{u, usd})
	}
	if last := p.Tiers[len(p.Tiers)-1]; !math.IsInf(last.UpTo, 1) {
		return p, fmt.Errorf("the last price band must be inf:…, for every sample above the others")
	}
	return p, nil
}
