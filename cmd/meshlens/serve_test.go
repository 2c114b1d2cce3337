package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlens/meshlens/grafana/grafanatest"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeSendsTheConfiguredAuth: `meshlens serve --config` reads a
// Kiali-shaped file and calls the Prometheus API with its bearer token
// (from a file) and custom headers; the token reaches neither the logs nor
// the answers. The Prometheus here only records what it is sent and
// answers empty results, as AMP behind its tenant header would.
func TestServeSendsTheConfiguredAuth(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Header.Get("X-Scope-OrgID"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "/label/") {
			w.Write([]byte(`{"status":"success","data":[]}`))
			return
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}))
	defer prom.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("tok-secret"), 0o600)
	os.WriteFile(filepath.Join(dir, "grafana-password"), []byte("graf-secret"), 0o600)
	_, gsrv := grafanatest.New(t, "", "admin", "graf-secret")
	if code := meshlens([]string{"dashboards", "--push", gsrv.URL, "--grafana.user", "admin", "--grafana.password-file", filepath.Join(dir, "grafana-password")}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("pushing the dashboards: exit %d", code)
	}
	cfg := filepath.Join(dir, "kiali.yaml")
	os.WriteFile(cfg, []byte(`
external_services:
  prometheus:
    url: `+prom.URL+`
    auth: {type: bearer, token_file: token}
    custom_headers: {X-Scope-OrgID: tenant-a}
    thanos_proxy: {enabled: true, scrape_interval: 30s}
  istio: {url_service_version: x}
  grafana:
    enabled: true
    url: https://grafana.example.com
    in_cluster_url: `+gsrv.URL+`
    auth: {type: basic, username: admin, password_file: grafana-password}
`), 0o600)
	var logs, out syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveConfig{prometheusFlags: prometheusFlags{configFile: cfg, timeout: 5 * time.Second, prometheusURL: "http://127.0.0.1:9"}, web: webFlags{listenAddr: "127.0.0.1:0", listenSet: true}}, logger, &out)
	}()
	var addr string
	waitFor(t, "serve to say where it listens", 10*time.Second, func() bool {
		m := regexp.MustCompile(`console on http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	body := httpGet(t, "http://"+addr+"/api/namespaces/graph?namespaces=bookinfo&duration=60s")
	links := httpGet(t, "http://"+addr+"/api/grafana")
	if !strings.Contains(links, `"url":"https://grafana.example.com/d/meshlens-istio-service/`) || !strings.Contains(links, `"service":"var-service"`) {
		t.Errorf("/api/grafana: %s", links)
	}
	body += links
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("serve sent nothing to the Prometheus of its config (it took the flag's default URL?)")
	}
	for _, s := range seen {
		if !strings.HasSuffix(s, " Bearer tok-secret tenant-a") {
			t.Errorf("a query was sent as %q, want the token and tenant header", s)
		}
	}
	if !strings.Contains(logs.String(), "external_services.istio.url_service_version is not a key meshlens reads") {
		t.Errorf("logs lack the unknown key's warning: %s", logs.String())
	}
	for what, s := range map[string]string{"logs": logs.String(), "the answer": body, "stdout": out.String()} {
		if strings.Contains(s, "tok-secret") || strings.Contains(s, "graf-secret") {
			t.Errorf("a secret is in %s", what)
		}
	}
}
