package grafana

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic/traffictest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// model is what the tests read of a dashboard's JSON.
type model struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func dashboards(t *testing.T) map[string]model {
	t.Helper()
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]model{}
	for _, d := range all {
		var m model
		if err := json.Unmarshal(d.JSON, &m); err != nil {
			t.Fatal(err)
		}
		if m.UID != d.UID || m.Title != d.Title {
			t.Errorf("%s: JSON says uid %s title %s", d.UID, m.UID, m.Title)
		}
		out[d.Title] = m
	}
	return out
}

// TestTheSixDashboardsByTheirTitlesAndVariables: Istio's six titles, the
// variables Kiali's links fill in, a Prometheus datasource variable, and
// uids that never change (links and pushes rely on them).
func TestTheSixDashboardsByTheirTitlesAndVariables(t *testing.T) {
	got := dashboards(t)
	want := map[string][]string{
		MeshTitle: {"datasource"}, ServiceTitle: {"datasource", "namespace", "service"}, WorkloadTitle: {"datasource", "namespace", "workload"},
		ControlPlaneTitle: {"datasource"}, PerformanceTitle: {"datasource"}, WasmTitle: {"datasource"},
	}
	uids := map[string]bool{}
	for title, vars := range want {
		m, ok := got[title]
		if !ok {
			t.Errorf("no %q", title)
			continue
		}
		var names []string
		for _, v := range m.Templating.List {
			names = append(names, v.Name)
			if v.Name == "datasource" && v.Type != "datasource" {
				t.Errorf("%s: datasource variable of type %s", title, v.Type)
			}
		}
		if !slices.Equal(names, vars) {
			t.Errorf("%s: variables %v, want %v", title, names, vars)
		}
		if !strings.HasPrefix(m.UID, "meshlens-istio-") || uids[m.UID] {
			t.Errorf("%s: uid %q", title, m.UID)
		}
		uids[m.UID] = true
	}
	if len(got) != 6 {
		t.Errorf("%d dashboards, want 6", len(got))
	}
}

// expand fills a panel's Grafana variables in as a user's choice would.
func expand(expr string) string {
	return strings.NewReplacer("$__rate_interval", "1m", "$namespace", "bookinfo", "$service", "reviews.bookinfo.svc.cluster.local",
		"$workload", "reviews-v2").Replace(expr)
}

func TestEveryPanelIsValidPromQL(t *testing.T) {
	for title, m := range dashboards(t) {
		for _, p := range m.Panels {
			for _, target := range p.Targets {
				if _, err := parser.NewParser(parser.Options{}).ParseExpr(expand(target.Expr)); err != nil {
					t.Errorf("%s / %s: %v in %s", title, p.Title, err, target.Expr)
				}
			}
		}
	}
}

// TestRequestPanelsAnswerOnIstioSeries runs every panel of the mesh,
// service and workload dashboards, variables filled in, over bookinfo's
// traffic written as sidecars report it: each returns data.
func TestRequestPanelsAnswerOnIstioSeries(t *testing.T) {
	series, err := traffictest.ExpandSeries(`
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="404"} 0+3x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503"} 0+3x40
  istio_requests_total{reporter="source", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} 0+30x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="10"} 0+20x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="+Inf"} 0+30x40
  istio_request_bytes_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="1000"} 0+30x40
  istio_request_bytes_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="+Inf"} 0+30x40
  istio_response_bytes_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="1000"} 0+30x40
  istio_response_bytes_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", le="+Inf"} 0+30x40
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+3000x40
  istio_tcp_sent_bytes_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+3000x40
`)
	if err != nil {
		t.Fatal(err)
	}
	st := promqltest.LoadedStorage(t, series)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := promclient.NewEngine(engine, st, 15*time.Second)
	all := dashboards(t)
	for _, title := range []string{MeshTitle, ServiceTitle, WorkloadTitle} {
		for _, p := range all[title].Panels {
			for _, target := range p.Targets {
				v, err := q.Query(context.Background(), expand(target.Expr), time.Unix(600, 0))
				if err != nil || len(v) == 0 {
					t.Errorf("%s / %s: %d series, %v, from %s", title, p.Title, len(v), err, expand(target.Expr))
				}
			}
		}
	}
}

func TestGoldenDashboards(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		path := filepath.Join("testdata", d.UID+".json")
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(path, append(d.JSON, '\n'), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if string(want) != string(d.JSON)+"\n" {
			t.Errorf("%s differs from %s (run with -update and review the diff)", d.Title, path)
		}
	}
}
