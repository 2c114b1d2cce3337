// Package metrics answers the time series of an app, a workload, a service
// or a namespace, as Kiali's metrics API does: request counts and errors,
// durations, sizes and throughput, gRPC messages and TCP, inbound or
// outbound, by the reporter asked or (reporter=both) counting each request
// once by package traffic's rules.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"golang.org/x/sync/errgroup"

	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/telemetry"
	"github.com/meshlens/meshlens/traffic"
)

// ErrBadRequest wraps errors in the options.
var ErrBadRequest = errors.New("bad metrics request")

// Kind is what metrics are asked of.
type Kind string

// The kinds.
const (
	App       Kind = "app"
	Workload  Kind = "workload"
	Service   Kind = "service"
	Namespace Kind = "namespace"
)

// Options ask for metrics, with Kiali's parameters.
type Options struct {
	Namespace string
	Kind      Kind
	Name      string // empty for a namespace
	// Direction is inbound (default) or outbound.
	Direction string
	// Reporter is source, destination, or both (each request once);
	// default destination inbound and source outbound, as Kiali's UI asks.
	Reporter string
	// Duration is how far back the series go from QueryTime; Step the
	// time between points; RateInterval the window of every rate.
	Duration, Step, RateInterval time.Duration
	QueryTime                    time.Time
	// Quantiles of the histograms: "0.5", "0.95", "0.99", "avg".
	Quantiles []string
	// ByLabels split the series by these labels.
	ByLabels []string
	// RequestProtocol narrows to http or grpc.
	RequestProtocol string
	// Filters name the metrics to answer (default all).
	Filters []string
}

// Point is a time (Unix seconds) and a value, written [t, v] as Kiali's.
type Point struct {
	T int64
	V float64
}

// MarshalJSON writes [t, v].
func (p Point) MarshalJSON() ([]byte, error) {
	return []byte("[" + strconv.FormatInt(p.T, 10) + "," + strconv.FormatFloat(p.V, 'g', -1, 64) + "]"), nil
}

// Metric is one series of an answer, in Kiali's shape.
type Metric struct {
	Labels     map[string]string `json:"labels"`
	Datapoints []Point           `json:"datapoints"`
	// Stat is the statistic of a histogram's series: avg, 0.5, 0.95...
	Stat string `json:"stat,omitempty"`
	Name string `json:"name"`
}

// Answer is the series by metric name, plus how it was asked.
type Answer struct {
	Metrics  map[string][]Metric
	Warnings []string
	Queries  []string
}

// The metric names Kiali answers.
const (
	RequestCount        = "request_count"
	RequestErrorCount   = "request_error_count"
	RequestDuration     = "request_duration_millis"
	RequestSize         = "request_size"
	ResponseSize        = "response_size"
	RequestThroughput   = "request_throughput"
	ResponseThroughput  = "response_throughput"
	TCPSent             = "tcp_sent"
	TCPReceived         = "tcp_received"
	TCPOpened           = "tcp_opened"
	TCPClosed           = "tcp_closed"
	GRPCSent            = "grpc_sent"
	GRPCReceived        = "grpc_received"
	defaultRateInterval = time.Minute
)

// counter is a metric read as a rate of an Istio counter; histogram one
// read as quantiles (and avg) of an Istio histogram.
type source struct {
	istio     string
	histogram bool
	// narrow selects part of the metric's series (errors only).
	narrow func(telemetry.Selector) telemetry.Selector
}

var sources = map[string]source{
	RequestCount: {istio: telemetry.RequestsTotal},
	RequestErrorCount: {istio: telemetry.RequestsTotal, narrow: func(s telemetry.Selector) telemetry.Selector {
		// No response, HTTP 4xx and 5xx; gRPC's errors answer 200 with a
		// grpc-status, which request_count split by it shows.
		return s.Matches(telemetry.ResponseCode, "0|[45][0-9][0-9]")
	}},
	RequestDuration:    {istio: telemetry.RequestDurationMilliseconds, histogram: true},
	RequestSize:        {istio: telemetry.RequestBytes, histogram: true},
	ResponseSize:       {istio: telemetry.ResponseBytes, histogram: true},
	RequestThroughput:  {istio: telemetry.RequestBytes + "_sum"},
	ResponseThroughput: {istio: telemetry.ResponseBytes + "_sum"},
	// Istio names TCP bytes from the destination's side: what it
	// received is what the caller sent.
	TCPSent:      {istio: telemetry.TCPReceivedBytesTotal},
	TCPReceived:  {istio: telemetry.TCPSentBytesTotal},
	TCPOpened:    {istio: telemetry.TCPConnectionsOpenedTotal},
	TCPClosed:    {istio: telemetry.TCPConnectionsClosedTotal},
	GRPCSent:     {istio: telemetry.RequestMessagesTotal},
	GRPCReceived: {istio: telemetry.ResponseMessagesTotal},
}

// Names are every metric an answer may hold.
func Names() []string {
	var out []string
	for n := range sources {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Reader reads metrics from a Prometheus.
type Reader struct {
	querier promclient.RangeQuerier
	// parallel bounds the queries of one answer in flight.
	parallel int
}

// NewReader reads from q.
func NewReader(q promclient.RangeQuerier) *Reader { return &Reader{querier: q, parallel: 4} }

// Read answers o: every metric asked, each from one range query per
// statistic, sent a few at a time.
func (r *Reader) Read(ctx context.Context, o Options) (*Answer, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	a, window, rng, err := r.frame(ctx, o)
	if err != nil {
		return nil, err
	}
	var jobs []job
	for _, name := range o.Filters {
		src := sources[name]
		m := o.narrow(telemetry.Select(src.istio))
		if src.narrow != nil {
			m = src.narrow(m)
		}
		if !src.histogram {
			jobs = append(jobs, job{name, "", o.sum(m, window, o.ByLabels, nil)})
			continue
		}
		jobs = append(jobs, o.statistics(name, src.istio, func(metric string, wrap func(telemetry.Expr) telemetry.Expr, by ...string) telemetry.Expr {
			return o.sum(m.WithMetric(metric), window, append(slices.Clone(o.ByLabels), by...), wrap)
		})...)
	}
	for _, name := range o.Filters {
		a.Metrics[name] = []Metric{}
	}
	return a, r.run(ctx, a, jobs, rng)
}

// job is one range query of an answer: the series of a metric's
// statistic (a quantile, avg, or none).
type job struct {
	name, stat string
	expr       telemetry.Expr
}

// statistics are the jobs of a histogram's quantiles and average, each
// summed by sum from the histogram's series (name_bucket by le, name_sum,
// name_count).
func (o *Options) statistics(name, histogram string, sum func(metric string, wrap func(telemetry.Expr) telemetry.Expr, by ...string) telemetry.Expr) []job {
	var jobs []job
	for _, q := range o.Quantiles {
		if q == "avg" {
			jobs = append(jobs, job{name, q, telemetry.Div(sum(histogram+"_sum", nil), sum(histogram+"_count", nil))})
			continue
		}
		f, _ := strconv.ParseFloat(q, 64)
		jobs = append(jobs, job{name, q, sum(histogram+"_bucket", func(e telemetry.Expr) telemetry.Expr { return telemetry.HistogramQuantile(f, e) }, "le")})
	}
	return jobs
}

// frame is an empty answer to o, the rate window and the range its
// series cover: windows never under two scrape intervals, steps never
// under one.
func (r *Reader) frame(ctx context.Context, o Options) (*Answer, time.Duration, promclient.Range, error) {
	window, interval, warnings, err := promclient.Window(ctx, r.querier, o.RateInterval)
	if err != nil {
		return nil, 0, promclient.Range{}, err
	}
	a := &Answer{Metrics: map[string][]Metric{}, Warnings: warnings}
	step := o.Step
	if step < interval {
		if o.Step > 0 {
			a.Warnings = append(a.Warnings, fmt.Sprintf("step %s is shorter than the scrape interval; points are %s apart", o.Step, interval))
		}
		step = interval
	}
	return a, window, promclient.Range{Start: o.QueryTime.Add(-o.Duration), End: o.QueryTime, Step: step}, nil
}

// run sends the jobs' queries, a few at a time, and adds their series to
// a under their names.
func (r *Reader) run(ctx context.Context, a *Answer, jobs []job, rng promclient.Range) error {
	results := make([]promclient.Matrix, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.parallel)
	var mu sync.Mutex
	for i, j := range jobs {
		q, err := j.expr.Query()
		if err != nil {
			return err
		}
		a.Queries = append(a.Queries, q)
		g.Go(func() error {
			m, err := r.querier.QueryRange(gctx, q, rng)
			if err != nil {
				return fmt.Errorf("%s: %w", j.name, err)
			}
			mu.Lock()
			results[i] = m
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, j := range jobs {
		for _, s := range results[i] {
			m := Metric{Labels: map[string]string{}, Stat: j.stat, Name: j.name, Datapoints: make([]Point, 0, len(s.Points))}
			s.Metric.Range(func(l labels.Label) { m.Labels[l.Name] = l.Value })
			for _, p := range s.Points {
				m.Datapoints = append(m.Datapoints, Point{T: p.T / 1000, V: p.V})
			}
			a.Metrics[j.name] = append(a.Metrics[j.name], m)
		}
	}
	return nil
}

// defaults fills in Kiali's defaults and checks the options.
func (o *Options) defaults() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
	}
	switch o.Direction {
	case "":
		o.Direction = "inbound"
	case "inbound", "outbound":
	default:
		return bad("direction %q: use inbound or outbound", o.Direction)
	}
	if o.Kind == Service && o.Direction == "outbound" {
		return bad("a service has inbound metrics only")
	}
	switch o.Reporter {
	case "":
		o.Reporter = telemetry.ReporterDestination
		if o.Direction == "outbound" {
			o.Reporter = telemetry.ReporterSource
		}
	case telemetry.ReporterSource, telemetry.ReporterDestination, "both":
	default:
		return bad("reporter %q: use source, destination or both", o.Reporter)
	}
	if o.Duration <= 0 {
		o.Duration = 30 * time.Minute
	}
	if o.RateInterval <= 0 {
		o.RateInterval = defaultRateInterval
	}
	if o.QueryTime.IsZero() {
		o.QueryTime = time.Now()
	}
	if o.Step > 0 && o.Duration/o.Step > 11000 {
		return bad("duration %s at step %s is more than 11,000 points", o.Duration, o.Step)
	}
	if o.Step <= 0 {
		o.Step = o.Duration / 60 // a chart's worth of points
	}
	if len(o.Quantiles) == 0 {
		o.Quantiles = []string{"0.5", "0.95", "0.99", "avg"}
	}
	for _, q := range o.Quantiles {
		if q == "avg" {
			continue
		}
		if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 || f >= 1 {
			return bad("quantile %q: a number between 0 and 1, or avg", q)
		}
	}
	if len(o.Filters) == 0 {
		o.Filters = Names()
	}
	for _, f := range o.Filters {
		if _, ok := sources[f]; !ok {
			return bad("filter %q: known are %v", f, Names())
		}
	}
	for _, l := range o.ByLabels {
		if !model.LabelName(l).IsValidLegacy() || l == "__name__" {
			return bad("byLabels %q is not a label name", l)
		}
	}
	switch o.RequestProtocol {
	case "", telemetry.ProtocolHTTP, telemetry.ProtocolGRPC:
	default:
		return bad("requestProtocol %q: use http or grpc", o.RequestProtocol)
	}
	return nil
}

// narrow selects the series of the entity, its direction and protocol.
func (o *Options) narrow(s telemetry.Selector) telemetry.Selector {
	in := o.Direction == "inbound"
	switch o.Kind {
	case Workload:
		if in {
			s = s.Eq(telemetry.DestinationWorkloadNamespace, o.Namespace).Eq(telemetry.DestinationWorkload, o.Name)
		} else {
			s = s.Eq(telemetry.SourceWorkloadNamespace, o.Namespace).Eq(telemetry.SourceWorkload, o.Name)
		}
	case App:
		if in {
			s = s.Eq(telemetry.DestinationWorkloadNamespace, o.Namespace).Eq(telemetry.DestinationCanonicalService, o.Name)
		} else {
			s = s.Eq(telemetry.SourceWorkloadNamespace, o.Namespace).Eq(telemetry.SourceCanonicalService, o.Name)
		}
	case Service:
		s = s.Eq(telemetry.DestinationServiceNamespace, o.Namespace).Eq(telemetry.DestinationServiceName, o.Name)
	case Namespace:
		if in {
			s = s.Eq(telemetry.DestinationServiceNamespace, o.Namespace)
		} else {
			s = s.Eq(telemetry.SourceWorkloadNamespace, o.Namespace)
		}
	}
	if o.RequestProtocol != "" {
		s = s.Eq(telemetry.RequestProtocol, o.RequestProtocol)
	}
	return s
}

// sum is sum by (by) (rate(m[window])) over the reporter's series, or, for
// both, over traffic's union: every request once.
func (o *Options) sum(m telemetry.Selector, window time.Duration, by []string, wrap func(telemetry.Expr) telemetry.Expr) telemetry.Expr {
	if o.Reporter != "both" {
		e := telemetry.Sum(telemetry.Rate(m.Eq(telemetry.Reporter, o.Reporter), window), by...)
		if wrap != nil {
			e = wrap(e)
		}
		return e
	}
	// The parts are disjoint: kept apart by the labels that tell them
	// apart (or "or" would drop one of two alike), then summed by by into
	// one series per group.
	inner := slices.Clone(by)
	for _, l := range []string{telemetry.Reporter, telemetry.DestinationWorkload, traffic.SourceNamespace, traffic.DestinationNamespace} {
		if !slices.Contains(inner, l) {
			inner = append(inner, l)
		}
	}
	parts := traffic.Scope{Namespaces: []string{o.Namespace}}.Rates(m, window, inner, nil)
	e := telemetry.Sum(parts[0], by...)
	if len(parts) > 1 {
		e = telemetry.Sum(telemetry.Or(parts...), by...)
	}
	if wrap != nil {
		e = wrap(e)
	}
	return e
}
