package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/meshlens/meshlens/grafana"
	"github.com/meshlens/meshlens/grafana/grafanatest"
	"github.com/meshlens/meshlens/graph"
)

type basicAuth struct{ user, password string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(b.user+":"+b.password)))
	return http.DefaultTransport.RoundTrip(r)
}

// grafanaWithIstiosDashboards is a Grafana stand-in holding the six
// dashboards, behind a user and password, and a client of it.
func grafanaWithIstiosDashboards(t *testing.T) (*grafana.Client, *httptest.Server) {
	t.Helper()
	_, gsrv := grafanatest.New(t, "", "admin", "pa55word")
	client, err := grafana.NewClient(gsrv.URL, basicAuth{"admin", "pa55word"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := grafana.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if _, err := client.Push(context.Background(), d, ""); err != nil {
			t.Fatal(err)
		}
	}
	return client, gsrv
}

// TestGrafanaLinks: /api/grafana answers the links of the dashboards
// Grafana holds, on the URL browsers reach it at, a reason for one it
// lacks, and never the credentials.
func TestGrafanaLinks(t *testing.T) {
	client, gsrv := grafanaWithIstiosDashboards(t)
	l := grafana.NewLinker(client, grafana.LinkerOptions{ExternalURL: "https://grafana.example.com", Dashboards: []grafana.LinkConfig{
		{Name: grafana.WorkloadTitle, Variables: map[string]string{"namespace": "var-namespace", "workload": "var-workload"}},
		{Name: "Team Dashboard"},
	}})
	ts := httptest.NewServer(New(graph.NewBuilder(&seenQueries{}, nil), nil).WithGrafana(l).Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/grafana")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{`"url":"https://grafana.example.com/d/meshlens-istio-workload/istio-workload-dashboard"`, `"workload":"var-workload"`, `no dashboard titled \"Team Dashboard\"`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", body, want)
		}
	}
	if strings.Contains(body, "pa55word") || strings.Contains(body, gsrv.URL) {
		t.Errorf("the answer shows Grafana's in-cluster URL or password: %s", body)
	}
	bare := httptest.NewServer(New(graph.NewBuilder(&seenQueries{}, nil), nil).Handler())
	defer bare.Close()
	code, m := getJSON(t, bare.URL+"/api/grafana")
	if code != 200 || !strings.Contains(m["reason"].(string), "not configured") {
		t.Errorf("%d %v", code, m)
	}
}

// TestEntityHealthCarriesGrafanaLinks: a workload's and a service's health
// answer carries the links of the dashboards that show it, filled in.
func TestEntityHealthCarriesGrafanaLinks(t *testing.T) {
	client, _ := grafanaWithIstiosDashboards(t)
	l := grafana.NewLinker(client, grafana.LinkerOptions{ExternalURL: "https://grafana.example.com", Dashboards: []grafana.LinkConfig{
		{Name: grafana.ServiceTitle, Variables: map[string]string{"namespace": "var-namespace", "service": "var-service"}},
		{Name: grafana.WorkloadTitle, Variables: map[string]string{"namespace": "var-namespace", "workload": "var-workload"}},
	}, ServiceDomain: "svc.cluster.example"})
	ts := healthServer(t, func(s *Server) { s.WithGrafana(l) })
	for path, want := range map[string]string{
		"/api/namespaces/bookinfo/workloads/reviews-v2/health": "https://grafana.example.com/d/meshlens-istio-workload/istio-workload-dashboard?var-namespace=bookinfo&var-workload=reviews-v2",
		"/api/namespaces/bookinfo/services/reviews/health":     "https://grafana.example.com/d/meshlens-istio-service/istio-service-dashboard?var-namespace=bookinfo&var-service=reviews.bookinfo.svc.cluster.example",
	} {
		code, m := getJSON(t, ts.URL+path)
		links, _ := m["externalLinks"].([]any)
		if code != 200 || len(links) != 1 || links[0].(map[string]any)["url"] != want {
			t.Errorf("%s: %d, links %v, want one to %s", path, code, links, want)
		}
		if m["status"] == nil {
			t.Errorf("%s: the health itself is gone: %v", path, m)
		}
	}
}

// TestEntityDashboardChartsTheMetricsWithLinks: an entity's dashboard is
// its metrics in Kiali's monitoring-dashboard shape, titled by direction,
// a chart per metric asked, the series' values those of the metrics API,
// with the Grafana links that show the entity.
func TestEntityDashboardChartsTheMetricsWithLinks(t *testing.T) {
	client, _ := grafanaWithIstiosDashboards(t)
	l := grafana.NewLinker(client, grafana.LinkerOptions{ExternalURL: "https://grafana.example.com", Dashboards: []grafana.LinkConfig{
		{Name: grafana.WorkloadTitle, Variables: map[string]string{"namespace": "var-namespace", "workload": "var-workload"}},
	}})
	ts := healthServer(t, func(s *Server) { s.WithGrafana(l) })
	var d struct {
		Title  string `json:"title"`
		Charts []struct {
			Name    string `json:"name"`
			Unit    string `json:"unit"`
			Metrics []struct {
				Datapoints [][2]any `json:"datapoints"`
			} `json:"metrics"`
		} `json:"charts"`
		Aggregations []struct {
			Label string `json:"label"`
		} `json:"aggregations"`
		ExternalLinks []struct {
			URL string `json:"url"`
		} `json:"externalLinks"`
	}
	get := func(query string) {
		t.Helper()
		d.Charts, d.Aggregations, d.ExternalLinks = nil, nil, nil
		resp, err := http.Get(ts.URL + "/api/namespaces/bookinfo/workloads/reviews-v2/dashboard?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			t.Fatal(err)
		}
	}
	// reviews-v2 answers 2 requests a second, half of them 500.
	get("filters[]=request_count&filters[]=request_error_count&duration=300&step=60&rateInterval=60")
	last := func(chart int) float64 {
		m := d.Charts[chart].Metrics
		if len(m) != 1 || len(m[0].Datapoints) == 0 {
			t.Fatalf("chart %s: %+v", d.Charts[chart].Name, m)
		}
		v, _ := strconv.ParseFloat(fmt.Sprint(m[0].Datapoints[len(m[0].Datapoints)-1][1]), 64)
		return v
	}
	if d.Title != "Inbound Metrics" || len(d.Charts) != 2 || d.Charts[0].Name != "Request volume" || d.Charts[1].Name != "Request errors" {
		t.Fatalf("dashboard %+v", d)
	}
	if v := last(0); math.Abs(v-2) > 0.01 {
		t.Errorf("request volume %v, want 2", v)
	}
	if v := last(1); math.Abs(v-1) > 0.01 {
		t.Errorf("request errors %v, want 1", v)
	}
	if len(d.ExternalLinks) != 1 || d.ExternalLinks[0].URL != "https://grafana.example.com/d/meshlens-istio-workload/istio-workload-dashboard?var-namespace=bookinfo&var-workload=reviews-v2" {
		t.Errorf("links %+v", d.ExternalLinks)
	}
	get("direction=outbound&filters[]=request_count")
	if d.Title != "Outbound Metrics" || len(d.Aggregations) == 0 || d.Aggregations[0].Label != "source_canonical_revision" {
		t.Errorf("outbound dashboard %+v", d)
	}
}
