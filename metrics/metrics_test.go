package metrics

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/collect"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic/traffictest"
)

// Series written by hand, ten minutes of them: productpage-v1 calls
// reviews-v2 twice a second, one of the two answered 500, each taking
// 100 ms; reviews-v2 calls ratings-v1 once a second, the call retried
// twice on 503 (three attempts reported by ratings, one URX by the caller).
const series = `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
  istio_request_duration_milliseconds_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+3000x40
  istio_request_duration_milliseconds_count{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+30x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="50"} 0+0x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="100"} 0+30x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="+Inf"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", response_code="503"} 0+45x40
  istio_requests_total{reporter="source", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", response_code="503", response_flags="URX"} 0+15x40
`

func read(t *testing.T, o Options) *Answer {
	t.Helper()
	expanded, err := traffictest.ExpandSeries(series)
	if err != nil {
		t.Fatal(err)
	}
	st := promqltest.LoadedStorage(t, expanded)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	o.Namespace, o.QueryTime, o.Duration, o.Step, o.RateInterval = "bookinfo", time.Unix(600, 0), 5*time.Minute, time.Minute, time.Minute
	a, err := NewReader(promclient.NewEngine(engine, st, 15*time.Second)).Read(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The same answer from the series as the collector's kiali preset
	// keeps them: the metrics read none of what it drops.
	thinned := traffictest.Thinned(t, st, collect.ThinningKiali.RelabelConfigs())
	b, err := NewReader(promclient.NewEngine(engine, thinned, 15*time.Second)).Read(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := traffictest.Rounded(t, b), traffictest.Rounded(t, a); got != want {
		t.Errorf("metrics from kiali-thinned series differ:\n got %s\nwant %s", got, want)
	}
	return a
}

// last is the value of the one series of a metric (and stat) at the last point.
func last(t *testing.T, a *Answer, name, stat string) float64 {
	t.Helper()
	var found []Metric
	for _, m := range a.Metrics[name] {
		if m.Stat == stat {
			found = append(found, m)
		}
	}
	if len(found) != 1 || len(found[0].Datapoints) == 0 {
		t.Fatalf("%s %s: %d series %v", name, stat, len(found), a.Metrics[name])
	}
	p := found[0].Datapoints[len(found[0].Datapoints)-1]
	if p.T != 600 {
		t.Errorf("%s: last point at %d, want 600", name, p.T)
	}
	return p.V
}

func TestMetricsFromSeries(t *testing.T) {
	cases := []struct {
		name      string
		o         Options
		metric    string
		stat      string
		want      float64
		tolerance float64
	}{
		{"a workload's inbound requests, as its sidecar reported them", Options{Kind: Workload, Name: "reviews-v2"}, RequestCount, "", 2, 1e-9},
		{"its inbound errors", Options{Kind: Workload, Name: "reviews-v2"}, RequestErrorCount, "", 1, 1e-9},
		{"its mean response time", Options{Kind: Workload, Name: "reviews-v2"}, RequestDuration, "avg", 100, 1e-9},
		{"its p95 from the buckets", Options{Kind: Workload, Name: "reviews-v2", Quantiles: []string{"0.95"}}, RequestDuration, "0.95", 97.5, 1e-6},
		{"a caller's outbound requests, as its sidecar reported them", Options{Kind: Workload, Name: "productpage-v1", Direction: "outbound"}, RequestCount, "", 2, 1e-9},
		{"an app's inbound requests", Options{Kind: App, Name: "reviews"}, RequestCount, "", 2, 1e-9},
		{"a service's inbound requests", Options{Kind: Service, Name: "ratings"}, RequestCount, "", 3, 1e-9},
		{"a retried call's attempts as the destination reported them", Options{Kind: Workload, Name: "ratings-v1"}, RequestCount, "", 3, 1e-9},
		{"the caller's own report of the same call: one request", Options{Kind: Workload, Name: "ratings-v1", Reporter: "source"}, RequestCount, "", 1, 1e-9},
		{"both reporters count each attempt once, not attempts and the caller's answer", Options{Kind: Workload, Name: "ratings-v1", Reporter: "both"}, RequestCount, "", 3, 1e-9},
		{"both reporters count a plain request once, not twice", Options{Kind: Workload, Name: "reviews-v2", Reporter: "both"}, RequestCount, "", 2, 1e-9},
		{"a namespace's inbound requests", Options{Kind: Namespace}, RequestCount, "", 5, 1e-9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.Quantiles == nil {
				tc.o.Quantiles = []string{"avg"}
			}
			tc.o.Filters = []string{tc.metric}
			a := read(t, tc.o)
			if got := last(t, a, tc.metric, tc.stat); math.Abs(got-tc.want) > tc.tolerance {
				t.Errorf("%s = %g, want %g; queries %v", tc.metric, got, tc.want, a.Queries)
			}
		})
	}
}

func TestByLabelsSplitTheSeries(t *testing.T) {
	a := read(t, Options{Kind: Workload, Name: "reviews-v2", Filters: []string{RequestCount}, ByLabels: []string{"response_code"}})
	codes := map[string]bool{}
	for _, m := range a.Metrics[RequestCount] {
		codes[m.Labels["response_code"]] = true
	}
	if len(codes) != 2 || !codes["200"] || !codes["500"] {
		t.Errorf("series by response_code: %v", a.Metrics[RequestCount])
	}
}

func TestEveryMetricIsOneQueryPerStatistic(t *testing.T) {
	a := read(t, Options{Kind: Workload, Name: "reviews-v2"})
	// 10 counters, 3 histograms of 4 statistics each.
	if len(a.Queries) != 10+3*4 || len(a.Metrics) != len(Names()) {
		t.Errorf("%d queries, %d metrics", len(a.Queries), len(a.Metrics))
	}
}

func TestBadOptionsAreErrors(t *testing.T) {
	for _, o := range []Options{
		{Kind: Workload, Name: "w", Direction: "sideways"},
		{Kind: Workload, Name: "w", Reporter: "everyone"},
		{Kind: Workload, Name: "w", Quantiles: []string{"1.5"}},
		{Kind: Workload, Name: "w", Filters: []string{"requests"}},
		{Kind: Workload, Name: "w", ByLabels: []string{`a"} or vector(1) #`}},
		{Kind: Service, Name: "s", Direction: "outbound"},
		{Kind: Workload, Name: "w", RequestProtocol: "ftp"},
		{Kind: Workload, Name: "w", Duration: 24 * time.Hour, Step: time.Second},
	} {
		if err := o.defaults(); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%+v: %v, want a bad request", o, err)
		}
	}
}
