package console

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/cardinality"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/promclient"
)

func (s *shifted) LabelNames(ctx context.Context, start, end time.Time) ([]string, error) {
	return s.Engine.LabelNames(ctx, start.Add(-s.by), end.Add(-s.by))
}

func (s *shifted) LabelValues(ctx context.Context, name string, start, end time.Time) ([]string, error) {
	return s.Engine.LabelValues(ctx, name, start.Add(-s.by), end.Add(-s.by))
}

func (s *shifted) CountingSamples(n *atomic.Int64) promclient.RangeQuerier {
	return &shifted{Engine: s.Engine.CountingSamples(n).(*promclient.Engine), by: s.by}
}

// /api/cardinality answers what `meshlens cardinality` prints: here two
// series, one of a metric kiali drops.
func TestCardinalityAPICountsSeriesAndWhatKialiLeaves(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 15s
  istio_requests_total{reporter="destination", source_app="productpage", destination_workload="details-v1"} 0+1x40
  istio_agent_go_goroutines{pod="details-v1-1"} 50x40
`)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := &shifted{Engine: promclient.NewEngine(engine, st, 15*time.Second), by: time.Duration(time.Now().Unix()-600) * time.Second}
	shared := promclient.NewShared(q, 4, nil)
	ts := httptest.NewServer(New(graph.NewBuilder(shared, nil), nil).WithTelemetry(shared).Handler())
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/api/cardinality?top=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r cardinality.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if r.Series != 2 || len(r.Metrics) != 1 || len(r.Presets) != 3 || r.Presets[1].Name != "kiali" || r.Presets[1].Series != 1 ||
		len(r.Presets[1].DroppedLabels) != 1 || r.Presets[1].DroppedLabels[0] != "source_app" {
		t.Errorf("report %+v: want 2 series, the top metric only, and kiali leaving 1 series without source_app", r)
	}
	if r.Graph != nil {
		t.Errorf("a graph's cost with no namespace in the telemetry: %+v", r.Graph)
	}
	for _, bad := range []string{"top=0", "top=lots", "top=100000", "graphDuration=forever", "graphDuration=400d", "graphRefresh=-1s"} {
		code, body := getJSON(t, ts.URL+"/api/cardinality?"+bad)
		if code != http.StatusBadRequest || body["error"] == nil {
			t.Errorf("%s: %d %v, want 400 saying what top takes", bad, code, body)
		}
	}
}

// The graph's query cost: the graph page's default graph (versioned apps
// of the namespaces with telemetry, 1m) built once with every query's
// samples counted, priced for a tab refreshing it every 15s (or as
// asked) for a month of 730 hours at $0.10 per billion samples.
func TestCardinalityAPIPricesTheGraphsQueries(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 15s
  istio_requests_total{reporter="destination", source_workload="productpage-v1", source_workload_namespace="bookinfo", source_canonical_service="productpage", source_canonical_revision="v1", destination_workload="details-v1", destination_workload_namespace="bookinfo", destination_service_namespace="bookinfo", destination_service_name="details", destination_canonical_service="details", destination_canonical_revision="v1", response_code="200", response_flags="-", request_protocol="http", connection_security_policy="mutual_tls"} 0+15x40
`)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := &shifted{Engine: promclient.NewEngine(engine, st, 15*time.Second), by: time.Duration(time.Now().Unix()-600) * time.Second}
	shared := promclient.NewShared(q, 4, nil)
	ts := httptest.NewServer(New(graph.NewBuilder(shared, nil), nil).WithTelemetry(shared).Handler())
	defer ts.Close()

	report := func(params string) cardinality.Report {
		t.Helper()
		resp, err := http.Get(ts.URL + "/api/cardinality?" + params)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r cardinality.Report
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", params, resp.StatusCode, err)
		}
		return r
	}
	r := report("")
	g := r.Graph
	if g == nil || len(g.Namespaces) != 1 || g.Namespaces[0] != "bookinfo" || g.Duration != "1m" || g.Every != "15s" {
		t.Fatalf("graph %+v: want bookinfo's graph over 1m refreshed every 15s", g)
	}
	// The requests' rate alone reads the series' 4 samples in the last
	// minute; the graph asks more (codes, response times, throughput).
	if g.SamplesPerRefresh < 4 {
		t.Errorf("%d samples a refresh: the rate of requests alone reads 4", g.SamplesPerRefresh)
	}
	perMonth := float64(g.SamplesPerRefresh) * 730 * 3600 / 15
	if math.Abs(g.SamplesPerMonth-perMonth) > 1e-6*perMonth || math.Abs(g.MonthlyUSD-perMonth/1e9*0.10) > 1e-12 {
		t.Errorf("%d samples a refresh every 15s: %g a month for $%g, want %g for $%g", g.SamplesPerRefresh, g.SamplesPerMonth, g.MonthlyUSD, perMonth, perMonth/1e9*0.10)
	}
	if slow := report("graphRefresh=30s").Graph; slow == nil || slow.SamplesPerRefresh != g.SamplesPerRefresh || math.Abs(slow.SamplesPerMonth-perMonth/2) > 1e-6*perMonth {
		t.Errorf("refreshed every 30s: %+v, want the same samples a refresh and half a month's", slow)
	}
	if none := report("graphRefresh=0").Graph; none != nil {
		t.Errorf("graphRefresh=0 measured a graph: %+v", none)
	}
}
