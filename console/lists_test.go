package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/validate"
)

func TestLists(t *testing.T) {
	b, err := os.ReadFile("../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects, _ := inventory.Parse("bookinfo.yaml", b)
	snap := inventory.NewSnapshot(objects)
	srv := New(graph.NewBuilder(&seenQueries{}, nil), nil).WithInventory(inventory.NewStatic(snap), validate.Options{}, nil)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(path string, into any) int {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode
	}
	t.Run("namespaces", func(t *testing.T) {
		var list []namespaceItem
		if code := get("/api/namespaces", &list); code != 200 || len(list) != 3 || list[0].Name != "batch" || list[1].Name != "bookinfo" || list[1].Labels["istio-injection"] != "enabled" {
			t.Errorf("%d %+v", code, list)
		}
	})
	t.Run("workloads with their sidecars", func(t *testing.T) {
		var body struct{ Workloads []workloadItem }
		if code := get("/api/namespaces/bookinfo/workloads", &body); code != 200 || len(body.Workloads) != 8 {
			t.Fatalf("%d %+v", code, body)
		}
		for _, w := range body.Workloads {
			// The archive runs without a sidecar (sidecar.istio.io/inject: "false").
			if w.IstioSidecar == (w.Name == "archive-v1") || !w.AppLabel || !w.VersionLabel || w.Type != "Deployment" || w.DesiredReplicas != 1 || w.AvailableReplicas != 0 {
				t.Errorf("%+v", w)
			}
		}
	})
	t.Run("services with the workloads behind them", func(t *testing.T) {
		var body struct{ Services []serviceItem }
		get("/api/namespaces/bookinfo/services", &body)
		found, archive := false, false
		for _, s := range body.Services {
			switch s.Name {
			case "reviews":
				found = len(s.Workloads) == 3 && s.IstioSidecar
			case "archive":
				archive = len(s.Workloads) == 1 && !s.IstioSidecar
			}
		}
		if len(body.Services) != 6 || !found || !archive {
			t.Errorf("%+v", body.Services)
		}
	})
	t.Run("apps with their versions", func(t *testing.T) {
		var body struct{ Applications []appItem }
		get("/api/namespaces/bookinfo/apps", &body)
		if len(body.Applications) != 6 || body.Applications[5].Name != "reviews" || len(body.Applications[5].Workloads) != 3 || body.Applications[0].Name != "archive" || body.Applications[0].IstioSidecar {
			t.Errorf("%+v", body.Applications)
		}
	})
	t.Run("an unknown namespace is a 404", func(t *testing.T) {
		var e errorBody
		if code := get("/api/namespaces/nowhere/workloads", &e); code != 404 || e.Code != 404 {
			t.Errorf("%d %+v", code, e)
		}
	})
}

func TestAnUnknownNamespaceIsA404Everywhere(t *testing.T) {
	b, err := os.ReadFile("../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects, _ := inventory.Parse("bookinfo.yaml", b)
	q := &seenQueries{}
	srv := New(graph.NewBuilder(q, nil), nil).WithInventory(inventory.NewStatic(inventory.NewSnapshot(objects)), validate.Options{}, nil)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for _, path := range []string{
		"/api/namespaces/nope/workloads", "/api/namespaces/nope/services", "/api/namespaces/nope/apps",
		"/api/namespaces/nope/istio", "/api/istio/validations?namespaces=bookinfo,nope",
		"/api/namespaces/nope/istio/virtualservices/reviews/validations",
		"/api/namespaces/graph?namespaces=bookinfo,nope", "/api/namespaces/nope/workloads/reviews-v2/graph",
	} {
		t.Run(path, func(t *testing.T) {
			code, body := getJSON(t, ts.URL+path)
			msg, _ := body["error"].(string)
			if code != 404 || !strings.Contains(msg, "namespace nope") || !strings.Contains(msg, "bookinfo") {
				t.Errorf("%d %v; want 404 naming the namespace and those known", code, body)
			}
		})
	}
	if len(q.queries) != 0 {
		t.Errorf("graphs of unknown namespaces reached Prometheus: %d queries", len(q.queries))
	}
}

// labelValues answers label values by label name, and no queries.
type labelValues map[string][]string

func (l labelValues) LabelValues(_ context.Context, name string, _, _ time.Time) ([]string, error) {
	return l[name], nil
}
func (labelValues) Query(context.Context, string, time.Time) (promclient.Vector, error) {
	return promclient.Vector{}, nil
}
func (labelValues) ScrapeInterval(context.Context) (time.Duration, error) {
	return 15 * time.Second, nil
}

func TestWithoutAnInventoryNamespacesComeFromTheTelemetry(t *testing.T) {
	q := labelValues{
		"destination_service_namespace": {"bookinfo", "unknown", "istio-system"},
		"source_workload_namespace":     {"bookinfo", "frontend", "unknown"},
	}
	srv := httptest.NewServer(New(graph.NewBuilder(q, nil), nil).WithTelemetry(q).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := `[{"name":"bookinfo"},{"name":"frontend"},{"name":"istio-system"}]`; resp.StatusCode != 200 || strings.TrimSpace(string(body)) != want {
		t.Errorf("got %d %s, want %s", resp.StatusCode, body, want)
	}
}

func TestConfigSaysHowFarBackTheStoreReaches(t *testing.T) {
	// Scrapes every 15 s from 20 minutes ago until now: replay can reach
	// 20 minutes back, not a day.
	st := teststorage.New(t)
	now := time.Now()
	app := st.Appender(context.Background())
	first := now.Add(-20 * time.Minute)
	for ts := first; !ts.After(now); ts = ts.Add(15 * time.Second) {
		if _, err := app.Append(0, labels.FromStrings("__name__", "up", "job", "sidecar"), ts.UnixMilli(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q := promclient.NewEngine(promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery), st, 15*time.Second)
	srv := httptest.NewServer(New(graph.NewBuilder(q, nil), nil).WithTelemetry(q).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Prometheus struct {
			GlobalScrapeInterval int64
			DataSince            int64
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d, %v", resp.StatusCode, err)
	}
	if c.Prometheus.GlobalScrapeInterval != 15 {
		t.Errorf("globalScrapeInterval = %d, want 15", c.Prometheus.GlobalScrapeInterval)
	}
	if d := time.Unix(c.Prometheus.DataSince, 0).Sub(first); d < -time.Second || d > 16*time.Second {
		t.Errorf("dataSince is %s after the first scrape, want within one scrape", d)
	}
}
