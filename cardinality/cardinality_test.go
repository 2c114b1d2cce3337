package cardinality

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/promclient"
)

// A sidecar's and a pod's series, cut to one of each kind the presets
// decide on. Two istio_requests_total series differ only in source_version,
// which kiali drops: after it they are one.
const mesh = `
load 15s
  istio_requests_total{reporter="destination", source_workload="productpage-v1", destination_workload="details-v1", source_app="productpage", source_version="v1", destination_app="details", pod="details-v1-1", response_code="200"} 0+1x40
  istio_requests_total{reporter="destination", source_workload="productpage-v1", destination_workload="details-v1", source_app="productpage", source_version="v2", destination_app="details", pod="details-v1-1", response_code="200"} 0+1x40
  istio_requests_total{reporter="destination", source_workload="productpage-v1", destination_workload="details-v1", source_app="productpage", source_version="v1", destination_app="details", pod="details-v1-2", response_code="200"} 0+1x40
  istio_requests_total{reporter="source", source_workload="productpage-v1", destination_workload="details-v1", source_app="productpage", source_version="v1", destination_app="details", pod="productpage-v1-1", response_code="200"} 0+1x40
  istio_agent_go_goroutines{pod="details-v1-1"} 50x40
  istio_agent_go_goroutines{pod="productpage-v1-1"} 50x40
  envoy_cluster_upstream_cx_total{pod="productpage-v1-1", cluster_name="outbound|9080||details.bookinfo.svc.cluster.local"} 0+1x40
  envoy_cluster_lb_healthy_panic{pod="productpage-v1-1", cluster_name="outbound|9080||details.bookinfo.svc.cluster.local"} 0x40
  istio_request_bytes_bucket{pod="details-v1-1", le="1024"} 0+1x40
  istio_request_bytes_bucket{pod="details-v1-1", le="+Inf"} 0+1x40
  istio_request_bytes_sum{pod="details-v1-1"} 0+700x40
  istio_request_bytes_count{pod="details-v1-1"} 0+1x40
  up{pod="details-v1-1", app="details", version="v1"} 1x40
`

func TestMeasureCountsWhatEachPresetLeavesAndWhatItCosts(t *testing.T) {
	st := promqltest.LoadedStorage(t, mesh)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	src := promclient.NewEngine(engine, st, 15*time.Second)
	// A graph refresh that read 1,000 samples, every 15 s for a month:
	// 175,200 refreshes, 175.2 million samples, at $0.10 a billion.
	graph := NewGraphRefresh([]string{"bookinfo"}, time.Minute, 15*time.Second, 1000)
	r, err := Measure(context.Background(), src, Options{At: time.Unix(600, 0), ScrapeInterval: 15 * time.Second, Top: 3, Graph: graph})
	if err != nil {
		t.Fatal(err)
	}
	if g := r.Graph; g == nil || g.SamplesPerMonth != 175_200_000 || !near(g.MonthlyUSD, 0.01752) || g.Every != "15s" || g.Duration != "1m" {
		t.Errorf("graph refresh cost %+v, want 175,200,000 samples and $0.01752 a month", g)
	}
	if r.Series != 13 {
		t.Errorf("series %d, want 13", r.Series)
	}
	if want := []Count{{Name: "istio_requests_total", Series: 4}, {Name: "istio_agent_go_goroutines", Series: 2}, {Name: "istio_request_bytes_bucket", Series: 2}}; !slices.Equal(r.Metrics, want) {
		t.Errorf("top metrics %v, want %v", r.Metrics, want)
	}
	// Labels by distinct values: pod holds three, on every series.
	if r.Labels[0] != (Count{Name: "pod", Series: 13, Values: 3}) {
		t.Errorf("top label %v, want pod on 13 series with 3 values", r.Labels[0])
	}
	// 13 series, one sample each every 15 s, 730 hours a month; all in
	// the first band, $0.90 per 10 million.
	want := []Preset{
		{Name: "none", Series: 13, SamplesPerSecond: 13.0 / 15, SamplesPerMonth: 2_277_600, MonthlyUSD: 0.204984},
		// Less the two istio_agent_ and the envoy_cluster_lb_ series, and
		// the two requests series that differ only in source_version.
		{Name: "kiali", Series: 9, SamplesPerSecond: 9.0 / 15, SamplesPerMonth: 1_576_800, MonthlyUSD: 0.141912,
			DroppedLabels: []string{"destination_app", "source_app", "source_version"}},
		// Less the two size buckets too; app and version go from up.
		{Name: "kiali-strict", Series: 7, SamplesPerSecond: 7.0 / 15, SamplesPerMonth: 1_226_400, MonthlyUSD: 0.110376,
			DroppedLabels: []string{"app", "destination_app", "source_app", "source_version", "version"}},
	}
	for i, w := range want {
		g := r.Presets[i]
		if g.Name != w.Name || g.Series != w.Series || !near(g.SamplesPerSecond, w.SamplesPerSecond) || !near(g.SamplesPerMonth, w.SamplesPerMonth) ||
			!near(g.MonthlyUSD, w.MonthlyUSD) || !slices.Equal(g.DroppedLabels, w.DroppedLabels) {
			t.Errorf("preset %s:\n got %+v\nwant %+v", w.Name, g, w)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestCostFillsAMPsBandsInOrder(t *testing.T) {
	for _, c := range []struct{ samples, usd float64 }{
		{0, 0},
		{1e7, 0.90},
		{2e9, 180},
		// 2 billion at $0.90 per 10 million, 1 billion at $0.35.
		{3e9, 180 + 35},
		// 2 billion, 250 billion at $0.35, 48 billion at $0.16.
		{300e9, 180 + 8750 + 768},
	} {
		if got := AMPPrices.Cost(c.samples); !near(got, c.usd) {
			t.Errorf("%g samples: $%g, want $%g", c.samples, got, c.usd)
		}
	}
}

func TestParsePricesReadsBandsAndRefusesWhatIsNotOne(t *testing.T) {
	p, err := ParsePrices("2e9:0.90,252e9:0.35,inf:0.16", "2026-12")
	if err != nil || !slices.Equal(p.Tiers, AMPPrices.Tiers) {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []string{"2e9", "2e9:x", "2e9:0.9,1e9:0.5,inf:0.1", "2e9:0.9"} {
		if _, err := ParsePrices(bad, ""); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
