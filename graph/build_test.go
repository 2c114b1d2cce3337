package graph

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/telemetry"
	"github.com/meshlens/meshlens/traffic"
)

// noRules answers every query with nothing, as a Prometheus without the
// recording rules (and without traffic) would, and keeps the queries.
type noRules struct {
	mu      sync.Mutex
	queries []string
}

func (n *noRules) Query(_ context.Context, q string, _ time.Time) (promclient.Vector, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.queries = append(n.queries, q)
	return nil, nil
}

func (n *noRules) LabelValues(context.Context, string, time.Time, time.Time) ([]string, error) {
	return nil, nil
}

func (n *noRules) ScrapeInterval(context.Context) (time.Duration, error) {
	return 15 * time.Second, nil
}

func (n *noRules) count(substr string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, q := range n.queries {
		if strings.Contains(q, substr) {
			c++
		}
	}
	return c
}

func TestResponseTimesFromBucketsWithoutRules(t *testing.T) {
	o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute}
	t.Run("the index lists no recorded series: the buckets, straight away", func(t *testing.T) {
		q := &listed{}
		reg := prometheus.NewRegistry()
		b := NewBuilder(q, reg)
		g, err := b.Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.count(recordedDuration); got != 0 {
			t.Errorf("recorded series asked %d times, though the store has none", got)
		}
		// Each of the four (quantile, requests, throughput, TCP) in two
		// queries: the first scope alone, the others in one; how much of
		// the window the store covers; and, beside the index, the rules'
		// last evaluation (asked before the index says there are none).
		if got := q.count("histogram_quantile"); got != 2 || g.Queries != 10 || len(q.queries) != 10 {
			t.Errorf("buckets asked %d times, %d queries in all (%d sent); want 2 and 10", got, g.Queries, len(q.queries))
		}
		if got := testutil.ToFloat64(b.responseTimes.WithLabelValues("buckets")); got != 1 {
			t.Errorf("meshlens_graph_response_times_total{source=\"buckets\"} = %v, want 1", got)
		}
	})
	for _, tc := range []struct {
		name string
		q    *answering
		// recorded are the queries of recorded series, queries all of them
		// (two per union of scopes; one of the edges short of samples per
		// recorded series; one of the rules' evaluations; one of their
		// last evaluation).
		recorded, queries int
	}{
		{"listed, but silent on an edge with requests: the buckets after", &answering{listed: listed{values: map[string][]string{labels.MetricName: {recordedDuration + "p95"}, traffic.RulesLabel: {ours}}}}, 3, 13},
		// Throughput too is asked of its recorded series, then of the raw.
		{"the store cannot list names: asked, then the buckets", &answering{listed: listed{err: errors.New("404")}}, 6, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.answers = map[string]promclient.Vector{requestsOfBookinfo: {oneRequest}}
			g, err := NewBuilder(tc.q, nil).Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.q.count("meshlens_edge:") != tc.recorded || tc.q.count(recordedDuration) != 3 || tc.q.count("histogram_quantile") != 2 || g.Queries != tc.queries {
				t.Errorf("recorded asked %d (response times %d), buckets %d, queries %d; want %d, 3, 2, %d",
					tc.q.count("meshlens_edge:"), tc.q.count(recordedDuration), tc.q.count("histogram_quantile"), g.Queries, tc.recorded, tc.queries)
			}
		})
	}
	t.Run("avg comes from the histogram's sum and count", func(t *testing.T) {
		q := &listed{}
		avg := o
		avg.ResponseTime = "avg"
		NewBuilder(q, nil).Build(context.Background(), avg)
		if q.count("istio_request_duration_milliseconds_sum") != 2 || q.count("istio_request_duration_milliseconds_count") != 2 {
			t.Errorf("queries: %q", q.queries)
		}
	})
	t.Run("recorded series are read over two intervals more than the window", func(t *testing.T) {
		q := &listed{values: map[string][]string{labels.MetricName: {recordedDuration + "p95"}, traffic.RulesLabel: {ours}}}
		NewBuilder(q, nil).Build(context.Background(), o)
		if q.count(recordedDuration+"p95{") == 0 || q.count("[1m30s])") == 0 {
			t.Errorf("queries: %q", q.queries)
		}
	})
}

func TestThroughputFromRecordedSeries(t *testing.T) {
	o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute}
	requestBytes, responseBytes := recordedThroughput("istio_request_bytes"), recordedThroughput("istio_response_bytes")
	for _, tc := range []struct {
		name       string
		throughput string
		listed     []string
		answer     bool
		// want are the substrings of the throughput queries, in order.
		want   []string
		source string
	}{
		{"not listed: the raw sums straight away", "", nil, false, []string{"rate(istio_request_bytes_sum{"}, "raw"},
		{"listed and answered: the recorded series alone", "", []string{requestBytes}, true, []string{"sum_over_time(" + requestBytes + "{"}, "recorded"},
		{"listed but silent: the raw sums after", "", []string{requestBytes}, false, []string{"sum_over_time(" + requestBytes + "{", "rate(istio_request_bytes_sum{"}, "raw"},
		{"response bytes read their own recorded series", "response", []string{requestBytes, responseBytes}, true, []string{"sum_over_time(" + responseBytes + "{"}, "recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &answering{listed: listed{values: map[string][]string{labels.MetricName: tc.listed, traffic.RulesLabel: {ours}}},
				answers: map[string]promclient.Vector{requestsOfBookinfo: {oneRequest}}}
			if tc.answer {
				q.answers = map[string]promclient.Vector{"sum(count_over_time(" + ruleEvaluations: {{Metric: labels.EmptyLabels(), Value: 6}}, "sum_over_time(meshlens_edge:istio_re": {{Metric: labels.FromStrings(
					"reporter", "destination", "source_workload", "productpage-v1", "destination_workload", "reviews-v1"), Value: 10}}}
			}
			reg := prometheus.NewRegistry()
			b := NewBuilder(q, reg)
			oo := o
			oo.Throughput = tc.throughput
			if _, err := b.Build(context.Background(), oo); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, query := range q.queries {
				for _, w := range []string{"sum_over_time(" + requestBytes + "{", "sum_over_time(" + responseBytes + "{", "rate(istio_request_bytes_sum{", "rate(istio_response_bytes_sum{"} {
					// The two queries of one union count once.
					if (strings.HasPrefix(query, w) || strings.Contains(query, "("+w)) && (len(got) == 0 || got[len(got)-1] != w) {
						got = append(got, w)
						break
					}
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("throughput queries %q, want %q", got, tc.want)
			}
			if v := testutil.ToFloat64(b.throughputs.WithLabelValues(tc.source)); v != 1 {
				t.Errorf("meshlens_graph_throughput_total{source=%q} = %v, want 1", tc.source, v)
			}
		})
	}
}

// requestsOfBookinfo is in the requests query of bookinfo, and oneRequest
// is an answer to it.
const requestsOfBookinfo = `rate(istio_requests_total{destination_service_namespace="bookinfo",reporter="destination"}`

var oneRequest = promclient.Sample{Metric: labels.FromStrings("reporter", "destination", "source_workload", "productpage-v1", "destination_workload", "reviews-v1",
	"request_protocol", "http", "response_code", "200"), Value: 1}

// answering is listed, but answers the queries that hold a key of answers.
type answering struct {
	listed
	answers map[string]promclient.Vector
}

func (a *answering) Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error) {
	a.listed.Query(ctx, q, ts)
	// The answer of the key found first: a query may hold another's
	// query further on.
	var answer promclient.Vector
	at := len(q)
	for key, v := range a.answers {
		if i := strings.Index(q, key); i >= 0 && i < at {
			answer, at = v, i
		}
	}
	return answer, nil
}

// listed answers LabelValues from values by label (or err) and every query
// with nothing.
type listed struct {
	noRules
	values map[string][]string
	err    error
}

func (l *listed) LabelValues(_ context.Context, name string, _, _ time.Time) ([]string, error) {
	return l.values[name], l.err
}

func TestNamespaceMatchersTakeTheCheaperForm(t *testing.T) {
	many := []string{"a", "b", "c", "d"}
	cases := []struct {
		name   string
		asked  []string
		values map[string][]string
		err    error
		// in the requests query
		want, wantNot    []string
		destinationParts int
	}{
		{
			name: "the whole mesh: no namespace matcher at all", asked: many,
			values:  map[string][]string{dstNS: many, srcNS: append([]string{"unknown"}, many...)},
			wantNot: []string{`destination_service_namespace=`, `destination_service_namespace!`, `source_workload_namespace=`, `source_workload_namespace!`},
			// "from the namespaces to outside" can't happen: one part of
			// destination-reported requests, not two, and one selector of
			// them that the unreached part is de-duplicated against.
			destinationParts: 2,
		},
		{
			name: "one namespace of several: plain matchers", asked: []string{"a"},
			values: map[string][]string{dstNS: many, srcNS: many},
			want:   []string{`destination_service_namespace="a"`, `source_workload_namespace="a"`, `destination_service_namespace!="a"`},
		},
		{
			name: "the store cannot list values: plain matchers", asked: many, err: errors.New("404"),
			want: []string{`destination_service_namespace=~"a|b|c|d"`, `source_workload_namespace=~"a|b|c|d"`, `destination_service_namespace!~"a|b|c|d"`},
		},
		{
			name: "namespaces without any traffic: plain matchers, a query that finds nothing", asked: []string{"quiet"},
			values: map[string][]string{dstNS: many, srcNS: many},
			want:   []string{`destination_service_namespace="quiet"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := &listed{values: tc.values, err: tc.err}
			if _, err := NewBuilder(q, nil).Build(context.Background(), Options{Namespaces: tc.asked, Type: TypeWorkload, Duration: time.Minute}); err != nil {
				t.Fatal(err)
			}
			// The requests union, its queries together.
			requests := ""
			for _, qq := range q.queries {
				if strings.Contains(qq, "rate(istio_requests_total") {
					requests += qq + "\n"
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(requests, w) {
					t.Errorf("the requests query lacks %s:\n%s", w, requests)
				}
			}
			if n := strings.Count(requests, `reporter="destination"`); tc.destinationParts > 0 && n != tc.destinationParts {
				t.Errorf("%d parts of destination-reported requests, want %d:\n%s", n, tc.destinationParts, requests)
			}
			for _, w := range tc.wantNot {
				if strings.Contains(requests, w) {
					t.Errorf("the requests query has %s:\n%s", w, requests)
				}
			}
		})
	}
}

// byParts answers the requests queries by which part of their union they
// are: the first (destination-reported requests into the namespace) or the
// others together.
type byParts struct {
	listed
	first, rest promclient.Vector
}

func (b *byParts) Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error) {
	b.listed.Query(ctx, q, ts)
	switch {
	case !strings.Contains(q, "rate(istio_requests_total"):
		return nil, nil
	case strings.Contains(q, " or "):
		return b.rest, nil
	}
	return b.first, nil
}

func TestUnionsAreSentAsTheirFirstPartAndTheRest(t *testing.T) {
	row := func(reporter, src, dst, dstNS string) promclient.Sample {
		return promclient.Sample{Metric: labels.FromStrings("reporter", reporter, "source_workload", src, "source_workload_namespace", "bookinfo",
			"destination_workload", dst, "destination_workload_namespace", dstNS, "destination_service_namespace", dstNS,
			"destination_service_name", dst, "request_protocol", "http", "response_code", "200", "response_flags", "-"), Value: 1}
	}
	q := &byParts{
		first: promclient.Vector{row("destination", "productpage-v1", "reviews-v1", "bookinfo")},
		rest:  promclient.Vector{row("destination", "reviews-v1", "ratings-v1", "other")},
	}
	g, err := NewBuilder(q, nil).Build(context.Background(), Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Sent at once, in either order.
	var first, rest []string
	for _, qq := range q.queries {
		switch {
		case !strings.Contains(qq, "rate(istio_requests_total"):
		case strings.Contains(qq, " or "):
			rest = append(rest, qq)
		default:
			first = append(first, qq)
		}
	}
	parts := traffic.Scope{Namespaces: []string{"bookinfo"}}.Rates(telemetry.Select(telemetry.RequestsTotal), time.Minute, nil, nil)
	if len(first) != 1 || len(rest) != 1 || strings.Count(rest[0], " or ") != len(parts)-2 ||
		!strings.Contains(first[0], `{destination_service_namespace="bookinfo",reporter="destination"}`) {
		t.Fatalf("requests queries, want the first of %d parts alone and the others in one:\n%s\n%s", len(parts), strings.Join(first, "\n"), strings.Join(rest, "\n"))
	}
	var edges []string
	for _, e := range g.Edges() {
		edges = append(edges, e.Source.Workload+">"+e.Dest.Workload)
	}
	if got := strings.Join(edges, " "); got != "productpage-v1>reviews-v1 reviews-v1>ratings-v1" {
		t.Errorf("edges %s, want those of both queries", got)
	}
}

// ours is the rules label of the rules the builders here read.
var ours = traffic.RulesLabelValue(15 * time.Second)

// assumedInterval is a store that does not say its scrape interval.
type assumedInterval struct{ noRules }

func (*assumedInterval) ScrapeInterval(context.Context) (time.Duration, error) {
	return promclient.DefaultScrapeInterval, fmt.Errorf("%w: 404", promclient.ErrIntervalAssumed)
}

func TestAnAssumedScrapeIntervalIsAWarningNotAnError(t *testing.T) {
	g, err := NewBuilder(&assumedInterval{}, nil).Build(context.Background(), Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if g.Duration != 2*promclient.DefaultScrapeInterval || len(g.Warnings) < 2 || !strings.Contains(strings.Join(g.Warnings, "\n"), "--prometheus.scrape-interval") {
		t.Errorf("window %s, warnings %q: want twice the default and a warning that names the flag", g.Duration, g.Warnings)
	}
}

func TestTimeBoundsAreBadRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"a queryTime an hour ahead", Options{QueryTime: time.Now().Add(time.Hour)}, "in the future"},
		{"a duration of a hundred years", Options{Duration: 100 * 365 * 24 * time.Hour}, "longer than 30d"},
	} {
		t.Run(tc.name+" is a bad request that says why", func(t *testing.T) {
			o := tc.opts
			o.Namespaces, o.Type = []string{"bookinfo"}, TypeWorkload
			if o.Duration == 0 {
				o.Duration = time.Minute
			}
			_, err := NewBuilder(&noRules{}, nil).Build(context.Background(), o)
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want a bad request saying %q", err, tc.want)
			}
		})
	}
}

func TestEdgesTheRulesMissedAreAskedOfTheirWorkloadsOnly(t *testing.T) {
	edge := func(src, dst string) labels.Labels {
		return labels.FromStrings("reporter", "destination", "source_workload", src, "source_workload_namespace", "bookinfo",
			"destination_workload", dst, "destination_workload_namespace", "bookinfo", "destination_service_namespace", "bookinfo",
			"destination_service_name", dst, "request_protocol", "http", "response_code", "200")
	}
	var requests promclient.Vector
	for _, src := range []string{"a", "b", "c"} {
		requests = append(requests, promclient.Sample{Metric: edge(src, "x"), Value: 1})
	}
	q := &answering{
		listed: listed{values: map[string][]string{labels.MetricName: {recordedDuration + "p95"}, traffic.RulesLabel: {ours}}},
		answers: map[string]promclient.Vector{
			requestsOfBookinfo:                           requests,
			"avg_over_time(" + recordedDuration + "p95{": {{Metric: edge("a", "x"), Value: 5}, {Metric: edge("b", "x"), Value: 5}},
		},
	}
	if _, err := NewBuilder(q, nil).Build(context.Background(), Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var raw []string
	for _, query := range q.queries {
		if strings.Contains(query, "histogram_quantile") {
			raw = append(raw, query)
		}
	}
	if len(raw) == 0 {
		t.Fatal("the edge without a recorded response time was not asked of the raw series")
	}
	for _, query := range raw {
		if !strings.Contains(query, `source_workload="c"`) || strings.Contains(query, `source_workload=~`) {
			t.Errorf("the raw query is not narrowed to the caller the rules missed (c): %s", query)
		}
	}
}

func TestRawQuantilesAreSentInShares(t *testing.T) {
	many := []string{"a", "b", "c", "d"}
	q := &listed{values: map[string][]string{dstNS: many, srcNS: many}}
	g, err := NewBuilder(q, nil).Build(context.Background(), Options{Namespaces: many, Type: TypeWorkload, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var quantiles []string
	for _, query := range q.queries {
		if strings.HasPrefix(query, "histogram_quantile") && !strings.Contains(query, " or ") {
			quantiles = append(quantiles, query)
		}
	}
	if len(quantiles) != quantileSplit || g.Queries != 9+quantileSplit {
		t.Fatalf("%d queries of the destinations' buckets alone (%d in all), want %d (%d): %q", len(quantiles), g.Queries, quantileSplit, 9+quantileSplit, quantiles)
	}
	// Each namespace in exactly one share.
	shareOf := regexp.MustCompile(`destination_service_namespace=~?"([^"]*)"`)
	seen := map[string]int{}
	for _, query := range quantiles {
		m := shareOf.FindStringSubmatch(query)
		if m == nil {
			t.Fatalf("a share without a destination namespace matcher: %s", query)
		}
		for _, ns := range strings.Split(m[1], "|") {
			seen[ns]++
		}
	}
	for _, ns := range many {
		if seen[ns] != 1 {
			t.Errorf("namespace %s is in %d shares, want 1: %q", ns, seen[ns], quantiles)
		}
	}
}

// refusingAt is answering, but refuses every query with PromQL's @ as a
// store that disabled it does.
type refusingAt struct {
	answering
	refused int
}

func (r *refusingAt) Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error) {
	if strings.Contains(q, " @ ") {
		r.mu.Lock()
		r.refused++
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: 1:40: parse error: @ modifier is disabled", promclient.ErrBadQuery)
	}
	return r.answering.Query(ctx, q, ts)
}

func TestAStoreThatRefusesAtIsReadUpToTheGraphsTime(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute, QueryTime: at}
	recorded := promclient.Vector{{Metric: labels.FromStrings("reporter", "destination", "source_workload", "productpage-v1", "destination_workload", "reviews-v1"), Value: 10}}
	q := &refusingAt{answering: answering{
		listed: listed{values: map[string][]string{labels.MetricName: {recordedThroughput("istio_request_bytes")}, traffic.RulesLabel: {ours}}},
		answers: map[string]promclient.Vector{
			requestsOfBookinfo:                       {oneRequest},
			"timestamp(" + ruleEvaluations:           {{Metric: labels.FromStrings(traffic.RulesLabel, ours), Value: float64(at.Unix() - 10)}},
			"sum(count_over_time(" + ruleEvaluations: {{Metric: labels.EmptyLabels(), Value: 6}},
			"sum_over_time(meshlens_edge:istio_re":   recorded,
		}}}
	b := NewBuilder(q, nil)
	for i := range 2 {
		g, err := b.Build(context.Background(), o)
		if err != nil {
			t.Fatalf("graph %d: %v", i, err)
		}
		if e := g.Edges(); len(e) != 1 || !e[0].HasThroughput {
			t.Fatalf("graph %d: %d edges, want one with throughput", i, len(e))
		}
		if got := testutil.ToFloat64(b.throughputs.WithLabelValues("recorded")); got != float64(i+1) {
			t.Errorf("graph %d: %v graphs with recorded throughput, want %d", i, got, i+1)
		}
	}
	// The first graph tried @ once (its queries with it refused), the
	// second did not.
	if q.refused == 0 || q.count(" @ ") != 0 {
		t.Errorf("queries with @ refused %d, sent %d; want some refused, then none sent", q.refused, q.count(" @ "))
	}
}
