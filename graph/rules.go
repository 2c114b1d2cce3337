package graph

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/meshlens/meshlens/telemetry"
	"github.com/meshlens/meshlens/traffic"
)

// Response time is the costly part of a graph: a quantile reads twenty
// bucket series per workload pair, response code and pod (at 1,000
// workloads, 53,000 series and most of a graph's time). Recording rules
// evaluated by the store once per scrape interval keep one series per edge
// and quantile instead; a graph then averages those over its window.
// Throughput is recorded too: its raw series carry every label of the
// sidecar's (pod, app, version...), and grouping them away costs the store
// more than twice what reading the same number of recorded series does.
// Without the rules (a Prometheus that was not given them) the graph
// computes both from the raw series, as before.
const (
	// RuleGroup is the name of the rule group RecordingRules returns.
	RuleGroup = "meshlens-graph"
	// recordedDuration + "p50", "p95", "p99" or "avg" is an edge's response time.
	recordedDuration = "meshlens_edge:istio_request_duration_milliseconds:"
	// ruleEvaluations is 1 at each evaluation of the group, written after
	// every other rule's series: how many evaluations a window holds tells
	// a console how much of it the recorded series cover, and the last one
	// which evaluation is whole (see lastEvaluationQuery).
	ruleEvaluations = "meshlens_rules:evaluations"
)

// recordedThroughput is the name of the recorded rate of a size
// histogram's sum (telemetry.RequestBytes or ResponseBytes) per edge.
func recordedThroughput(metric string) string {
	return "meshlens_edge:" + metric + "_sum:rate"
}

// throughputMetrics are the size histograms the throughput appender reads.
var throughputMetrics = []string{telemetry.RequestBytes, telemetry.ResponseBytes}

// ruleFile is Prometheus's rule file format, the part recording rules use.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string         `yaml:"name"`
	Interval model.Duration `yaml:"interval"`
	Rules    []rule         `yaml:"rules"`
}

type rule struct {
	Record string            `yaml:"record"`
	Expr   string            `yaml:"expr"`
	Labels map[string]string `yaml:"labels,omitempty"`
}

// DefaultRecordedQuantiles are the response time quantiles the rules
// record unless told others: the graph's default, p95. Each recorded
// quantile costs the rate of every duration bucket of every edge at each
// evaluation; a quantile not recorded is computed from the buckets when a
// graph asks for it.
var DefaultRecordedQuantiles = []string{"95"}

// RecordingRules is a Prometheus rule file (also what AMP, Mimir and
// Thanos rulers take) that records per-edge response times (the quantiles
// named, "50", "95" or "99"; DefaultRecordedQuantiles when none) and
// throughput every interval, over twice the interval as every rate of the
// graph.
func RecordingRules(interval time.Duration, recordedQuantiles ...string) ([]byte, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("rule evaluation interval must be positive, got %s", interval)
	}
	if len(recordedQuantiles) == 0 {
		recordedQuantiles = DefaultRecordedQuantiles
	}
	for _, q := range recordedQuantiles {
		if _, ok := quantiles[q]; !ok {
			return nil, fmt.Errorf("quantile %q: use 50, 95 or 99", q)
		}
	}
	window := 2 * interval
	by := with(edgeLabels, telemetry.RequestProtocol)
	type recordingRule struct {
		record string
		expr   telemetry.Expr
		labels map[string]string
	}
	version := traffic.RulesLabelValue(interval)
	var exprs []recordingRule
	// perScope records one rule per scope, all under one name: the scopes'
	// series are apart (reporter and destination_workload are in every
	// grouping), and their union in one expression ("or") cost Prometheus
	// as much again as the sums did, for the buckets 2 s of every
	// evaluation at 5,000 workloads. Each rule sets the labels its scope
	// fixes, which its series have anyway: so the rules differ in more
	// than their expressions, as promtool wants of rules of one name.
	perScope := func(record, metric string, f func(traffic.Part, telemetry.Selector) telemetry.Expr) {
		for _, p := range traffic.Parts {
			l := p.Fixed(metric)
			l[traffic.RulesLabel] = version
			exprs = append(exprs, recordingRule{record, f(p, telemetry.Select(metric)), l})
		}
	}
	// A quantile straight from the buckets' rates: recording those rates
	// for the quantiles to share was twenty series per edge written at
	// each evaluation, most of the rules' memory.
	names := slices.Clone(recordedQuantiles)
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		q := quantiles[name]
		perScope(recordedDuration+"p"+name, telemetry.RequestDurationMilliseconds+"_bucket", func(p traffic.Part, s telemetry.Selector) telemetry.Expr {
			return telemetry.AtLeast(p.Rate(s, window, with(by, "le"), func(e telemetry.Expr) telemetry.Expr { return telemetry.HistogramQuantile(q, e) }), 0)
		})
	}
	perScope(recordedDuration+"avg", telemetry.RequestDurationMilliseconds+"_sum", func(p traffic.Part, s telemetry.Selector) telemetry.Expr {
		count := s.WithMetric(telemetry.RequestDurationMilliseconds + "_count")
		return telemetry.AtLeast(telemetry.Div(p.Rate(s, window, by, nil), p.Rate(count, window, by, nil)), 0)
	})
	for _, metric := range throughputMetrics {
		perScope(recordedThroughput(metric), metric+"_sum", func(p traffic.Part, s telemetry.Selector) telemetry.Expr {
			return p.Rate(s, window, by, nil)
		})
	}

	// The marker comes last and reads every recorded series (and drops
	// what it read: "or" keeps vector(1), whose labels are the same), so
	// that a ruler writes it once the others are written: one evaluating
	// the rules in turn by their order in the file, and one evaluating
	// them at once (Prometheus's and Mimir's concurrent evaluation) by
	// their dependencies. A console then reads up to the last marker and
	// never meets an evaluation half written.
	marker := []telemetry.Expr{telemetry.Vector(1)}
	for i, e := range exprs {
		if i == 0 || exprs[i-1].record != e.record {
			marker = append(marker, telemetry.Count(recordedSeries(e.record, version).Instant()))
		}
	}
	exprs = append(exprs, recordingRule{ruleEvaluations, telemetry.Or(marker...), map[string]string{traffic.RulesLabel: version}})

	g := ruleGroup{Name: RuleGroup, Interval: model.Duration(interval)}
	for _, e := range exprs {
		q, err := e.expr.Query()
		if err != nil {
			return nil, err
		}
		g.Rules = append(g.Rules, rule{Record: e.record, Expr: q, Labels: e.labels})
	}
	var out bytes.Buffer
	out.WriteString("# Recording rules of meshlens's graph: per-edge response times and\n" +
		"# throughput, so that a graph reads one series per edge instead of every\n" +
		"# duration bucket and every pod's series.\n")
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(ruleFile{Groups: []ruleGroup{g}}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// readRules are the recorded series a graph reads: those of the rules
// whose traffic.RulesLabel is label, up to their evaluation at when it is
// set (@ at), else up to the graph's time.
type readRules struct {
	label string
	at    time.Time
}

// series selects the recorded series name.
func (r readRules) series(name string) telemetry.Selector {
	s := recordedSeries(name, r.label)
	if !r.at.IsZero() {
		s = s.At(r.at)
	}
	return s
}

// recordedQuery is a recorded series (name) of every edge touching the
// namespaces, over the window (averaged, or summed to be divided by
// evaluationsQuery's answer): the series of the rules r, which hold the
// parts already.
func recordedQuery(sc traffic.Scope, w time.Duration, name string, r readRules, overTime func(telemetry.Selector, time.Duration) telemetry.Expr) union {
	sel := r.series(name)
	return parts(sc.Select(sel, func(s telemetry.Selector) telemetry.Expr { return overTime(s, w) })...)
}

// shortQuery is, of the edges of sc whose recorded series name has fewer
// samples in the window w than the rules were evaluated there, that
// number of samples: edges that came, went or missed a scrape inside the
// window (a rate over two intervals has no sample at the two evaluations
// after a missed scrape). In a steady mesh, none: one query for all the
// parts.
func shortQuery(sc traffic.Scope, w time.Duration, name string, r readRules) union {
	sel := r.series(name)
	evaluations := telemetry.Scalar(evaluationsQuery(w, r))
	return parts(telemetry.Or(sc.Select(sel, func(s telemetry.Selector) telemetry.Expr {
		return telemetry.BelowValueOf(telemetry.CountOverTime(s, w), evaluations)
	})...))
}

// spanningQuery is, of the edges of sc whose recorded series name has a
// sample at one of the first two and at one of the last two evaluations
// (every interval) of the window w, the number of samples in it: edges
// that had traffic from the window's start to its end. One short of
// samples (shortQuery) that spans the window missed a scrape; one that
// does not came or went, or missed the scrape of the window's first or
// last evaluation, which leaves no sample at two evaluations and looks
// the same until the next.
func spanningQuery(sc traffic.Scope, w, interval time.Duration, name string, r readRules) union {
	sel := r.series(name)
	return parts(sc.Select(sel, func(s telemetry.Selector) telemetry.Expr {
		last := telemetry.CountOverTime(s, 2*interval)
		first := telemetry.CountOverTime(s.Offset(w-2*interval), 2*interval)
		return telemetry.And(telemetry.And(telemetry.CountOverTime(s, w), last), first)
	})...)
}

// evaluationsQuery is how many times the rules r were evaluated in the
// window.
func evaluationsQuery(w time.Duration, r readRules) telemetry.Expr {
	return telemetry.Sum(telemetry.CountOverTime(r.series(ruleEvaluations), w))
}

// lastEvaluationQuery is, by traffic.RulesLabel value, the time of the
// rules' last marker: their last evaluation written whole.
func lastEvaluationQuery() telemetry.Expr {
	return telemetry.Max(telemetry.Timestamp(telemetry.Select(ruleEvaluations).Instant()), traffic.RulesLabel)
}

// recordedSeries selects the series name recorded by the rules whose
// traffic.RulesLabel is rules.
func recordedSeries(name, rules string) telemetry.Selector {
	return telemetry.Select(name).Eq(traffic.RulesLabel, rules)
}

// recordedResponseTime is the recorded series of a responseTime
// parameter: avg, or p50, p95, p99.
func recordedResponseTime(responseTime string) string {
	if responseTime == "avg" {
		return recordedDuration + "avg"
	}
	if _, ok := quantiles[responseTime]; ok {
		return recordedDuration + "p" + responseTime
	}
	return recordedDuration + "p95"
}
