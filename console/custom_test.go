package console

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/metrics"
	"github.com/meshlens/meshlens/promclient"
)

// TestCustomDashboardChartsAnAppsOwnMetrics: a configured custom dashboard
// charts the metrics of the namespace's pods that carry labelsFilters:
// a rate per second, raw values, split by byLabels; an unknown dashboard
// is a 404 naming those there are, a malformed filter a 400.
func TestCustomDashboardChartsAnAppsOwnMetrics(t *testing.T) {
	// reviews-v2 serves 3 requests a second (2 on /a, 1 on /b) and holds
	// 100 bytes of heap; ratings, in the same namespace, is not asked.
	st := promqltest.LoadedStorage(t, `
load 15s
  vertx_http_server_requests_total{namespace="bookinfo", app="reviews", version="v2", path="/a"} 0+30x40
  vertx_http_server_requests_total{namespace="bookinfo", app="reviews", version="v2", path="/b"} 0+15x40
  vertx_http_server_requests_total{namespace="bookinfo", app="ratings", version="v1", path="/a"} 0+300x40
  jvm_memory_used_bytes{namespace="bookinfo", app="reviews", version="v2", area="heap"} 100+0x40
`)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := &shifted{Engine: promclient.NewEngine(engine, st, 15*time.Second), by: time.Duration(time.Now().Unix()-600) * time.Second}
	vertx := metrics.CustomDashboard{Name: "vertx-server", Title: "Vert.x Server Metrics", Items: []metrics.CustomItem{
		{Chart: metrics.CustomChart{Name: "Server requests", Unit: "ops", Spans: 6, MetricName: "vertx_http_server_requests_total", DataType: "rate",
			Aggregations: []metrics.Aggregation{{Label: "path", DisplayName: "Path"}}}},
		{Chart: metrics.CustomChart{Name: "Heap used", Unit: "bytes", MetricName: "jvm_memory_used_bytes", DataType: "raw"}},
	}}
	if err := vertx.Check(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(graph.NewBuilder(q, nil), nil).WithMetrics(metrics.NewReader(q)).WithCustomDashboards([]metrics.CustomDashboard{vertx}).Handler())
	defer ts.Close()

	type dashboard struct {
		Title  string `json:"title"`
		Charts []struct {
			Name    string `json:"name"`
			Metrics []struct {
				Labels     map[string]string `json:"labels"`
				Datapoints [][2]any          `json:"datapoints"`
			} `json:"metrics"`
		} `json:"charts"`
		Aggregations []struct {
			Label string `json:"label"`
		} `json:"aggregations"`
	}
	get := func(query string) dashboard {
		t.Helper()
		resp, err := http.Get(ts.URL + "/api/namespaces/bookinfo/customdashboard/vertx-server?duration=300&step=60&rateInterval=60&" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d dashboard
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		return d
	}
	last := func(points [][2]any) float64 {
		v, _ := strconv.ParseFloat(fmt.Sprint(points[len(points)-1][1]), 64)
		return v
	}
	d := get("labelsFilters=app:reviews,version:v2")
	if d.Title != "Vert.x Server Metrics" || len(d.Charts) != 2 || len(d.Aggregations) != 1 || d.Aggregations[0].Label != "path" {
		t.Fatalf("dashboard %+v", d)
	}
	if m := d.Charts[0].Metrics; len(m) != 1 || math.Abs(last(m[0].Datapoints)-3) > 0.01 {
		t.Errorf("requests of reviews-v2 %+v, want one series at 3/s", m)
	}
	if m := d.Charts[1].Metrics; len(m) != 1 || last(m[0].Datapoints) != 100 {
		t.Errorf("heap of reviews-v2 %+v, want 100", m)
	}
	byPath := map[string]float64{}
	for _, m := range get("labelsFilters=app:reviews&byLabels[]=path").Charts[0].Metrics {
		byPath[m.Labels["path"]] = last(m.Datapoints)
	}
	if len(byPath) != 2 || math.Abs(byPath["/a"]-2) > 0.01 || math.Abs(byPath["/b"]-1) > 0.01 {
		t.Errorf("requests by path %v, want /a 2/s and /b 1/s", byPath)
	}

	for _, tc := range []struct{ path, says string }{
		{"/api/namespaces/bookinfo/customdashboard/nodejs", "vertx-server"},
		{"/api/namespaces/bookinfo/customdashboard/vertx-server?labelsFilters=app", "label:value"},
		{"/api/namespaces/bookinfo/customdashboard/vertx-server?labelsFilters=a%22b:x", "label name"},
	} {
		code, body := getJSON(t, ts.URL+tc.path)
		if code < 400 || code >= 500 || !strings.Contains(fmt.Sprint(body["error"]), tc.says) {
			t.Errorf("%s: %d %v, want a 4xx saying %s", tc.path, code, body, tc.says)
		}
	}
}
