package graph

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic/traffictest"
)

// TestHealthAppenderJudgesNodesAndEdges: with appenders=health, each
// workload node carries its workload's health (as the health API says it)
// and each request edge its requests' health; without it, none.
func TestHealthAppenderJudgesNodesAndEdges(t *testing.T) {
	series, err := traffictest.ExpandSeries(`
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+60x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", request_protocol="grpc", grpc_response_status="14"} 0+12x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", request_protocol="grpc", grpc_response_status="0"} 0+48x40
`)
	if err != nil {
		t.Fatal(err)
	}
	st := promqltest.LoadedStorage(t, series)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	b := NewBuilder(promclient.NewEngine(engine, st, 15*time.Second), nil)
	o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute, QueryTime: time.Unix(600, 0),
		Appenders: []string{AppendHealth}}
	g, err := b.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]string{}
	for _, n := range g.Nodes() {
		if n.Health != nil {
			nodes[n.Workload] = string(n.Health.Status.Status)
		}
	}
	for wl, want := range map[string]string{"productpage-v1": "Failure", "reviews-v2": "Failure", "details-v1": "Healthy", "ratings-v1": "Failure"} {
		if nodes[wl] != want {
			t.Errorf("node %s is %q, want %s (all: %v)", wl, nodes[wl], want, nodes)
		}
	}
	edges := map[string]string{}
	for _, e := range g.Edges() {
		edges[e.Source.Workload+" -> "+e.Dest.Workload] = e.HealthStatus
	}
	for edge, want := range map[string]string{
		"productpage-v1 -> reviews-v2": "Failure", // half 500
		"productpage-v1 -> details-v1": "Healthy",
		"reviews-v2 -> ratings-v1":     "Failure", // gRPC status 14 on a fifth
	} {
		if edges[edge] != want {
			t.Errorf("edge %s is %q, want %s (all: %v)", edge, edges[edge], want, edges)
		}
	}
	var out strings.Builder
	if err := g.WriteJSON(&out, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"healthStatus":"Failure"`, `"healthData":{`, `"requests":{"inbound"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the graph's JSON lacks %s", want)
		}
	}

	// An edge is judged by its source's outbound and its destination's
	// inbound tolerances, the worse of the two: both tolerant here.
	t.Run("the configured tolerances judge nodes and edges", func(t *testing.T) {
		tolerant, err := health.NewConfig([]health.Rate{{Namespace: "bookinfo", Kind: "workload", Name: "productpage-.*|reviews-.*",
			Tolerance: []health.Tolerance{{Code: "5XX", Degraded: 40, Failure: 70}}}})
		if err != nil {
			t.Fatal(err)
		}
		g, err := NewBuilder(promclient.NewEngine(engine, st, 15*time.Second), nil).WithHealth(tolerant).Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range g.Nodes() {
			if n.Workload == "reviews-v2" && (n.Health == nil || n.Health.Status.Status != "Degraded") {
				t.Errorf("reviews-v2 with half its requests failing, tolerated to 40 %%/70 %%: %+v", n.Health)
			}
		}
		for _, e := range g.Edges() {
			if e.Dest.Workload == "reviews-v2" && e.HealthStatus != "Degraded" {
				t.Errorf("edge to reviews-v2 is %q, want Degraded", e.HealthStatus)
			}
		}
	})

	o.Appenders = []string{}
	plain, err := b.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range plain.Nodes() {
		if n.Health != nil {
			t.Errorf("node %s has health without the appender", n.ID)
		}
	}
	if plain.Queries >= g.Queries {
		t.Errorf("%d queries without health, %d with: health should take its own", plain.Queries, g.Queries)
	}
}
