package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStoreCommand(t *testing.T) {
	t.Run("a config that does not parse is a usage error naming the file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.yml")
		os.WriteFile(bad, []byte("scrape_configs: [{job_name: 7, static_configs: nope}]\n"), 0o644)
		var out, errOut strings.Builder
		code := meshlens([]string{"store", "--config.file", bad, "--web.listen-address", "127.0.0.1:0", "--storage.tsdb.path", t.TempDir()}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "bad.yml") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})
	t.Run("it serves the Prometheus API until stopped", func(t *testing.T) {
		addr := freeAddress(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		var out strings.Builder
		go func() {
			done <- runStore(ctx, storeConfig{dataDir: t.TempDir(), retention: time.Hour, listenAddr: addr, remoteWrite: true}, slog.New(slog.DiscardHandler), &out)
		}()
		waitFor(t, "the store to be ready", 10*time.Second, func() bool {
			body := httpGetQuiet("http://" + addr + "/-/ready")
			return strings.Contains(body, "Ready")
		})
		if body := httpGet(t, "http://"+addr+"/api/v1/status/buildinfo"); !strings.Contains(body, `"version"`) {
			t.Errorf("buildinfo: %s", body)
		}
		if body := httpGet(t, "http://"+addr+"/metrics"); !strings.Contains(body, "meshlens_build_info") || !strings.Contains(body, "prometheus_tsdb_head_series") {
			t.Errorf("/metrics lacks meshlens's or the TSDB's metrics")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("store stopped with %v", err)
		}
	})
}

func TestServeCommand(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(""))
	addr := freeAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		done <- runServe(ctx, serveConfig{
			prometheusFlags: prometheusFlags{prometheusURL: "http://" + d.storeL.Addr().String(), timeout: 10 * time.Second}, web: webFlags{listenAddr: addr, enablePprof: true},
			inventoryFiles: []string{"../../simulate/bookinfo.yaml"},
		}, slog.New(slog.DiscardHandler), &out)
	}()
	base := "http://" + addr
	waitFor(t, "serve to answer", 10*time.Second, func() bool { return strings.Contains(httpGetQuiet(base+"/-/healthy"), "Healthy") })
	waitFor(t, "a graph with bookinfo's edges", 30*time.Second, func() bool {
		return strings.Contains(httpGetQuiet(base+"/api/namespaces/graph?namespaces=bookinfo&duration=5s&graphType=workload"), `"workload":"reviews-v2"`)
	})
	for path, want := range map[string]string{
		"/api/namespaces": `"bookinfo"`,
		"/api/istio/validations?namespaces=bookinfo": `"checks":[]`,
		"/metrics":                       "meshlens_graph_queries_total",
		"/debug/pprof/heap?debug=1":      "heap profile",
		"/debug/pprof/goroutine?debug=1": "runServe",
	} {
		if body := httpGet(t, base+path); !strings.Contains(body, want) {
			t.Errorf("%s: %.200s lacks %s", path, body, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve stopped with %v", err)
	}
}

func TestGraphCommand(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(""))
	prom := "http://" + d.storeL.Addr().String()
	waitFor(t, "traffic in the store", 30*time.Second, func() bool {
		var out, errOut strings.Builder
		meshlens([]string{"graph", "--prometheus", prom, "--namespaces", "bookinfo", "--duration", "5s"}, &out, &errOut)
		// Edges appear as the first scrapes see traffic: wait for the
		// caller the table must show, not just any edge.
		return strings.Contains(out.String(), "productpage-v1 (bookinfo)") && strings.Contains(out.String(), "reviews-v2")
	})
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"a table of edges", []string{"--namespaces", "bookinfo"}, 0, "productpage-v1 (bookinfo)", ""},
		{"Kiali's JSON", []string{"--namespaces", "bookinfo", "-o", "json"}, 0, `"elements"`, ""},
		{"DOT", []string{"--namespaces", "bookinfo", "-o", "dot", "--type", "app"}, 0, "digraph mesh", ""},
		{"Mermaid", []string{"--namespaces", "bookinfo", "-o", "mermaid", "--type", "service"}, 0, "flowchart LR", ""},
		{"a namespace with PromQL in it is a usage error", []string{"--namespaces", `x"}`}, 2, "", "not a Kubernetes namespace name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut strings.Builder
			args := append([]string{"graph", "--prometheus", prom, "--duration", "5s"}, tc.args...)
			code := meshlens(args, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("exit %d, stdout %.300q, stderr %q", code, out.String(), errOut.String())
			}
		})
	}
	t.Run("a Prometheus that is down is a clear error", func(t *testing.T) {
		var out, errOut strings.Builder
		code := meshlens([]string{"graph", "--prometheus", "http://" + freeAddress(t), "--namespaces", "bookinfo", "--timeout", "1s"}, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "prometheus unavailable") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})
}

func TestSimulateCommand(t *testing.T) {
	addr := freeAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		done <- runSimulate(ctx, meshFlags{services: 12, namespaces: 2, seed: 4, metricsOnly: true, loadRate: 50}, addr, slog.New(slog.DiscardHandler), &out)
	}()
	base := "http://" + addr
	waitFor(t, "the control API", 10*time.Second, func() bool { return strings.Contains(httpGetQuiet(base+"/api/simulate/targets"), "__metrics_path__") })
	if n := strings.Count(httpGet(t, base+"/api/simulate/targets"), `"targets"`); n != 12+3+1+1 {
		t.Errorf("%d targets, want 17 (12 services, 3 second versions, the gateway, istiod)", n)
	}
	if body := httpGet(t, base+"/metrics"); !strings.Contains(body, "meshlens_build_info") {
		t.Errorf("/metrics: %.200s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("simulate stopped with %v", err)
	}
	if !strings.Contains(out.String(), "http_sd_configs") {
		t.Errorf("simulate did not print a Prometheus config: %s", out.String())
	}
}
