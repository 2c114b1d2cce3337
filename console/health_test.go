package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/metrics"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic/traffictest"
	"github.com/meshlens/meshlens/validate"
)

// healthServer (health and metrics) serves bookinfo's inventory and hand-written traffic:
// reviews-v2 answers half its requests 500, the rest is fine. Series end
// at the time of the test, so that health "now" reads them.
func healthServer(t *testing.T, with ...func(*Server)) *httptest.Server {
	t.Helper()
	end := time.Now().Unix()
	start := end - 600
	const load = `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+30x40
`
	expanded, err := traffictest.ExpandSeries(load)
	if err != nil {
		t.Fatal(err)
	}
	st := promqltest.LoadedStorage(t, expanded)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := &shifted{Engine: promclient.NewEngine(engine, st, 15*time.Second), by: time.Duration(start) * time.Second}
	b, err := os.ReadFile("../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects, errs := inventory.Parse("bookinfo.yaml", b)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	snap := inventory.NewSnapshot(objects)
	for _, w := range snap.Workloads {
		snap.SetAvailable(w.Namespace, w.Name, 1)
	}
	srv := New(graph.NewBuilder(q, nil), nil).WithInventory(inventory.NewStatic(snap), validate.Options{}, nil).WithHealth(health.NewChecker(q, nil)).WithMetrics(metrics.NewReader(q))
	for _, f := range with {
		f(srv)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// shifted moves the loaded series (from 0s) to end now.
type shifted struct {
	*promclient.Engine
	by time.Duration
}

func (s *shifted) Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error) {
	return s.Engine.Query(ctx, q, ts.Add(-s.by))
}

func (s *shifted) QueryRange(ctx context.Context, q string, r promclient.Range) (promclient.Matrix, error) {
	m, err := s.Engine.QueryRange(ctx, q, promclient.Range{Start: r.Start.Add(-s.by), End: r.End.Add(-s.by), Step: r.Step})
	for i := range m {
		for j := range m[i].Points {
			m[i].Points[j].T += s.by.Milliseconds()
		}
	}
	return m, err
}

func statusOfEntity(t *testing.T, e any) string {
	t.Helper()
	m, ok := e.(map[string]any)
	if !ok {
		t.Fatalf("entity %v", e)
	}
	return m["status"].(map[string]any)["status"].(string)
}

func TestHealthAPI(t *testing.T) {
	ts := healthServer(t)
	t.Run("a namespace's workloads by name, with Kiali's fields and a status", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/namespaces/bookinfo/health?type=workload&rateInterval=5m")
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		for name, want := range map[string]string{"reviews-v2": "Failure", "details-v1": "Healthy", "productpage-v1": "Failure", "ratings-v1": "Healthy"} {
			if got := statusOfEntity(t, body[name]); got != want {
				t.Errorf("%s is %s, want %s: %v", name, got, want, body[name])
			}
		}
		ws := body["ratings-v1"].(map[string]any)["workloadStatus"].(map[string]any)
		if ws["desiredReplicas"] != 1.0 || ws["availableReplicas"] != 1.0 {
			t.Errorf("workloadStatus %v", ws)
		}
	})
	t.Run("services across namespaces in Kiali's clusters shape", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/clusters/health?namespaces=bookinfo,istio-system&type=service")
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		byNS := body["namespaceServiceHealth"].(map[string]any)
		if got := statusOfEntity(t, byNS["bookinfo"].(map[string]any)["reviews"]); got != "Failure" {
			t.Errorf("service reviews is %s", got)
		}
		if _, ok := byNS["istio-system"].(map[string]any)["istio-ingressgateway"]; !ok {
			t.Errorf("istio-system services %v", byNS["istio-system"])
		}
	})
	t.Run("one app, with its workloads' availability", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/namespaces/bookinfo/apps/reviews/health")
		if code != 200 || statusOfEntity(t, body) != "Failure" {
			t.Fatalf("%d %v", code, body)
		}
		if n := len(body["workloadStatuses"].([]any)); n != 3 {
			t.Errorf("%d workload statuses, want reviews' 3", n)
		}
	})
	t.Run("a rate interval under two scrapes is widened, and a Warning header says so", func(t *testing.T) {
		resp, err := http.Get(ts.URL + "/api/namespaces/bookinfo/health?type=workload&rateInterval=10s")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if w := resp.Header.Get("Warning"); resp.StatusCode != 200 || !strings.Contains(w, "twice the scrape interval") {
			t.Errorf("%d, Warning %q", resp.StatusCode, w)
		}
	})
	for _, tc := range []struct {
		name, path string
		code       int
		says       string
	}{
		{"an unknown type is a 400 naming it", "/api/namespaces/bookinfo/health?type=pods", 400, "pods"},
		{"a bad rate interval is a 400 naming it", "/api/namespaces/bookinfo/health?rateInterval=soon", 400, "rateInterval"},
		{"a query time in the future is a 400", fmt.Sprintf("/api/namespaces/bookinfo/health?queryTime=%d", time.Now().Add(time.Hour).Unix()), 400, "future"},
		{"an unknown namespace is a 404", "/api/namespaces/nowhere/health", 404, "nowhere"},
		{"an unknown workload is a 404", "/api/namespaces/bookinfo/workloads/nobody/health", 404, "nobody"},
		{"an unknown kind of entity is a 404", "/api/namespaces/bookinfo/pods/x/health", 404, "pods"},
		{"clusters health without namespaces is a 400", "/api/clusters/health", 400, "namespaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := getJSON(t, ts.URL+tc.path)
			if code != tc.code || !strings.Contains(fmt.Sprint(body["error"]), tc.says) {
				t.Errorf("%d %v", code, body)
			}
		})
	}
}
