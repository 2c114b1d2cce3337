package config

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commoncfg "github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"
)

// A Kiali ConfigMap's kiali.yaml, as the seed's setup writes it, with the
// keys meshlens does not read.
const kialiYAML = `
auth:
  strategy: anonymous
deployment:
  accessible_namespaces: ["**"]
istio_namespace: istio-system
kubernetes_config:
  cluster_name: east
server:
  port: 20001
  web_root: /kiali
external_services:
  prometheus:
    url: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-123/
    auth:
      type: bearer
      token: ${PROM_TOKEN}
    custom_headers:
      X-Scope-OrgID: tenant-a
    thanos_proxy:
      enabled: true
      scrape_interval: 30s
  grafana:
    enabled: true
    in_cluster_url: http://grafana.observability:3000
    url: https://grafana.example.com
    auth:
      type: basic
      username: admin
      password_file: grafana-password
    dashboards:
      - name: Istio Service Dashboard
        variables:
          namespace: var-namespace
          service: var-service
      - name: Istio Workload Dashboard
        variables:
          namespace: var-namespace
          workload: var-workload
  istio:
    istio_identity_domain: svc.east.example
  tracing:
    enabled: false
health_config:
  rate:
    - namespace: bookinfo
      kind: workload
      name: reviews-.*
      tolerance:
        - code: 5XX
          degraded: 5
          failure: 10
          protocol: http
          direction: inbound
`

func TestAKialiConfigLoadsAsItIs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiali.yaml")
	os.WriteFile(path, []byte(kialiYAML), 0o600)
	t.Setenv("PROM_TOKEN", "s3cret")
	c, warnings, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := c.ExternalServices.Prometheus
	if p.URL != "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-123/" || p.Auth.Token != "s3cret" || p.CustomHeaders["X-Scope-OrgID"] != "tenant-a" || p.ScrapeInterval().Seconds() != 30 {
		t.Errorf("prometheus %+v", p)
	}
	g := c.ExternalServices.Grafana
	if !g.Enabled || g.Auth.PasswordFile != filepath.Join(dir, "grafana-password") || len(g.Dashboards) != 2 || g.Dashboards[1].Variables["workload"] != "var-workload" {
		t.Errorf("grafana %+v", g)
	}
	if c.IstioNamespace != "istio-system" || c.ExternalServices.Istio.IstioIdentityDomain != "svc.east.example" || c.KubernetesConfig.ClusterName != "east" || c.Server.Port != 20001 || len(c.HealthConfig.Rate) != 1 {
		t.Errorf("config %+v", c)
	}
	joined := strings.Join(warnings, "\n")
	for _, key := range []string{"line 2: auth is not", "line 4: deployment is not", "external_services.tracing is not"} {
		if !strings.Contains(joined, key) {
			t.Errorf("warnings %q lack %q", warnings, key)
		}
	}
	if len(warnings) != 3 {
		t.Errorf("%d warnings, want 3: %q", len(warnings), warnings)
	}
}

func TestBadConfigsAreClearErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, says string }{
		{"a value of the wrong type names its line", "server:\n  port: twenty\n", "line 2"},
		{"sigv4 for Grafana is refused", "external_services:\n  grafana:\n    auth: {type: sigv4}\n", "external_services.grafana.auth.type sigv4 signs requests to AWS"},
		{"a sigv4 access key without its secret", "external_services:\n  prometheus:\n    auth: {type: sigv4, access_key: AKID}\n", "access_key and secret_key together"},
		{"an unknown auth type names the key", "external_services:\n  grafana:\n    auth: {type: kerberos}\n", "external_services.grafana.auth.type"},
		{"a tolerance pattern that does not compile names the rate", "health_config:\n  rate:\n    - name: 'a('\n", "health_config.rate[0].name"},
		{"a scrape interval that is not a duration names the key", "external_services:\n  prometheus:\n    thanos_proxy: {scrape_interval: often}\n", "scrape_interval"},
		{"YAML that does not parse", "external_services: [\n", "yaml"},
		{"a password in the browsers' Grafana URL", "external_services:\n  grafana:\n    url: https://admin:pw-secret@grafana.example.com\n", "external_services.grafana.url \"https://admin:xxxxx@grafana.example.com\" has a user or password"},
		{"a user in newer Kiali's name for it", "external_services:\n  grafana:\n    external_url: https://admin@grafana.example.com\n", "external_services.grafana.external_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v, want one saying %q", err, tc.says)
			}
			if err != nil && strings.Contains(err.Error(), "pw-secret") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

// TestAuthIsSentAndNeverShown: the round tripper Prometheus's HTTP client
// builds from an Auth sends the token and the custom headers, reads a
// token file at each request (a rotated token is used), and the secret is
// not in the config's printed form.
func TestAuthIsSentAndNeverShown(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Scope-OrgID"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("first"), 0o600)
	h := Auth{Type: "bearer", TokenFile: tokenFile}.HTTPClientConfig(map[string]string{"X-Scope-OrgID": "tenant-a"})
	rt, err := commoncfg.NewRoundTripperFromConfig(h, "prometheus")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	for _, token := range []string{"first", "rotated"} {
		os.WriteFile(tokenFile, []byte(token), 0o600)
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if strings.Join(got, ",") != "Bearer first|tenant-a,Bearer rotated|tenant-a" {
		t.Errorf("sent %v", got)
	}
	basic := Auth{Type: "basic", Username: "admin", Password: "hunter2"}.HTTPClientConfig(nil)
	b, err := yaml.Marshal(basic)
	if err != nil || strings.Contains(string(b), "hunter2") {
		t.Errorf("the client config prints as %s (%v)", b, err)
	}
}

// TestGrafanaURLsUnderEitherKialiName: Grafana's two URLs are read as
// older Kiali releases name them (url, in_cluster_url) and as newer ones do
// (external_url, internal_url); the in-cluster one defaults to the other.
func TestGrafanaURLsUnderEitherKialiName(t *testing.T) {
	cases := []struct {
		name, yaml, address, inCluster string
	}{
		{"url and in_cluster_url", "url: https://g.example.com\nin_cluster_url: http://grafana:3000", "https://g.example.com", "http://grafana:3000"},
		{"external_url and internal_url", "external_url: https://g.example.com\ninternal_url: http://grafana:3000\ndatasource_uid: amp", "https://g.example.com", "http://grafana:3000"},
		{"one URL for both", "external_url: https://g.example.com", "https://g.example.com", "https://g.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			indented := "    " + strings.ReplaceAll(tc.yaml, "\n", "\n    ")
			c, warnings, err := Parse([]byte("external_services:\n  grafana:\n" + indented + "\n"))
			if err != nil || len(warnings) > 0 {
				t.Fatalf("%v %v", err, warnings)
			}
			g := c.ExternalServices.Grafana
			if g.Address() != tc.address || g.InClusterAddress() != tc.inCluster {
				t.Errorf("address %q, in cluster %q; want %q, %q", g.Address(), g.InClusterAddress(), tc.address, tc.inCluster)
			}
		})
	}
}

// TestCustomDashboardsLoadAsKialisAndAreChecked: Kiali's custom dashboard
// layout loads; a chart that cannot be read is an error naming it.
func TestCustomDashboardsLoadAsKialisAndAreChecked(t *testing.T) {
	const good = `
external_services:
  custom_dashboards:
    - name: vertx-server
      title: Vert.x Server Metrics
      runtime: Vert.x
      items:
        - chart:
            name: Server response time
            unit: seconds
            spans: 6
            metricName: vertx_http_server_responseTime_seconds
            dataType: histogram
            aggregations:
              - label: path
                displayName: Path
`
	c, warnings, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	d := c.ExternalServices.CustomDashboards
	if len(d) != 1 || d[0].Title != "Vert.x Server Metrics" || d[0].Items[0].Chart.DataType != "histogram" || d[0].Items[0].Chart.Aggregations[0].DisplayName != "Path" {
		t.Errorf("custom dashboards %+v", d)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "custom_dashboards[].runtime is not a key") {
		t.Errorf("warnings %q, want one for runtime", warnings)
	}
	_, _, err = Parse([]byte(strings.Replace(good, "dataType: histogram", "dataType: gauge", 1)))
	if err == nil || !strings.Contains(err.Error(), "custom_dashboards[0]: vertx-server: items[0].chart.dataType") {
		t.Errorf("a bad dataType: %v", err)
	}
}

// TestTheExampleConfigLoadsWithoutWarnings: examples/console.yaml, which
// the README runs, is all keys meshlens reads.
func TestTheExampleConfigLoadsWithoutWarnings(t *testing.T) {
	c, warnings, err := Load("../examples/console.yaml")
	if err != nil || len(warnings) > 0 {
		t.Fatalf("%v %q", err, warnings)
	}
	if len(c.ExternalServices.CustomDashboards) != 1 || len(c.HealthConfig.Rate) != 1 {
		t.Errorf("config %+v", c)
	}
}
