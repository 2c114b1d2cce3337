package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"go.uber.org/goleak"

	"github.com/meshlens/meshlens/grafana"
	"github.com/meshlens/meshlens/simulate"
	"github.com/meshlens/meshlens/telemetry"
)

func testDemoConfig(dataDir string) demoConfig {
	return demoConfig{
		mesh:           meshFlags{loadRate: 20, callTimeout: time.Second},
		scrapeInterval: time.Second,
		dataDir:        dataDir,
		retention:      time.Hour,
		storeAddr:      "127.0.0.1:0",
		web:            webFlags{listenAddr: "127.0.0.1:0"},
	}
}

// runningDemo starts the demo in-process and returns it with a function
// that stops it (as Ctrl-C does) and returns what run returned.
func runningDemo(t *testing.T, c demoConfig) (*demo, func() error) {
	t.Helper()
	d, err := startDemo(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	var stopped bool
	var result error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { stop() })
	return d, stop
}

func promAPI(t *testing.T, addr string) promv1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(c)
}

func query(t *testing.T, p promv1.API, q string) model.Vector {
	t.Helper()
	v, _, _, err := p.Query(context.Background(), q, time.Now())
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("query %s answered %s, not a vector", q, v.Type())
	}
	return vec
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// edges returns "source -> destination" for every pair with traffic.
func edges(vec model.Vector) map[string]bool {
	out := map[string]bool{}
	for _, s := range vec {
		if s.Value > 0 {
			out[fmt.Sprintf("%s -> %s", s.Metric[telemetry.SourceWorkload], s.Metric[telemetry.DestinationWorkload])] = true
		}
	}
	return out
}

func TestDemo(t *testing.T) {
	// Registered first, so it runs after every other cleanup: the demo must
	// leave no goroutine behind once stopped.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	dataDir := t.TempDir()
	d, stop := runningDemo(t, testDemoConfig(dataDir))
	p := promAPI(t, d.storeL.Addr().String())
	mesh := d.runner.Mesh()

	perWorkload := `sum(rate(istio_requests_total{reporter="destination"}[5s])) by (destination_workload)`
	// Every workload but the gateway (which reports only as a source),
	// mongodb (TCP, no requests) and the archive (no sidecar: only its
	// caller reports) reports the HTTP it answers.
	answersHTTP := func(w *simulate.Workload) bool { return !w.Gateway && !w.NoSidecar && w.App != "mongodb" }
	httpWorkloads := 0
	for _, w := range mesh.Workloads {
		if answersHTTP(w) {
			httpWorkloads++
		}
	}
	// The TCP edge to mongodb is scraped from its own sidecar, at its own
	// offset: wait for it too, not only for the HTTP workloads.
	tcpEdges := `sum(rate(istio_tcp_connections_opened_total{reporter="destination"}[5s])) by (source_workload, destination_workload)`
	httpEdges := `sum(rate(istio_requests_total{reporter="source"}[5s])) by (source_workload, destination_workload)`
	const bookinfoHTTPEdges = 8
	waitFor(t, "a rate for every workload and every edge", 30*time.Second, func() bool {
		return len(query(t, p, perWorkload)) == httpWorkloads && len(edges(query(t, p, tcpEdges))) > 0 &&
			len(edges(query(t, p, httpEdges))) >= bookinfoHTTPEdges
	})

	t.Run("every workload behind the gateway has a non-zero rate", func(t *testing.T) {
		got := map[string]float64{}
		for _, s := range query(t, p, perWorkload) {
			got[string(s.Metric[telemetry.DestinationWorkload])] = float64(s.Value)
		}
		for _, w := range mesh.Workloads {
			if answersHTTP(w) && got[w.Name] <= 0 {
				t.Errorf("%s: rate %v", w.Name, got[w.Name])
			}
		}
	})
	t.Run("the HTTP and TCP edges are bookinfo's", func(t *testing.T) {
		want := []string{
			"istio-ingressgateway -> productpage-v1", "productpage-v1 -> details-v1",
			"productpage-v1 -> reviews-v1", "productpage-v1 -> reviews-v2", "productpage-v1 -> reviews-v3",
			"reviews-v2 -> ratings-v1", "reviews-v3 -> ratings-v1", "reports-v1 -> unknown",
		}
		got := edges(query(t, p, httpEdges))
		assertSet(t, "HTTP edges", got, want)
		got = edges(query(t, p, tcpEdges))
		assertSet(t, "TCP edges", got, []string{"ratings-v1 -> mongodb-v1"})
	})
	t.Run("the gateway's requests equal productpage's within a scrape's worth", func(t *testing.T) {
		src := query(t, p, `sum(istio_requests_total{reporter="source",source_workload="istio-ingressgateway"})`)
		dst := query(t, p, `sum(istio_requests_total{reporter="destination",destination_workload="productpage-v1"})`)
		if len(src) != 1 || len(dst) != 1 || src[0].Value <= 0 {
			t.Fatalf("source %v destination %v", src, dst)
		}
		// Both sidecars are scraped at slightly different moments under load.
		if diff := float64(src[0].Value - dst[0].Value); diff > 40 || diff < -40 {
			t.Errorf("gateway counted %v, productpage %v", src[0].Value, dst[0].Value)
		}
	})
	t.Run("no Istio series is missing a standard label", func(t *testing.T) {
		// The sidecars' standard metrics (istio_build and istio_agent_*
		// come from istiod and the agents).
		series, _, _, err := p.Series(context.Background(), []string{`{__name__=~"istio_(requests|request_|response_|tcp_).*"}`}, time.Now().Add(-time.Minute), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(series) < 50 {
			t.Fatalf("only %d Istio series", len(series))
		}
		missing := 0
		for _, s := range series {
			want := telemetry.StandardLabels(string(s[model.MetricNameLabel]))
			if want == nil {
				t.Errorf("%s is not a standard Istio metric", s[model.MetricNameLabel])
			}
			for _, l := range want {
				_, has := s[model.LabelName(l)]
				// Prometheus stores no empty label, and grpc_response_status
				// is empty for all but gRPC, as with real sidecars.
				if l == telemetry.GRPCResponseStatus {
					if grpc := s[telemetry.RequestProtocol] == telemetry.ProtocolGRPC; has != grpc {
						t.Errorf("%s: grpc_response_status present %v for protocol %s", s, has, s[telemetry.RequestProtocol])
						missing++
					}
					continue
				}
				if !has {
					t.Errorf("%s has no %s", s, l)
					missing++
				}
			}
			if missing > 5 {
				t.Fatal("too many series lack standard labels")
			}
		}
	})
	t.Run("every panel of the six Grafana dashboards answers on the demo's store", func(t *testing.T) {
		all, err := grafana.All()
		if err != nil {
			t.Fatal(err)
		}
		// 5xx and 4xx answers for the error panels; the faults API's
		// errorCode makes the 4xx.
		web := "http://" + d.webL.Addr().String()
		setFault(t, web, http.MethodPut, `[{"namespace":"bookinfo","workload":"reviews-v2","errorRate":0.5},{"namespace":"bookinfo","workload":"reviews-v1","errorRate":0.3,"errorCode":404}]`)
		defer setFault(t, web, http.MethodDelete, "")
		// irate and rate need two scrapes of istiod's page and of the errors.
		waitFor(t, "istiod and the errors scraped twice", 30*time.Second, func() bool {
			return len(query(t, p, `count_over_time(pilot_xds[5s]) >= 2`)) > 0 &&
				len(query(t, p, `count_over_time(istio_requests_total{reporter="destination", response_code="404"}[5s]) >= 2`)) > 0 &&
				len(query(t, p, `count_over_time(istio_requests_total{reporter="destination", response_code="500"}[5s]) >= 2`)) > 0
		})
		// A user picks the service or workload a panel is about: reviews
		// for HTTP, mongodb for TCP.
		choices := []*strings.Replacer{
			strings.NewReplacer("$__rate_interval", "5s", "$namespace", "bookinfo", "$service", "reviews.bookinfo.svc.cluster.local", "$workload", "reviews-v2"),
			strings.NewReplacer("$__rate_interval", "5s", "$namespace", "bookinfo", "$service", "mongodb.bookinfo.svc.cluster.local", "$workload", "mongodb-v1"),
		}
		for _, dash := range all {
			var m struct {
				Panels []struct {
					Title   string `json:"title"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal(dash.JSON, &m); err != nil {
				t.Fatal(err)
			}
			for _, panel := range m.Panels {
				for _, target := range panel.Targets {
					answered := false
					for _, c := range choices {
						answered = answered || len(query(t, p, c.Replace(target.Expr))) > 0
					}
					if !answered {
						t.Errorf("%s / %s: no data from %s", dash.Title, panel.Title, target.Expr)
					}
				}
			}
		}
	})
	t.Run("the console port serves the fault API, health and metrics", func(t *testing.T) {
		web := "http://" + d.webL.Addr().String()
		for path, want := range map[string]string{
			"/api/simulate/faults":  `"faults"`,
			"/api/simulate/targets": `"__metrics_path__"`,
			"/-/healthy":            "Healthy",
			"/-/ready":              "Ready",
			"/metrics":              "meshlens_store_scrape_targets",
			"/api/istio/validations?namespaces=bookinfo": `"name":"reviews"`,
			"/api/namespaces/graph?namespaces=bookinfo":  `"elements"`,
			"/api/namespaces/bookinfo/workloads":         `"availableReplicas":1`,
		} {
			body := httpGet(t, web+path)
			if !strings.Contains(body, want) {
				t.Errorf("%s: %q lacks %q", path, body, want)
			}
		}
	})

	if err := stop(); err != nil {
		t.Fatalf("demo stopped with %v", err)
	}
	t.Run("after stopping, the data is on disk", func(t *testing.T) {
		db, err := tsdb.OpenDBReadOnly(dataDir+"/tsdb", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		q, err := db.Querier(0, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", telemetry.RequestsTotal))
		n := 0
		for set.Next() {
			n++
		}
		if n == 0 {
			t.Errorf("no %s series on disk after the demo stopped", telemetry.RequestsTotal)
		}
	})
}

func assertSet(t *testing.T, what string, got map[string]bool, want []string) {
	t.Helper()
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
		if !got[w] {
			t.Errorf("%s: missing %s", what, w)
		}
	}
	for g := range got {
		if !wantSet[g] {
			t.Errorf("%s: unexpected %s", what, g)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestBusyPortNamesTheFlag(t *testing.T) {
	c := testDemoConfig("")
	first, _ := runningDemo(t, c)
	c.storeAddr = first.storeL.Addr().String()
	_, err := startDemo(c, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--store.listen-address") || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("got %v, want an error naming --store.listen-address", err)
	}
}

func TestCommandLine(t *testing.T) {
	noAWSEnvironment(t)
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help lists the commands", []string{"--help"}, 0, "demo", ""},
		{"every command has help", []string{"demo", "--help"}, 0, "--scrape-interval", ""},
		{"store has help", []string{"store", "--help"}, 0, "--storage.tsdb.path", ""},
		{"rules has help", []string{"rules", "--help"}, 0, "--interval", ""},
		{"cardinality has help", []string{"cardinality", "--help"}, 0, "--prices", ""},
		{"cardinality with an unknown thinning names the presets", []string{"cardinality", "--thinning", "kialli"}, 2, "", "none, kiali, kiali-strict"},
		{"cardinality with prices that are not bands says how to write them", []string{"cardinality", "--prices", "cheap"}, 2, "", "upTo:usdPer10M"},
		{"collect has help", []string{"collect", "--help"}, 0, "--remote-write.url", ""},
		{"collect with nothing to scrape says what to give", []string{"collect", "--remote-write.url", "http://127.0.0.1:9/api/v1/write"}, 2, "", "--scrape.target"},
		{"collect with nowhere to send says what to give", []string{"collect", "--scrape.target", "127.0.0.1:15020"}, 2, "", "--remote-write.url"},
		{"collect --print-thinning prints the preset for a Prometheus", []string{"collect", "--print-thinning", "kiali"}, 0, "action: labeldrop", ""},
		{"collect with an unknown thinning names the presets", []string{"collect", "--thinning", "kialli"}, 2, "", "none, kiali, kiali-strict"},
		{"collect with sigv4 and no credentials anywhere says what to set", []string{"collect", "--scrape.target", "127.0.0.1:15020", "--remote-write.url", "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write", "--sigv4.region", "us-west-2"}, 2, "", "access_key and secret_key"},
		{"collect with a config file that is not there is a usage error", []string{"collect", "--config.file", "no/such/prometheus.yml"}, 2, "", "--config.file"},
		{"dashboards prints Istio's six as JSON", []string{"dashboards"}, 0, `"title": "Istio Wasm Extension Dashboard"`, ""},
		{"dashboards --push to a URL that is not one is a usage error", []string{"dashboards", "--push", "grafana:3000"}, 2, "", "--push"},
		{"validate without files says what is missing", []string{"validate"}, 2, "", "--filename"},
		{"validate of clean bookinfo exits 0", []string{"validate", "-f", "../../simulate/bookinfo.yaml"}, 0, "0 errors, 0 warnings", ""},
		{"validate of broken config exits 1 with file:line findings", []string{"validate", "-f", "../../validate/testdata/broken.yaml"}, 1, "broken.yaml:", "findings"},
		{"validate fails on warnings when asked", []string{"validate", "-f", "../../validate/testdata/warnings.yaml", "--fail-on", "warning"}, 1, "KIA1104 warning", ""},
		{"validate passes warnings by default", []string{"validate", "-f", "../../validate/testdata/warnings.yaml"}, 0, "KIA1104 warning", ""},
		{"validate of a path that does not exist is a usage error", []string{"validate", "-f", "no/such/manifests"}, 2, "", "no/such/manifests"},
		{"validate -f - reads standard input, as the README shows", []string{"validate", "-f", "-"}, 0, "0 errors, 0 warnings", ""},
		{"validate --filename - reads standard input", []string{"validate", "--filename", "-"}, 0, "0 errors, 0 warnings", ""},
		{"validate of Istio's bookinfo sample reports its duplicates as warnings and exits 0", []string{"validate", "-f", "../../examples/bookinfo/"}, 0, "VirtualService default/reviews is defined 5 times", ""},
		{"validate --list-codes prints every check with its severity", []string{"validate", "--list-codes"}, 0, "KIA0208  error", ""},
		{"validate fails on unknown when asked, info meaning the same", []string{"validate", "-f", "../../validate/testdata/broken.yaml", "--fail-on", "info"}, 1, "KIA0203 unknown", ""},
		{"validate takes trust domain aliases", []string{"validate", "-f", "../../validate/testdata/principals.yaml", "--trust-domain", "cluster.local", "--trust-domain", "east.example.com"}, 0, "0 errors, 0 warnings", ""},
		{"validate flags a foreign trust domain", []string{"validate", "-f", "../../validate/testdata/principals.yaml"}, 0, "KIA0108 warning", ""},
		{"validate flags uncovered workloads when asked", []string{"validate", "-f", "../../simulate/bookinfo.yaml", "--uncovered-workloads"}, 0, "KIA1301 warning", ""},
		{"graph without namespaces says what is missing", []string{"graph"}, 2, "", "--namespaces"},
		{"serve with a config file that is not there is a usage error", []string{"serve", "--config", "no/such/kiali.yaml"}, 2, "", "--config"},
		{"serve with sigv4 and no credentials anywhere says what to set", []string{"serve", "--config", "testdata/sigv4.yaml"}, 2, "", "access_key and secret_key"},
		{"sigv4-proxy without a host says it is required", []string{"sigv4-proxy"}, 2, "", "--host"},
		{"an unknown command exits 2", []string{"bogus"}, 2, "", "bogus"},
		{"a bad flag value exits 2", []string{"demo", "--scrape-interval", "often"}, 2, "", "often"},
		{"the prometheus config is printed", []string{"demo", "--print-prometheus-config", "--web.listen-address", "127.0.0.1:3333"}, 0, "http://127.0.0.1:3333/api/simulate/targets", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Standard input is bookinfo's manifests.
			in, err := os.Open("../../simulate/bookinfo.yaml")
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			stdin := os.Stdin
			os.Stdin = in
			defer func() { os.Stdin = stdin }()
			var out, errOut strings.Builder
			code := meshlens(tc.args, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
			}
		})
	}
}

// httpGetQuiet is httpGet for polling: an error is an empty body.
func httpGetQuiet(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// workloadHealth is the status the demo's console gives a workload now,
// over a rate window of rateInterval.
func workloadHealth(t *testing.T, web, workload, rateInterval string) string {
	t.Helper()
	body := httpGetQuiet(web + "/api/namespaces/bookinfo/workloads/" + workload + "/health?rateInterval=" + rateInterval)
	var e struct {
		Status struct {
			Status string `json:"status"`
		} `json:"status"`
	}
	if json.Unmarshal([]byte(body), &e) != nil {
		return ""
	}
	return e.Status.Status
}

func setFault(t *testing.T, web, method, body string) {
	t.Helper()
	req, err := http.NewRequest(method, web+"/api/simulate/faults", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s faults %s: %s", method, body, resp.Status)
	}
}

// TestDemoHealthFollowsFaults drives the live demo's faults and reads
// reviews-v2's health as Kiali's tolerances say it: half its answers 500
// is a Failure, one in twenty Degraded, none Healthy again once the errors
// leave the window, and down (no pod available) a Failure at once.
func TestDemoHealthFollowsFaults(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(t.TempDir()))
	web := "http://" + d.webL.Addr().String()
	waitFor(t, "reviews-v2 Healthy with traffic", 30*time.Second, func() bool { return workloadHealth(t, web, "reviews-v2", "3s") == "Healthy" })

	setFault(t, web, http.MethodPut, `{"namespace":"bookinfo","workload":"reviews-v2","errorRate":0.5}`)
	waitFor(t, "reviews-v2 a Failure at 50% errors", 20*time.Second, func() bool { return workloadHealth(t, web, "reviews-v2", "3s") == "Failure" })

	setFault(t, web, http.MethodDelete, "")
	cleared := time.Now()
	waitFor(t, "reviews-v2 Healthy once the errors left a 2s window", 15*time.Second, func() bool { return workloadHealth(t, web, "reviews-v2", "2s") == "Healthy" })
	t.Logf("Healthy again %s after the fault was cleared (scrape interval 1s, window 2s)", time.Since(cleared).Round(100*time.Millisecond))

	// 5 % is a few errors a second here: over 20 s, some hundred requests,
	// about 5 errors, below 10 % (a Failure) by far and above 0 (Degraded).
	setFault(t, web, http.MethodPut, `{"namespace":"bookinfo","workload":"reviews-v2","errorRate":0.05}`)
	time.Sleep(21 * time.Second)
	waitFor(t, "reviews-v2 Degraded at 5% errors", 20*time.Second, func() bool { return workloadHealth(t, web, "reviews-v2", "20s") == "Degraded" })

	setFault(t, web, http.MethodPut, `{"namespace":"bookinfo","workload":"reviews-v2","down":true}`)
	if got := workloadHealth(t, web, "reviews-v2", "3s"); got != "Failure" {
		t.Errorf("reviews-v2 down is %s at once, want Failure (no replica available)", got)
	}
	body := httpGet(t, web+"/api/namespaces/bookinfo/workloads/reviews-v2/health")
	if !strings.Contains(body, `"availableReplicas":0`) || !strings.Contains(body, "none of 1 replicas available") {
		t.Errorf("health of reviews-v2 down: %s", body)
	}
	setFault(t, web, http.MethodDelete, "")
	if body := httpGet(t, web+"/api/namespaces/bookinfo/workloads/reviews-v2/health"); !strings.Contains(body, `"availableReplicas":1`) {
		t.Errorf("health of reviews-v2 back up: %s", body)
	}
}

// TestDemoReadsTheConsoleConfig: --config's health_config tunes the
// demo's health: half of reviews-v2's requests failing, a Failure by
// Kiali's defaults, is Degraded under a tolerance failing only at 100 %.
// A config that does not compile stops the demo naming the key.
func TestDemoReadsTheConsoleConfig(t *testing.T) {
	dir := t.TempDir()
	c := testDemoConfig(dir)
	c.configFile = filepath.Join(dir, "kiali.yaml")
	os.WriteFile(c.configFile, []byte(`
istio_namespace: istio-system
health_config:
  rate:
    - namespace: bookinfo
      kind: workload
      name: reviews-v2
      tolerance:
        - {code: 5XX, degraded: 1, failure: 100, protocol: http, direction: ".*"}
`), 0o600)
	d, _ := runningDemo(t, c)
	web := "http://" + d.webL.Addr().String()
	setFault(t, web, http.MethodPut, `{"namespace":"bookinfo","workload":"reviews-v2","errorRate":0.5}`)
	waitFor(t, "reviews-v2 Degraded at 50% errors under the configured tolerance", 30*time.Second, func() bool {
		return workloadHealth(t, web, "reviews-v2", "3s") == "Degraded"
	})
	var graph struct {
		Elements struct {
			Nodes []struct {
				Data struct {
					Workload     string `json:"workload"`
					HealthStatus string `json:"healthStatus"`
				} `json:"data"`
			} `json:"nodes"`
		} `json:"elements"`
	}
	body := httpGet(t, web+"/api/namespaces/graph?namespaces=bookinfo&graphType=workload&appenders=health&duration=3s")
	if err := json.Unmarshal([]byte(body), &graph); err != nil {
		t.Fatal(err)
	}
	judged := map[string]string{}
	for _, n := range graph.Elements.Nodes {
		judged[n.Data.Workload] = n.Data.HealthStatus
	}
	if judged["reviews-v2"] != "Degraded" {
		t.Errorf("the graph judges reviews-v2 %q, the health API Degraded (all: %v)", judged["reviews-v2"], judged)
	}

	bad := testDemoConfig("")
	bad.configFile = filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad.configFile, []byte("health_config:\n  rate:\n    - name: \"reviews-(\"\n"), 0o600)
	if _, err := startDemo(bad, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "health_config.rate[0].name") {
		t.Errorf("a name that does not compile: %v, want an error naming health_config.rate[0].name", err)
	}
}
