package graph

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/telemetry"
	"github.com/meshlens/meshlens/traffic"
)

// Appender names, as Kiali's `appenders` parameter takes them.
const (
	AppendDeadNode       = "deadNode"
	AppendResponseTime   = "responseTime"
	AppendSecurityPolicy = "securityPolicy"
	AppendServiceEntry   = "serviceEntry"
	AppendThroughput     = "throughput"
	AppendIdleNode       = "idleNode"
	AppendSidecarsCheck  = "sidecarsCheck"
	AppendHealth         = "health"
)

// knownAppenders are every appender a request may name.
var knownAppenders = []string{AppendDeadNode, AppendHealth, AppendIdleNode, AppendResponseTime, AppendSecurityPolicy, AppendServiceEntry, AppendSidecarsCheck, AppendThroughput}

// DefaultAppenders run when the request names none.
var DefaultAppenders = []string{AppendDeadNode, AppendResponseTime, AppendSecurityPolicy, AppendServiceEntry, AppendSidecarsCheck, AppendThroughput}

// Options say which graph to build.
type Options struct {
	Namespaces []string
	Type       Type
	// Duration is the rate window asked for; it is widened to twice the
	// scrape interval when shorter.
	Duration time.Duration
	// QueryTime is when the graph is of (replay); zero means now.
	QueryTime          time.Time
	InjectServiceNodes bool
	// ResponseTime is avg, 50, 95 or 99.
	ResponseTime string
	// Throughput is request or response (bytes).
	Throughput string
	// RateHTTP, RateGRPC and RateTCP say what an edge's rate of each
	// protocol is, as Kiali's rateHttp, rateGrpc and rateTcp: requests (the
	// default) or none for HTTP; requests (the default), sent, received or
	// total messages, or none for gRPC; for TCP sent (the default: bytes
	// the caller sent), received (bytes it received), total or none.
	RateHTTP, RateGRPC, RateTCP string
	Appenders                   []string
	// BoxBy groups nodes into boxes: cluster, namespace, app.
	BoxBy []string
	// Focus, when set, keeps only that node and its neighbours.
	Focus *Focus
	// IdleNodes adds the inventory's services and workloads that carry no
	// traffic (Kiali's idleNodes parameter); it needs Inventory.
	IdleNodes bool
	// Inventory, when known, lets appenders see what runs but is silent:
	// idle nodes, workloads without a sidecar.
	Inventory *inventory.Snapshot
}

// Focus names the node of a node-centred graph.
type Focus struct {
	Namespace string
	Kind      string // applications, workloads, services
	Name      string
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidNamespace tells whether s can be a Kubernetes namespace name.
func ValidNamespace(s string) error {
	if len(s) > 63 || !dns1123.MatchString(s) {
		return fmt.Errorf("%w: namespace %q is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)", ErrBadRequest, promclient.Cut(s))
	}
	return nil
}

func (o *Options) validate() error {
	if len(o.Namespaces) == 0 {
		return fmt.Errorf("%w: no namespace given", ErrBadRequest)
	}
	for _, ns := range o.Namespaces {
		if err := ValidNamespace(ns); err != nil {
			return err
		}
	}
	if _, err := ParseType(string(o.Type)); err != nil {
		return err
	}
	if o.Duration <= 0 {
		return fmt.Errorf("%w: duration must be positive", ErrBadRequest)
	}
	if o.Duration > MaxDuration {
		return fmt.Errorf("%w: duration %s is longer than %s; ask for a shorter window, or an earlier queryTime", ErrBadRequest, model.Duration(o.Duration), model.Duration(MaxDuration))
	}
	if ahead := time.Until(o.QueryTime); !o.QueryTime.IsZero() && ahead > maxClockSkew {
		return fmt.Errorf("%w: queryTime %d is %s in the future; the store holds nothing after now", ErrBadRequest, o.QueryTime.Unix(), model.Duration(ahead.Truncate(time.Second)))
	}
	switch o.ResponseTime {
	case "", "avg", "50", "95", "99":
	default:
		return fmt.Errorf("%w: responseTime %q; use avg, 50, 95 or 99", ErrBadRequest, promclient.Cut(o.ResponseTime))
	}
	switch o.Throughput {
	case "", "request", "response":
	default:
		return fmt.Errorf("%w: throughputType %q; use request or response", ErrBadRequest, promclient.Cut(o.Throughput))
	}
	switch o.RateHTTP {
	case "", RateRequests, RateNone:
	default:
		return fmt.Errorf("%w: rateHttp %q; use requests or none", ErrBadRequest, promclient.Cut(o.RateHTTP))
	}
	if _, ok := grpcRates[o.RateGRPC]; !ok {
		return fmt.Errorf("%w: rateGrpc %q; use requests, sent, received, total or none", ErrBadRequest, promclient.Cut(o.RateGRPC))
	}
	if _, ok := tcpRates[o.RateTCP]; !ok {
		return fmt.Errorf("%w: rateTcp %q; use sent, received, total or none", ErrBadRequest, promclient.Cut(o.RateTCP))
	}
	for _, a := range o.Appenders {
		if !slices.Contains(knownAppenders, a) {
			return fmt.Errorf("%w: appender %q; known: %s", ErrBadRequest, promclient.Cut(a), strings.Join(knownAppenders, ", "))
		}
	}
	for _, b := range o.BoxBy {
		switch b {
		case "cluster", "namespace", "app":
		default:
			return fmt.Errorf("%w: boxBy %q; use cluster, namespace or app", ErrBadRequest, promclient.Cut(b))
		}
	}
	if f := o.Focus; f != nil {
		switch f.Kind {
		case "applications", "workloads", "services":
		default:
			return fmt.Errorf("%w: node kind %q; use applications, workloads or services", ErrBadRequest, promclient.Cut(f.Kind))
		}
		if err := ValidNamespace(f.Namespace); err != nil {
			return err
		}
		if f.Name == "" || len(f.Name) > 253 {
			return fmt.Errorf("%w: node name %q (%d bytes; at most 253)", ErrBadRequest, promclient.Cut(f.Name), len(f.Name))
		}
	}
	return nil
}

// Values of the rateHttp, rateGrpc and rateTcp parameters.
const (
	RateRequests = "requests"
	RateNone     = "none"
	RateSent     = "sent"
	RateReceived = "received"
	RateTotal    = "total"
)

// tcpRates are the byte counters each rateTcp counts. Istio's TCP
// counters are named from the destination's side: what the caller sent is
// what the destination received (istio/istio#32399), as Kiali reads them.
var tcpRates = map[string][]string{
	"":           {telemetry.TCPReceivedBytesTotal},
	RateSent:     {telemetry.TCPReceivedBytesTotal},
	RateReceived: {telemetry.TCPSentBytesTotal},
	RateTotal:    {telemetry.TCPReceivedBytesTotal, telemetry.TCPSentBytesTotal},
	RateNone:     nil,
}

// grpcRates are the message counters each rateGrpc counts in place of
// requests: none for requests (and none).
var grpcRates = map[string][]string{
	"":           nil,
	RateRequests: nil,
	RateNone:     nil,
	RateSent:     {telemetry.RequestMessagesTotal},
	RateReceived: {telemetry.ResponseMessagesTotal},
	RateTotal:    {telemetry.RequestMessagesTotal, telemetry.ResponseMessagesTotal},
}

// MaxDuration is the longest window a graph is computed over: a rate over
// a month of every edge's series is as much as a store should be asked.
const MaxDuration = 30 * 24 * time.Hour

// maxClockSkew is how far in the future a queryTime may be: clocks differ.
const maxClockSkew = 5 * time.Minute

// Builder builds graphs from what a Querier answers.
type Builder struct {
	querier  promclient.Querier
	parallel int
	queries  prometheus.Counter
	duration prometheus.Histogram
	// responseTimes counts graphs by where their response times came from:
	// recorded (RecordingRules) or buckets.
	responseTimes *prometheus.CounterVec
	// throughputs counts graphs by where their throughput came from:
	// recorded or raw.
	throughputs *prometheus.CounterVec
	// rulesMismatch counts graphs that found recorded series of other
	// rules than theirs.
	rulesMismatch prometheus.Counter
	// health is the tolerance configuration of the health appender.
	health *health.Config
	// noAt is set once the store refused PromQL's @ (Cortex before 1.14,
	// or a store that disabled it): the recorded series are then read up
	// to the graph's time.
	noAt atomic.Bool
}

// WithHealth judges health (the health appender) by c's tolerances,
// the same the health API judges by.
func (b *Builder) WithHealth(c *health.Config) *Builder {
	if c != nil {
		b.health = c
	}
	return b
}

// NewBuilder builds graphs from q; its metrics go to reg when not nil.
func NewBuilder(q promclient.Querier, reg prometheus.Registerer) *Builder {
	b := &Builder{
		querier:  q,
		parallel: 4,
		health:   health.DefaultConfig(),
		queries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshlens_graph_queries_total", Help: "PromQL queries sent to build graphs.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meshlens_graph_build_duration_seconds", Help: "Time to build one graph.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		responseTimes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlens_graph_response_times_total",
			Help: "Graphs with response times, by source: recorded (the store runs meshlens's recording rules), buckets, both (recorded+buckets: edges the rules had not covered) or none.",
		}, []string{"source"}),
		throughputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlens_graph_throughput_total",
			Help: "Graphs with throughput, by source: recorded (the store runs meshlens's recording rules), raw, both (recorded+raw: edges the rules had not covered) or none.",
		}, []string{"source"}),
		rulesMismatch: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshlens_graph_rules_mismatch_total",
			Help: "Graphs that found recorded series of other rules than the console's (another meshlens version or rule interval) and read the raw series instead.",
		}),
	}
	if reg != nil {
		reg.MustRegister(b.queries, b.duration, b.responseTimes, b.throughputs, b.rulesMismatch)
	}
	return b
}

// Build queries the telemetry and builds the graph o asks for. Its errors
// wrap ErrBadRequest (the options), promclient.ErrUnavailable or
// promclient.ErrBadQuery (the Prometheus).
func (b *Builder) Build(ctx context.Context, o Options) (*Graph, error) {
	start := time.Now()
	defer func() { b.duration.Observe(time.Since(start).Seconds()) }()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.QueryTime.IsZero() {
		o.QueryTime = time.Now()
	}
	p, err := b.plan(ctx, o)
	if err != nil {
		return nil, err
	}
	err = b.fetch(ctx, p)
	// A store that refuses PromQL's @ answers 400 to the recorded
	// queries: the graph is planned again without it, and so are the
	// next ones.
	if err != nil && !p.rules.at.IsZero() && errors.Is(err, promclient.ErrBadQuery) && strings.Contains(err.Error(), "@ modifier") {
		b.noAt.Store(true)
		if p, err = b.plan(ctx, o); err == nil {
			err = b.fetch(ctx, p)
		}
	}
	if err != nil {
		return nil, err
	}
	a := p.assemble()
	for _, ap := range b.finishing() {
		if !ap.runs(&p.o) {
			continue
		}
		if err := ap.append(ctx, a); err != nil {
			return nil, fmt.Errorf("appender %s: %w", ap.name(), err)
		}
	}
	addBoxes(p.g, o.BoxBy)
	return p.g, nil
}

// plan is a graph's queries, and then their answers.
type plan struct {
	o Options
	g *Graph
	// namespaces are those asked (the focus's, for a focused graph).
	namespaces []string
	sc         traffic.Scope
	// window is the rates'; interval the scrape interval; recordedWindow
	// what the recorded series are read over, by rules of rulesInterval.
	window, interval, recordedWindow, rulesInterval time.Duration
	responseTime                                    bool
	// throughputMetric is the size histogram the throughput appender
	// reads, empty when it does not run.
	throughputMetric string
	security         bool

	jobs jobList
	// The raw series' response times and throughput, read instead of the
	// recorded ones (or beside them, for the edges they lack).
	quantile, durationSum, durationCount, throughput *job
	recordedTimes, recordedBytes, evaluations        *job
	// shortTimes and shortBytes are the edges whose recorded series have
	// fewer samples than the rules' evaluations (shortQuery); the
	// spanning jobs, asked of those edges only, which of them span the
	// window all the same (spanningQuery).
	shortTimes, shortBytes, spanningTimes, spanningBytes *job
	// rules are the recorded series read.
	rules              readRules
	requests, coverage *job
	tcp, grpcMessages  []*job
	// edges numbers the edge keys of the rows.
	edges edgeIndex
}

// plan finds the window and the recorded series the store holds, and
// lists the queries the graph o asks for takes.
func (b *Builder) plan(ctx context.Context, o Options) (*plan, error) {
	g := newGraph(o.Type)
	g.Timestamp = o.QueryTime
	window, interval, err := b.window(ctx, o.Duration, g)
	if err != nil {
		return nil, err
	}
	g.Duration = window
	p := &plan{o: o, g: g, namespaces: o.Namespaces, window: window, interval: interval,
		responseTime: o.runs(AppendResponseTime), security: o.runs(AppendSecurityPolicy)}
	if o.Focus != nil {
		p.namespaces = []string{o.Focus.Namespace}
	}
	if o.runs(AppendThroughput) {
		p.throughputMetric = telemetry.RequestBytes
		if o.Throughput == "response" {
			p.throughputMetric = telemetry.ResponseBytes
		}
	}
	// The rules write a sample per edge every interval once they have
	// evaluated, which on a busy store comes late or skips a turn: read
	// two intervals more than the window, so that an edge has one.
	recordedWindow := window + 2*interval
	var wantRecorded []string
	if p.responseTime {
		wantRecorded = append(wantRecorded, recordedResponseTime(o.ResponseTime))
	}
	if p.throughputMetric != "" {
		wantRecorded = append(wantRecorded, recordedThroughput(p.throughputMetric))
	}
	sc, idx := b.readIndex(ctx, p.namespaces, o.QueryTime.Add(-window), o.QueryTime.Add(-recordedWindow), o.QueryTime, wantRecorded)
	p.sc = sc
	hasRecorded := idx.recorded
	// The rules may run less often than the store scrapes (a large mesh on
	// a slow ruler): any interval from the scrape interval to half the
	// window will do, the shortest found.
	rules, rulesInterval, ok := traffic.RulesLabelValue(interval), interval, true
	if idx.rules != nil {
		rules, rulesInterval, ok = pickRules(idx.rules, interval, window)
	}
	if !ok && idx.listed {
		// Recorded series of other rules: an older meshlens, or rules
		// made for another interval. Reading them would mix semantics.
		found := "none"
		if len(idx.rules) > 0 {
			found = strings.Join(idx.rules, ", ")
		}
		g.Warnings = append(g.Warnings, fmt.Sprintf("the store holds meshlens's recorded series, but not those of rules this console can read (%s=\"v%s-<interval>\", the interval from %s to half the window, %s; found: %s): "+
			"response times and throughput come from the raw series; load the output of `meshlens rules --interval %s` into the store's rules",
			traffic.RulesLabel, traffic.Version, model.Duration(interval), model.Duration(window/2), found, model.Duration(interval)))
		b.rulesMismatch.Inc()
	}
	if !ok {
		hasRecorded = map[string]bool{}
	}
	p.rulesInterval, p.recordedWindow = rulesInterval, window+2*rulesInterval
	// A ruler writes an evaluation's series over some seconds, the marker
	// last (RecordingRules): a graph asked meanwhile reads the recorded
	// series up to the last evaluation written whole, which in a steady
	// store holds the same evaluations as its own time would, but none
	// half written. A last marker two intervals old or more is a ruler
	// behind or stopped: the graph reads up to its own time and counts
	// the evaluations it finds (see fetch).
	p.rules, g.Queries = readRules{label: rules}, idx.queries
	if last, ok := idx.lastEvaluation[rules]; ok && !b.noAt.Load() && last.Before(o.QueryTime) && o.QueryTime.Sub(last) < 2*rulesInterval {
		p.rules.at = last
	}

	// Independent queries run in parallel, a few at a time, the slowest
	// first.
	add := p.jobs.add
	if p.responseTime {
		if name := recordedResponseTime(o.ResponseTime); hasRecorded[name] {
			p.recordedTimes = add("recordedDuration", recordedQuery(sc, p.recordedWindow, name, p.rules, telemetry.AvgOverTime))
			// Edges present in only part of a window of three evaluations
			// or more (the first two and the last two apart) get a word.
			if window >= 3*rulesInterval {
				p.shortTimes = add("shortDuration", shortQuery(sc, window, name, p.rules))
			}
		} else {
			p.fromBuckets(add, sc)
		}
	}
	p.requests = add("requests", requestsQuery(sc, window, p.security))
	if p.throughputMetric != "" {
		if name := recordedThroughput(p.throughputMetric); hasRecorded[name] {
			p.recordedBytes = add("recordedThroughput", recordedQuery(sc, p.recordedWindow, name, p.rules, telemetry.SumOverTime))
			p.evaluations = add("ruleEvaluations", parts(evaluationsQuery(p.recordedWindow, p.rules)))
			p.shortBytes = add("shortThroughput", shortQuery(sc, p.recordedWindow, name, p.rules))
		} else {
			p.rawThroughput(add, sc)
		}
	}
	// One query per TCP counter: a selector of both names would be their
	// sum in one query, but Prometheus 2 rejects rate over two metrics
	// whose series differ by name only.
	for _, metric := range tcpRates[o.RateTCP] {
		p.tcp = append(p.tcp, add("tcp "+metric, streamQuery(sc, window, metric, p.security)))
	}
	for _, metric := range grpcRates[o.RateGRPC] {
		p.grpcMessages = append(p.grpcMessages, add("grpc "+metric, streamQuery(sc, window, metric, p.security)))
	}
	p.coverage = add("coverage", parts(coverageQuery(window)))
	return p, nil
}

// fromBuckets adds the queries of response times from the raw histogram
// buckets, of the edges in sc.
func (p *plan) fromBuckets(add func(string, union) *job, sc traffic.Scope) {
	if p.o.ResponseTime == "avg" {
		p.durationSum = add("durationSum", durationSumQuery(sc, p.window, "_sum"))
		p.durationCount = add("durationCount", durationSumQuery(sc, p.window, "_count"))
	} else {
		p.quantile = add("durationQuantile", durationQuantileQuery(sc, p.window, quantileOf(p.o.ResponseTime)))
	}
}

// rawThroughput adds the query of throughput from the raw size
// histograms, of the edges in sc.
func (p *plan) rawThroughput(add func(string, union) *job, sc traffic.Scope) {
	p.throughput = add("throughput", throughputQuery(sc, p.window, p.throughputMetric))
}

// fetch runs the plan's queries, then those of the edges with requests but
// no recorded series, and leaves in the plan the rows each appender reads.
func (b *Builder) fetch(ctx context.Context, p *plan) error {
	g := p.g
	sent, err := b.run(ctx, p.jobs, p.o.QueryTime)
	if err != nil {
		return err
	}
	g.Queries += sent
	g.warnCoverage(p.coverage.rows, p.window, p.interval, len(p.requests.rows) > 0)
	evaluations := 0.0
	if p.evaluations != nil {
		for _, r := range p.evaluations.rows {
			evaluations += r.value
		}
		if want := p.recordedWindow / p.rulesInterval; evaluations < float64(want)-1 && evaluations > 0 {
			g.Warnings = append(g.Warnings, fmt.Sprintf("the recording rules were evaluated %.0f times of %d in the last %s: throughput is the mean over the intervals they covered",
				evaluations, want, model.Duration(p.recordedWindow)))
		}
		if evaluations == 0 {
			p.recordedBytes.rows = nil
		}
	}
	// Edges with requests but no recorded series (the rules have not run
	// over them yet, or not at all): those take the raw series, asked of
	// their callers and destinations only when they are a few; the others
	// keep their recorded ones. Edges short of recorded samples: whether
	// they span the window, asked of them alone.
	requestKeys := p.edgeKeys(p.requests, true)
	var more jobList
	var timesHave, bytesHave keySet
	var timesMissing, bytesMissing bool
	if p.recordedTimes != nil {
		timesHave = p.edgeKeys(p.recordedTimes, false)
		if missing := p.missingKeys(requestKeys, timesHave); len(missing) > 0 {
			p.fromBuckets(more.add, narrowTo(p.sc, missing))
			timesMissing = true
		}
		p.spanningTimes = p.spanning(&more, p.shortTimes, p.window, recordedResponseTime(p.o.ResponseTime))
	}
	if p.recordedBytes != nil {
		bytesHave = p.edgeKeys(p.recordedBytes, false)
		if missing := p.missingKeys(requestKeys, bytesHave); len(missing) > 0 {
			p.rawThroughput(more.add, narrowTo(p.sc, missing))
			bytesMissing = true
		}
		p.spanningBytes = p.spanning(&more, p.shortBytes, p.recordedWindow, recordedThroughput(p.throughputMetric))
	}
	if len(more) > 0 {
		sent, err := b.run(ctx, more, p.o.QueryTime)
		if err != nil {
			return err
		}
		g.Queries += sent
	}
	p.warnPartialTimes()
	if p.recordedBytes != nil {
		p.averageRecordedBytes(evaluations)
	}
	timesSource := source(p.responseTime, p.recordedTimes, timesMissing, "buckets")
	bytesSource := source(p.throughputMetric != "", p.recordedBytes, bytesMissing, "raw")
	if timesMissing {
		for _, j := range []*job{p.quantile, p.durationSum, p.durationCount} {
			if j != nil {
				j.rows = p.without(j.rows, timesHave)
			}
		}
	}
	if p.recordedBytes != nil {
		if bytesMissing {
			p.recordedBytes.rows = append(p.recordedBytes.rows, p.without(p.throughput.rows, bytesHave)...)
		}
		p.throughput = p.recordedBytes
	}
	b.responseTimes.WithLabelValues(timesSource).Inc()
	b.throughputs.WithLabelValues(bytesSource).Inc()
	return nil
}

// spanning adds to more the query of which of short's edges span window
// w (spanningQuery of the recorded series name, narrowed to them), and
// returns its job; nil when no edge is short.
func (p *plan) spanning(more *jobList, short *job, w time.Duration, name string) *job {
	if short == nil || len(short.rows) == 0 {
		return nil
	}
	edges := make([]*row, len(short.rows))
	for i := range short.rows {
		edges[i] = &short.rows[i]
	}
	return more.add("spanning "+name, spanningQuery(narrowTo(p.sc, edges), w, p.rulesInterval, name, p.rules))
}

// seriesKey tells a recorded series of an edge from the edge's others:
// the rules record one per part (apart by reporter) and protocol.
type seriesKey struct {
	edge               int32
	reporter, protocol string
}

// samples are the values of j's rows (a number of samples) by series;
// none for a nil job.
func (p *plan) samples(j *job) map[seriesKey]float64 {
	out := map[seriesKey]float64{}
	if j == nil {
		return out
	}
	p.edges.number(j.rows)
	for _, r := range j.rows {
		out[seriesKey{r.edge, r.reporter, r.protocol}] = r.value
	}
	return out
}

// warnPartialTimes says how many edges had recorded response times in
// only part of the window: short of samples, and not spanning it.
func (p *plan) warnPartialTimes() {
	if p.shortTimes == nil {
		return
	}
	spanning := p.samples(p.spanningTimes)
	partial := 0
	for k := range p.samples(p.shortTimes) {
		if _, ok := spanning[k]; !ok {
			partial++
		}
	}
	if partial == 0 {
		return
	}
	what := "averages"
	if name := recordedResponseTime(p.o.ResponseTime); name != recordedDuration+"avg" {
		what = strings.TrimPrefix(name, recordedDuration) + "s" // p50s, p95s, p99s
	}
	edges, whose, values, they := fmt.Sprintf("%d edges", partial), "their", "times are", "they"
	if partial == 1 {
		edges, whose, values, they = "1 edge", "its", "time is", "it"
	}
	p.g.Warnings = append(p.g.Warnings, fmt.Sprintf("%s had requests in only part of the %s window: %s recorded response %s the mean of the %s of the %s intervals %s had requests in, not the value over the window",
		edges, model.Duration(p.window), whose, values, what, model.Duration(p.rulesInterval), they))
}

// averageRecordedBytes turns the recorded rates summed over the window
// into means. An edge that spans the window takes the mean of its
// samples: one it lacks inside is a scrape missed, not a time without
// traffic. Any other edge divides by the rules' evaluations in the
// window, so that an edge gone half way through averages to half its
// rate, as its raw series do.
func (p *plan) averageRecordedBytes(evaluations float64) {
	spanning := p.samples(p.spanningBytes)
	p.edges.number(p.recordedBytes.rows)
	for i := range p.recordedBytes.rows {
		r := &p.recordedBytes.rows[i]
		if n, ok := spanning[seriesKey{r.edge, r.reporter, r.protocol}]; ok {
			r.value /= n
		} else {
			r.value /= evaluations
		}
	}
}

// assemble draws the fetched traffic: nodes and edges from the requests,
// TCP and gRPC messages, then the response times, throughput and mTLS of
// those edges.
func (p *plan) assemble() *assembled {
	g, o := p.g, &p.o
	bld := &builder{g: g, inject: o.InjectServiceNodes, edges: &p.edges}
	requestRows := o.Focus.rows(o.keepRequests(p.requests.rows))
	var tcpRows []row
	for _, j := range p.tcp {
		tcpRows = append(tcpRows, o.Focus.rows(j.rows)...)
	}
	bld.reserve(len(requestRows) + len(tcpRows))
	if o.Type == TypeService {
		bld.learnFronts(requestRows)
	}
	bld.addRequests(requestRows)
	bld.addTCP(tcpRows)
	for _, j := range p.grpcMessages {
		bld.addGRPCMessages(o.Focus.rows(j.rows))
	}
	bld.frozen = true
	g.sumNodes()

	// Recorded response times and raw ones (of the edges without recorded
	// ones) in one pass: an edge over several edge keys (an app's versions)
	// weighs them all together.
	var quantileRows []row
	for _, j := range []*job{p.recordedTimes, p.quantile} {
		if j != nil {
			quantileRows = append(quantileRows, j.rows...)
		}
	}
	if len(quantileRows) > 0 {
		appendQuantile(bld, quantileRows)
	}
	if p.durationSum != nil {
		appendAverage(bld, p.durationSum.rows, p.durationCount.rows)
	}
	if p.throughput != nil {
		appendThroughput(bld, p.throughput.rows)
	}
	if p.security {
		streams := map[string][]row{}
		for _, j := range p.tcp {
			streams[telemetry.ProtocolTCP] = append(streams[telemetry.ProtocolTCP], j.rows...)
		}
		for _, j := range p.grpcMessages {
			streams[telemetry.ProtocolGRPC] = append(streams[telemetry.ProtocolGRPC], j.rows...)
		}
		appendSecurity(bld, o.keepRequests(p.requests.rows), streams)
	}
	// From here on nodes merge and go: the edges found per edge key no
	// longer hold.
	bld.byEdgeKey = nil
	return &assembled{g: g, bld: bld, o: o, namespaces: p.namespaces, window: p.window}
}

// keepRequests are the request rows of the protocols whose rate is asked
// for (rateHttp, rateGrpc).
func (o *Options) keepRequests(rows []row) []row {
	http, grpc := o.RateHTTP != RateNone, o.RateGRPC == "" || o.RateGRPC == RateRequests
	if http && grpc {
		return rows
	}
	out := rows[:0:0]
	for _, r := range rows {
		keep := http
		if requestProtocol(r) == telemetry.ProtocolGRPC {
			keep = grpc
		}
		if keep {
			out = append(out, r)
		}
	}
	return out
}

// coverageQuery is the most scrapes of one target in the window: how much
// of the window the store holds data for (every scrape writes up).
func coverageQuery(window time.Duration) telemetry.Expr {
	return telemetry.Max(telemetry.CountOverTime(telemetry.Select("up"), window))
}

// warnCoverage says when the store holds data for only part of the window
// (a young store, or a queryTime before its first scrape): rates averaged
// over the whole window then read low. A store without up (fed by remote
// write from a collector that does not send it) says nothing.
func (g *Graph) warnCoverage(rows []row, window, interval time.Duration, traffic bool) {
	if len(rows) == 0 {
		if !traffic {
			g.Warnings = append(g.Warnings, fmt.Sprintf("no scrapes and no traffic in the %s before %s: the store holds no data for this time",
				model.Duration(window), g.Timestamp.UTC().Format(time.RFC3339)))
		}
		return
	}
	covered := time.Duration(rows[0].value) * interval
	if covered < window*9/10 {
		g.Warnings = append(g.Warnings, fmt.Sprintf("the store holds data for only about %s of the %s window: rates are averaged over the whole window and read low; ask for duration=%s",
			model.Duration(covered), model.Duration(window), model.Duration(max(covered, 2*interval).Truncate(time.Second))))
	}
}

// pickRules is, of the values of traffic.RulesLabel in the store, the one
// of this version's rules with the shortest interval from scrape to half
// the window, and that interval; ok is false when none is.
func pickRules(values []string, scrape, window time.Duration) (value string, interval time.Duration, ok bool) {
	for _, v := range values {
		d, err := time.ParseDuration(strings.TrimPrefix(v, "v"+traffic.Version+"-"))
		if err != nil || !strings.HasPrefix(v, "v"+traffic.Version+"-") || v != traffic.RulesLabelValue(d) {
			continue
		}
		if d >= scrape && 2*d <= window && (!ok || d < interval) {
			value, interval, ok = v, d, true
		}
	}
	return value, interval, ok
}

// source names where a graph's response times or throughput came from,
// for the counters: recorded, raw (called what the raw series are), both,
// or none when the graph has none.
func source(wanted bool, recorded *job, missing bool, raw string) string {
	switch {
	case !wanted:
		return "none"
	case recorded == nil || len(recorded.rows) == 0:
		return raw
	case missing:
		return "recorded+" + raw
	}
	return "recorded"
}

// edgeKeys numbers the edge keys of j's rows and returns them as a set,
// of the rows with traffic only when traffic is true.
func (p *plan) edgeKeys(j *job, traffic bool) keySet {
	p.edges.number(j.rows)
	out := make(keySet, p.edges.len()+1)
	for _, r := range j.rows {
		if !traffic || r.value > 0 {
			out[r.edge] = true
		}
	}
	return out
}

// missingKeys are, by a row of each, the keys in want that have lacks.
func (p *plan) missingKeys(want, have keySet) []*row {
	var out []*row
	for id, ok := range want {
		if ok && !have.has(int32(id)) {
			out = append(out, p.edges.first[id-1])
		}
	}
	return out
}

// maxNarrowed is the most callers a raw query of the edges the rules missed
// names; past it, it asks the whole scope. Prometheus looks a set of
// literals up value by value: a thousand callers cost a thousand postings
// lookups, far less than every bucket series of a large mesh.
const maxNarrowed = 1000

// narrowTo is sc narrowed to the callers and destination workloads of the
// edges missing: a query of their series reads a fraction of the scope's.
func narrowTo(sc traffic.Scope, missing []*row) traffic.Scope {
	sources, destinations := map[string]bool{}, map[string]bool{}
	for _, r := range missing {
		sources[r.src.workload], destinations[r.dst.workload] = true, true
	}
	if len(sources) > maxNarrowed {
		return sc
	}
	return sc.Only(telemetry.SourceWorkload, slices.Sorted(maps.Keys(sources))...).
		Only(telemetry.DestinationWorkload, slices.Sorted(maps.Keys(destinations))...)
}

// without are the rows whose edge key have lacks.
func (p *plan) without(rows []row, have keySet) []row {
	p.edges.number(rows)
	var out []row
	for _, r := range rows {
		if !have.has(r.edge) {
			out = append(out, r)
		}
	}
	return out
}

// job is one PromQL query of a graph and, once run, its rows.
type job struct {
	name  string
	query union
	rows  []row
}

// jobList is a graph's queries in the order they are sent.
type jobList []*job

// add appends the query u, named name, and returns its job.
func (l *jobList) add(name string, u union) *job {
	j := &job{name: name, query: u}
	*l = append(*l, j)
	return j
}

// run sends the jobs' queries, at most b.parallel at a time, in order, and
// returns how many it sent. Every query is built before the first is sent,
// so that a query that cannot be built sends none.
func (b *Builder) run(ctx context.Context, jobs []*job, at time.Time) (int, error) {
	queries := make([][]string, len(jobs))
	sent := 0
	for i, j := range jobs {
		for _, e := range j.query.queries() {
			q, err := e.Query()
			if err != nil {
				return 0, fmt.Errorf("%w: %v", ErrBadRequest, err)
			}
			queries[i] = append(queries[i], q)
			sent++
		}
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(b.parallel)
	parts := make([][][]row, len(jobs))
	for i, j := range jobs {
		parts[i] = make([][]row, len(queries[i]))
		for k, q := range queries[i] {
			eg.Go(func() error {
				b.queries.Inc()
				vec, err := b.querier.Query(ectx, q, at)
				if err != nil {
					return fmt.Errorf("%s query: %w", j.name, err)
				}
				parts[i][k] = rows(vec)
				return nil
			})
		}
	}
	if err := eg.Wait(); err != nil {
		return sent, err
	}
	for i, j := range jobs {
		if len(parts[i]) == 1 {
			// Most jobs are one query: its rows as they are, not a copy
			// (a recorded series' rows are megabytes on a large mesh).
			j.rows = parts[i][0]
			continue
		}
		j.rows = slices.Concat(parts[i]...)
	}
	return sent, nil
}

// window is the rate window: the duration asked for, but never shorter
// than two scrape intervals (promclient.Window). It also returns the
// scrape interval.
func (b *Builder) window(ctx context.Context, asked time.Duration, g *Graph) (time.Duration, time.Duration, error) {
	window, interval, warnings, err := promclient.Window(ctx, b.querier, asked)
	g.Warnings = append(g.Warnings, warnings...)
	return window, interval, err
}

func rows(v promclient.Vector) []row {
	out := make([]row, 0, len(v))
	for _, s := range v {
		if math.IsNaN(s.Value) {
			continue
		}
		out = append(out, parseRow(s))
	}
	return out
}

// quantiles are the response time quantiles, by the name the responseTime
// parameter gives them; the recording rules keep each of them.
var quantiles = map[string]float64{"50": 0.5, "95": 0.95, "99": 0.99}

// quantileOf is the quantile responseTime names, p95 by default.
func quantileOf(responseTime string) float64 {
	if q, ok := quantiles[responseTime]; ok {
		return q
	}
	return 0.95
}
