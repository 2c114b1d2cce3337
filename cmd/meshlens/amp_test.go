package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/meshlens/meshlens/amptest"
	"github.com/meshlens/meshlens/simulate"
	"github.com/meshlens/meshlens/store"
)

// noAWSEnvironment leaves the AWS default credentials chain nothing to
// find on this machine: no keys, no profiles, no instance metadata.
func noAWSEnvironment(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
}

// serveWith runs `meshlens serve --config` on a config file holding yml,
// and returns the console's base URL, its output and logs, and a stop.
func serveWith(t *testing.T, yml string) (base string, logs *syncBuffer, stop func() error) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "kiali.yaml")
	os.WriteFile(cfg, []byte(yml), 0o600)
	logs = &syncBuffer{}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveConfig{prometheusFlags: prometheusFlags{configFile: cfg, timeout: 5 * time.Second, prometheusURL: "http://127.0.0.1:9"}, web: webFlags{listenAddr: "127.0.0.1:0", listenSet: true}},
			slog.New(slog.NewTextHandler(logs, nil)), &out)
	}()
	waitFor(t, "serve to say where it listens", 10*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v", err)
		default:
		}
		m := regexp.MustCompile(`console on (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	})
	return base, logs, func() error { cancel(); return <-done }
}

// demoBehindAMP runs the demo and serves its store as an AMP workspace.
func demoBehindAMP(t *testing.T) *amptest.Server {
	t.Helper()
	d, _ := runningDemo(t, testDemoConfig(""))
	store, _ := url.Parse("http://" + d.storeL.Addr().String())
	amp := amptest.New(httputil.NewSingleHostReverseProxy(store))
	t.Cleanup(amp.Close)
	return amp
}

func sigv4Config(workspace, secret string) string {
	return fmt.Sprintf(`
external_services:
  prometheus:
    url: %s
    auth:
      type: sigv4
      region: %s
      access_key: %s
      secret_key: %s
`, workspace, amptest.Region, amptest.AccessKey, secret)
}

func TestServeQueriesAMPSignedWithSigV4(t *testing.T) {
	noAWSEnvironment(t)
	amp := demoBehindAMP(t)

	t.Run("every query signed, the secret from the environment", func(t *testing.T) {
		t.Setenv("AMP_SECRET", amptest.SecretKey)
		base, logs, stop := serveWith(t, sigv4Config(amp.WorkspaceURL(), "${AMP_SECRET}"))
		var graph string
		waitFor(t, "a graph of bookinfo through the workspace", 30*time.Second, func() bool {
			graph = httpGetQuiet(base + "/api/namespaces/graph?namespaces=bookinfo&duration=60s&graphType=workload")
			return strings.Contains(graph, `"workload":"reviews-v2"`)
		})
		// AMP does not serve its configuration: the interval is assumed, and said.
		if !strings.Contains(graph, "assumed 15s") {
			t.Errorf("the graph does not say the scrape interval was assumed: %s", graph[strings.Index(graph, `"warnings"`)+0:])
		}
		if body := httpGetQuiet(base + "/-/ready"); !strings.Contains(body, "Ready") {
			t.Errorf("/-/ready: %s", body)
		}
		if amp.Accepted.Load() == 0 || amp.Refused.Load() != 0 {
			t.Errorf("the workspace accepted %d requests and refused %d (first refusal %q)", amp.Accepted.Load(), amp.Refused.Load(), amp.NextRefusal())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), amptest.SecretKey) {
			t.Error("the secret key reached the logs")
		}
	})

	t.Run("a wrong secret key is refused and said, without the key", func(t *testing.T) {
		refused := amp.Refused.Load()
		base, logs, stop := serveWith(t, sigv4Config(amp.WorkspaceURL(), "not-the-secret-key"))
		defer stop()
		body := httpGetQuiet(base + "/api/namespaces/graph?namespaces=bookinfo&duration=60s")
		if !strings.Contains(body, "403") || !strings.Contains(body, `"code":`) {
			t.Errorf("the graph's answer does not say the store refused it: %.400s", body)
		}
		if resp, err := http.Get(base + "/-/ready"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/-/ready with a refused key: %v %v, want 503", resp, err)
		} else {
			resp.Body.Close()
		}
		if amp.Refused.Load() == refused || amp.NextRefusal() != "InvalidSignatureException" {
			t.Errorf("the workspace refused nothing, or not for the signature")
		}
		for what, s := range map[string]string{"logs": logs.String(), "the answer": body} {
			if strings.Contains(s, "not-the-secret-key") {
				t.Errorf("the secret key reached %s", what)
			}
		}
	})

	t.Run("no credentials anywhere is a start-up error that says what to set", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "kiali.yaml")
		os.WriteFile(cfg, []byte("external_services:\n  prometheus:\n    url: "+amp.WorkspaceURL()+"\n    auth: {type: sigv4, region: us-west-2}\n"), 0o600)
		var out, errOut strings.Builder
		code := meshlens([]string{"serve", "--config", cfg, "--web.listen-address", "127.0.0.1:0"}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "sigv4") || !strings.Contains(errOut.String(), "access_key") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})
}

// The seed's architecture with the proxy: a console that cannot sign,
// through `meshlens sigv4-proxy` to the workspace, credentials from the
// environment (the AWS default chain), exactly as the flags are typed.
func TestSigV4ProxyLetsAConsoleThatCannotSignQueryAMP(t *testing.T) {
	noAWSEnvironment(t)
	amp := demoBehindAMP(t)
	t.Setenv("AWS_ACCESS_KEY_ID", amptest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", amptest.SecretKey)

	ampURL, _ := url.Parse(amp.URL)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	// The stand-in listens on 127.0.0.1; the proxy signs for AMP's name
	// and sends it as the Host, as in front of a VPC endpoint.
	go func() {
		done <- meshlens([]string{"sigv4-proxy", "--host", ampURL.Host, "--sign-host", "aps-workspaces." + amptest.Region + ".amazonaws.com",
			"--upstream-url-scheme", "http", "--port", "127.0.0.1:0"}, &out, &errOut)
	}()
	var proxy string
	waitFor(t, "the proxy to say where it listens", 10*time.Second, func() bool {
		select {
		case code := <-done:
			t.Fatalf("the proxy stopped with %d: %s", code, errOut.String())
		default:
		}
		m := regexp.MustCompile(`address=(127\.0\.0\.1:\d+)`).FindStringSubmatch(errOut.String())
		if m != nil {
			proxy = "http://" + m[1]
		}
		return m != nil
	})
	if body := httpGetQuiet(proxy + "/-/ready"); !strings.Contains(body, "Ready") {
		t.Errorf("/-/ready with credentials in the environment: %s", body)
	}
	base, _, stop := serveWith(t, fmt.Sprintf("external_services:\n  prometheus:\n    url: %s/workspaces/%s/\n", proxy, amptest.Workspace))
	defer stop()
	waitFor(t, "a graph of bookinfo through the proxy", 30*time.Second, func() bool {
		return strings.Contains(httpGetQuiet(base+"/api/namespaces/graph?namespaces=bookinfo&duration=60s&graphType=workload"), `"workload":"reviews-v2"`)
	})
	if amp.Accepted.Load() == 0 || amp.Refused.Load() != 0 {
		t.Errorf("the workspace accepted %d requests and refused %d (first refusal %q)", amp.Accepted.Load(), amp.Refused.Load(), amp.NextRefusal())
	}
	if metrics := httpGetQuiet(proxy + "/-/metrics"); !strings.Contains(metrics, `meshlens_sigv4_proxy_requests_total{code="200"}`) {
		t.Errorf("the proxy's metrics do not count the answered queries: %.500s", metrics)
	}
	if strings.Contains(errOut.String(), amptest.SecretKey) {
		t.Error("the secret key reached the proxy's logs")
	}
}

func TestSigV4ProxyNeedsAServiceItCanName(t *testing.T) {
	var out, errOut strings.Builder
	code := meshlens([]string{"sigv4-proxy", "--host", "mimir.internal:8080", "--port", "127.0.0.1:0"}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "--name") || !strings.Contains(errOut.String(), "--region") {
		t.Errorf("exit %d, stderr %q; want exit 2 naming --name and --region", code, errOut.String())
	}
}

// The seed's architecture without the proxy: `meshlens collect` scrapes the
// simulated bookinfo sidecars, thins them with the kiali preset, sums the
// pods of each workload, and sends them by remote write, signed, to the
// workspace; `meshlens serve` reads the workspace, signed, and draws
// bookinfo's graph, health and metrics from what arrived.
func TestCollectToAMPThenServeDrawsBookinfoFromThinnedAggregatedData(t *testing.T) {
	noAWSEnvironment(t)
	d, _ := runningDemo(t, testDemoConfig(""))
	targets := filepath.Join(t.TempDir(), "sidecars.json")
	if err := simulate.WriteTargetsFile(targets, d.runner.Targets()); err != nil {
		t.Fatal(err)
	}
	received, err := store.Open(store.Options{DataDir: t.TempDir(), RemoteWriteReceiver: true})
	if err != nil {
		t.Fatal(err)
	}
	defer received.Close()
	amp := amptest.New(received.Handler())
	defer amp.Close()
	// The collector finds its key where the AWS default chain looks first.
	t.Setenv("AWS_ACCESS_KEY_ID", amptest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", amptest.SecretKey)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- runCollect(ctx, collectConfig{
			fileSD: []string{targets}, metricsPath: "/stats/prometheus", interval: time.Second,
			remoteWriteURL: amp.RemoteWriteURL(), sigv4Region: amptest.Region, thinning: "kiali", aggregate: "workload",
			walDir: t.TempDir(), listenAddr: "127.0.0.1:0", flushDeadline: time.Second,
		}, slog.New(slog.DiscardHandler), &out)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collect: %v", err)
		}
	}()

	base, _, stop := serveWith(t, sigv4Config(amp.WorkspaceURL(), amptest.SecretKey))
	defer stop()
	var graph string
	waitFor(t, "bookinfo's graph from what the collector sent", 60*time.Second, func() bool {
		graph = httpGetQuiet(base + "/api/namespaces/graph?namespaces=bookinfo&duration=60s&graphType=workload")
		return strings.Contains(graph, `"workload":"reviews-v2"`) && strings.Contains(graph, `"workload":"ratings-v1"`)
	})
	if amp.Refused.Load() != 0 {
		t.Errorf("the workspace refused %d requests (first: %q)", amp.Refused.Load(), amp.NextRefusal())
	}
	// Health and metrics read the thinned data too: every workload the
	// graph drew is Healthy (no faults are injected), as from the demo's
	// own store, and a workload's request rates and size percentiles
	// (from the size buckets kiali keeps) have points.
	healthOf := func(base string) map[string]string {
		var h map[string]struct {
			Requests struct {
				Status struct {
					Status string `json:"status"`
				} `json:"status"`
			} `json:"requests"`
			Status struct {
				Status string `json:"status"`
			} `json:"status"`
		}
		body := httpGetQuiet(base + "/api/namespaces/bookinfo/health?type=workload&rateInterval=60s")
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("health: %v: %.300s", err, body)
		}
		out := map[string]string{}
		for name, e := range h {
			out[name] = e.Status.Status
		}
		return out
	}
	thinned := healthOf(base)
	demoBase, _, stopDemoConsole := serveWith(t, "external_services:\n  prometheus:\n    url: http://"+d.storeL.Addr().String()+"\n")
	defer stopDemoConsole()
	unthinned := healthOf(demoBase)
	for _, w := range []string{"productpage-v1", "details-v1", "reviews-v1", "reviews-v2", "reviews-v3", "ratings-v1"} {
		if thinned[w] != "Healthy" || thinned[w] != unthinned[w] {
			t.Errorf("health of %s on kiali-thinned data %q, on the demo's store %q: want Healthy on both", w, thinned[w], unthinned[w])
		}
	}
	m := httpGetQuiet(base + "/api/namespaces/bookinfo/workloads/reviews-v2/metrics?direction=inbound&reporter=destination&quantiles=0.95&rateInterval=60s&duration=120&step=15")
	for _, name := range []string{`"request_count":[{`, `"request_size":[{`} {
		if !strings.Contains(m, name) {
			t.Errorf("reviews-v2's metrics from kiali-thinned data lack %s: %.400s", name, m)
		}
	}
	// The preset's labels never arrived, nor Istio's series of a pod.
	q, err := received.Engine().NewInstantQuery(context.Background(), received.Queryable(), nil,
		`count({__name__=~"istio_.*", source_app!=""}) or count({__name__=~"istio_agent_.*|envoy_cluster_lb_.*"}) or count({__name__=~"istio_.*", pod!=""})`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res := q.Exec(context.Background()); res.Err != nil || len(res.Value.(promql.Vector)) != 0 {
		t.Errorf("series the kiali preset drops reached the workspace: %v %v", res.Value, res.Err)
	}
	if !strings.Contains(out.String(), "sending to 1 remote write endpoint") {
		t.Errorf("collect did not say what it does: %q", out.String())
	}
}

// `meshlens rules --amp.workspace-*` puts the graph's recording rules into
// the workspace's ruler through the AMP API (the AWS SDK, pointed at the
// stand-in by AWS_ENDPOINT_URL_AMP as any AWS SDK or CLI is), every call
// signed; a second run replaces them.
func TestRulesPutIntoAMPCreateThenReplaceTheNamespace(t *testing.T) {
	noAWSEnvironment(t)
	amp := amptest.New(http.NotFoundHandler())
	defer amp.Close()
	t.Setenv("AWS_ENDPOINT_URL_AMP", amp.URL)

	t.Run("no credentials anywhere is a usage error that says what to set", func(t *testing.T) {
		var out, errOut strings.Builder
		code := meshlens([]string{"rules", "--amp.workspace-id", amptest.Workspace, "--amp.region", amptest.Region}, &out, &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), "AWS_ACCESS_KEY_ID") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})
	t.Setenv("AWS_ACCESS_KEY_ID", amptest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", amptest.SecretKey)
	var want strings.Builder
	if code := meshlens([]string{"rules", "--interval", "30s"}, &want, io.Discard); code != 0 {
		t.Fatal("rules did not print")
	}
	for i, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--amp.workspace-id", amptest.Workspace}, "created rule groups namespace meshlens-graph in workspace " + amptest.Workspace + ": active"},
		{[]string{"--amp.workspace-alias", amptest.Alias}, "updated rule groups namespace meshlens-graph in workspace " + amptest.Workspace + ": active"},
	} {
		var out, errOut strings.Builder
		code := meshlens(append([]string{"rules", "--interval", "30s", "--amp.region", amptest.Region}, c.args...), &out, &errOut)
		if code != 0 || !strings.Contains(out.String(), c.says) {
			t.Fatalf("run %d: exit %d, stdout %q, stderr %q; want it to say %q", i+1, code, out.String(), errOut.String(), c.says)
		}
	}
	got, ok := amp.RuleNamespace("meshlens-graph")
	if !ok || string(got) != want.String() {
		t.Errorf("the workspace holds %d bytes of rules, want the %d `meshlens rules --interval 30s` prints", len(got), want.Len())
	}
	if amp.Refused.Load() != 0 {
		t.Errorf("the workspace refused %d calls: %s", amp.Refused.Load(), amp.NextRefusal())
	}
	var out, errOut strings.Builder
	if code := meshlens([]string{"rules", "--amp.workspace-alias", "no-such-alias", "--amp.region", amptest.Region}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), `no workspace has the alias "no-such-alias"`) {
		t.Errorf("an unknown alias: exit %d, stderr %q", code, errOut.String())
	}
}

// `meshlens graph` takes serve's --config and flags: an AMP workspace by
// its alias (signing with the default credentials), or by the config
// file's sigv4 auth.
func TestGraphReadsAMPByAliasOrConfigFile(t *testing.T) {
	noAWSEnvironment(t)
	amp := demoBehindAMP(t)
	t.Setenv("AWS_ENDPOINT_URL_AMP", amp.URL)
	cfg := filepath.Join(t.TempDir(), "kiali.yaml")
	os.WriteFile(cfg, []byte(sigv4Config(amp.WorkspaceURL(), amptest.SecretKey)), 0o600)

	for _, c := range []struct {
		name string
		args []string
		env  bool
	}{
		{"by alias", []string{"--amp.workspace-alias", amptest.Alias, "--amp.region", amptest.Region}, true},
		{"by config file", []string{"--config", cfg}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env {
				t.Setenv("AWS_ACCESS_KEY_ID", amptest.AccessKey)
				t.Setenv("AWS_SECRET_ACCESS_KEY", amptest.SecretKey)
			}
			var out, errOut strings.Builder
			waitFor(t, "a graph of bookinfo from the workspace", 30*time.Second, func() bool {
				out.Reset()
				errOut.Reset()
				meshlens(append([]string{"graph", "--namespaces", "bookinfo", "--duration", "60s", "--prometheus.scrape-interval", "1s"}, c.args...), &out, &errOut)
				return strings.Contains(out.String(), "reviews-v2")
			})
			if amp.Refused.Load() != 0 {
				t.Errorf("the workspace refused %d requests: %s", amp.Refused.Load(), amp.NextRefusal())
			}
		})
	}
	var out, errOut strings.Builder
	code := meshlens([]string{"graph", "--namespaces", "bookinfo", "--amp.workspace-alias", amptest.Alias, "--prometheus.url", amp.WorkspaceURL()}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "not both") {
		t.Errorf("--prometheus.url with --amp.workspace-alias: exit %d, %q", code, errOut.String())
	}
}
