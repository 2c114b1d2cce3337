package console

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
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
