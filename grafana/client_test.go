package grafana

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/meshlens/meshlens/grafana/grafanatest"
)

// bearer adds a token to every request, as the console's auth does.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

type basic struct{ user, password string }

func (b basic) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(b.user+":"+b.password)))
	return http.DefaultTransport.RoundTrip(r)
}

func TestPushCreatesThenUpdatesAndIsIdempotent(t *testing.T) {
	g, srv := grafanatest.New(t, "glsa_tok", "", "")
	c, err := NewClient(srv.URL, bearer{"glsa_tok"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round, want := range []string{"created", "updated"} {
		for _, d := range all {
			p, err := c.Push(ctx, d, "istio")
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, d.Title, err)
			}
			if p.Action != want || p.Version != round+1 || !strings.HasPrefix(p.URL, "/d/"+d.UID+"/") {
				t.Errorf("round %d, %s: %+v", round, d.Title, p)
			}
		}
	}
	if g.Stored() != 6 {
		t.Errorf("%d dashboards stored after two pushes, want 6", g.Stored())
	}
	f, ok, err := c.Find(ctx, ServiceTitle)
	if err != nil || !ok || f.UID != "meshlens-istio-service" {
		t.Errorf("find %s: %+v %v %v", ServiceTitle, f, ok, err)
	}
	if _, ok, _ := c.Find(ctx, "Istio Nothing Dashboard"); ok {
		t.Error("found a dashboard Grafana does not hold")
	}
}

func TestPushErrorsSayWhat(t *testing.T) {
	_, srv := grafanatest.New(t, "", "admin", "right")
	all, _ := All()
	wrong, _ := NewClient(srv.URL, basic{"admin", "wrong"})
	_, err := wrong.Push(context.Background(), all[0], "")
	if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v (want ErrAuth, without the password)", err)
	}
	c, _ := NewClient(srv.URL, basic{"admin", "right"})
	if _, err := c.Push(context.Background(), all[0], ""); err != nil {
		t.Fatal(err)
	}
	// Another dashboard of the same title in the folder: Grafana refuses it.
	clash := all[1]
	clash.JSON = []byte(strings.Replace(string(clash.JSON), `"title": "`+all[1].Title+`"`, `"title": "`+all[0].Title+`"`, 1))
	if _, err := c.Push(context.Background(), clash, ""); err == nil || !strings.Contains(err.Error(), "412") || !strings.Contains(err.Error(), "name-exists") {
		t.Errorf("a title taken in the folder: %v", err)
	}
	if _, err := NewClient("ftp://grafana", nil); err == nil {
		t.Error("an ftp URL was taken")
	}
}

func TestLinksFindDashboardsByTitle(t *testing.T) {
	_, srv := grafanatest.New(t, "tok", "", "")
	c, _ := NewClient(srv.URL, bearer{"tok"})
	all, _ := All()
	for _, d := range all[:3] {
		if _, err := c.Push(context.Background(), d, ""); err != nil {
			t.Fatal(err)
		}
	}
	l := NewLinker(c, LinkerOptions{ExternalURL: "https://grafana.example.com/", Dashboards: []LinkConfig{
		{Name: ServiceTitle, Variables: map[string]string{"namespace": "var-namespace", "service": "var-service", "datasource": "var-datasource"}},
		{Name: "Istio Nothing Dashboard"},
	}})
	links := l.Links(context.Background())
	if len(links) != 2 || links[0].URL != "https://grafana.example.com/d/meshlens-istio-service/istio-service-dashboard" || links[1].URL != "" || links[1].Reason == "" {
		t.Fatalf("links %+v", links)
	}
	got := links[0].Fill(map[string]string{"namespace": "bookinfo", "service": "reviews.bookinfo.svc.cluster.local", "workload": "ignored"})
	if got != "https://grafana.example.com/d/meshlens-istio-service/istio-service-dashboard?var-namespace=bookinfo&var-service=reviews.bookinfo.svc.cluster.local" {
		t.Errorf("filled link %s", got)
	}
	down, _ := NewClient("http://127.0.0.1:1", nil)
	if links := NewLinker(down, LinkerOptions{ExternalURL: "https://g", Dashboards: []LinkConfig{{Name: ServiceTitle}}}).Links(context.Background()); links[0].URL != "" || !strings.Contains(links[0].Reason, "127.0.0.1:1") {
		t.Errorf("Grafana down: %+v", links)
	}
}

// TestLinksForAnEntity: an entity's links are those of the dashboards with
// a variable for its kind, filled with its namespace and name, a service
// by its FQDN in the configured domain, and the configured datasource.
func TestLinksForAnEntity(t *testing.T) {
	_, srv := grafanatest.New(t, "tok", "", "")
	c, _ := NewClient(srv.URL, bearer{"tok"})
	all, _ := All()
	for _, d := range all {
		if _, err := c.Push(context.Background(), d, ""); err != nil {
			t.Fatal(err)
		}
	}
	l := NewLinker(c, LinkerOptions{ExternalURL: "https://grafana.example.com", Dashboards: []LinkConfig{
		{Name: ServiceTitle, Variables: map[string]string{"namespace": "var-namespace", "service": "var-service", "datasource": "var-datasource"}},
		{Name: WorkloadTitle, Variables: map[string]string{"namespace": "var-namespace", "workload": "var-workload"}},
		{Name: "Team Dashboard", Variables: map[string]string{"service": "var-svc"}},
	}, ServiceDomain: "svc.corp.example", DatasourceUID: "amp-1"})
	cases := []struct {
		entity Entity
		want   []Link
	}{
		{Entity{Kind: "service", Namespace: "bookinfo", Name: "reviews"}, []Link{
			{Name: ServiceTitle, URL: "https://grafana.example.com/d/meshlens-istio-service/istio-service-dashboard?var-datasource=amp-1&var-namespace=bookinfo&var-service=reviews.bookinfo.svc.corp.example"},
			{Name: "Team Dashboard", Reason: `Grafana has no dashboard titled "Team Dashboard" (meshlens dashboards --push makes Istio's)`},
		}},
		{Entity{Kind: "workload", Namespace: "bookinfo", Name: "reviews-v2"}, []Link{
			{Name: WorkloadTitle, URL: "https://grafana.example.com/d/meshlens-istio-workload/istio-workload-dashboard?var-namespace=bookinfo&var-workload=reviews-v2"},
		}},
		{Entity{Kind: "app", Namespace: "bookinfo", Name: "reviews"}, nil},
	}
	for _, tc := range cases {
		got := l.For(context.Background(), tc.entity)
		if len(got) != len(tc.want) {
			t.Errorf("%+v: %d links %+v, want %d", tc.entity, len(got), got, len(tc.want))
			continue
		}
		for i := range got {
			if got[i].Name != tc.want[i].Name || got[i].URL != tc.want[i].URL || got[i].Reason != tc.want[i].Reason {
				t.Errorf("%+v: link %d is %+v, want %+v", tc.entity, i, got[i], tc.want[i])
			}
		}
	}
}
