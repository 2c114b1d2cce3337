package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/meshlens/meshlens/cardinality"
	"github.com/meshlens/meshlens/collect"
	"github.com/meshlens/meshlens/simulate"
	"github.com/meshlens/meshlens/store"
)

// TestMain lets a test run the meshlens command as a process of its own
// (the test binary, started again with MESHLENS_TEST_RUN_MAIN=1), which a
// test can kill -9.
func TestMain(m *testing.M) {
	if os.Getenv("MESHLENS_TEST_RUN_MAIN") == "1" {
		os.Exit(meshlens(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startMeshlens runs `meshlens args...` as a process; its output goes to out.
func startMeshlens(t *testing.T, out *syncBuffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MESHLENS_TEST_RUN_MAIN=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// received are the samples of name the store holds from the last hour.
func received(t *testing.T, s *store.Store, name string) promql.Matrix {
	t.Helper()
	q, err := s.Engine().NewInstantQuery(context.Background(), s.Queryable(), nil, name+"[1h]", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res.Value.(promql.Matrix)
}

// receivedValues are the values of name the store holds.
func receivedValues(t *testing.T, s *store.Store, name string) map[float64]bool {
	t.Helper()
	got := map[float64]bool{}
	for _, series := range received(t, s, name) {
		for _, p := range series.Floats {
			got[p.F] = true
		}
	}
	return got
}

// receivedHistogramCounts are the counts of the native histograms of
// name the store holds.
func receivedHistogramCounts(t *testing.T, s *store.Store, name string) map[float64]bool {
	t.Helper()
	got := map[float64]bool{}
	for _, series := range received(t, s, name) {
		for _, p := range series.Histograms {
			got[p.H.Count] = true
		}
	}
	return got
}

// Prometheus's agent loses what its queues had not sent when it dies
// (prometheus/prometheus#8809): its remote write starts from the time it
// starts again. meshlens collect resumes from its savepoint. Here the
// receiver is down while the collector scrapes a counter that counts its
// own scrapes; the collector is killed with SIGKILL, the receiver comes
// back, the collector starts again: every value scraped before the kill
// must arrive, floats and native histograms alike (the target also
// observes one value a scrape into a native histogram, scraped in
// Prometheus's protobuf format).
func TestCollectKilledWhileTheReceiverIsDownLosesNothingItScraped(t *testing.T) {
	var served atomic.Int64
	reg := prometheus.NewRegistry()
	scrapes := prometheus.NewCounter(prometheus.CounterOpts{Name: "collect_test_scrapes_total", Help: "Scrapes served."})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "collect_test_latency_seconds", Help: "One observation a scrape.",
		NativeHistogramBucketFactor: 1.1})
	reg.MustRegister(scrapes, latency)
	exposition := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		served.Add(1)
		scrapes.Inc()
		latency.Observe(0.01)
		exposition.ServeHTTP(w, r)
	}))
	defer target.Close()
	received, err := store.Open(store.Options{DataDir: t.TempDir(), RemoteWriteReceiver: true})
	if err != nil {
		t.Fatal(err)
	}
	defer received.Close()
	var down atomic.Bool
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "receiver down for the test", http.StatusServiceUnavailable)
			return
		}
		received.Handler().ServeHTTP(w, r)
	}))
	defer receiver.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "collect.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
global: {scrape_interval: 200ms, scrape_timeout: 200ms}
scrape_configs:
  - job_name: counter
    scrape_native_histograms: true
    static_configs: [{targets: [%q]}]
remote_write:
  - url: %s/api/v1/write
    send_native_histograms: true
    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 200ms}
`, strings.TrimPrefix(target.URL, "http://"), receiver.URL)), 0o600)
	args := []string{"collect", "--config.file", cfg, "--storage.agent.path", filepath.Join(dir, "wal"), "--web.listen-address", "127.0.0.1:0"}

	var out1 syncBuffer
	first := startMeshlens(t, &out1, args...)
	waitFor(t, "the first samples to arrive", 20*time.Second, func() bool { return len(receivedValues(t, received, "collect_test_scrapes_total")) >= 5 })
	down.Store(true)
	// A savepoint is saved every 5s: let one be saved with the receiver
	// down, so that the kill does not find the savepoint of the start.
	time.Sleep(6 * time.Second)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	scrapedBeforeKill := served.Load()
	sentBeforeKill := len(receivedValues(t, received, "collect_test_scrapes_total"))
	if scrapedBeforeKill-int64(sentBeforeKill) < 20 {
		t.Fatalf("the test needs scrapes the queue could not send: %d scraped, %d arrived", scrapedBeforeKill, sentBeforeKill)
	}

	down.Store(false)
	var out2 syncBuffer
	startMeshlens(t, &out2, args...)
	waitFor(t, "samples scraped after the restart", 30*time.Second, func() bool {
		return receivedValues(t, received, "collect_test_scrapes_total")[float64(scrapedBeforeKill+5)]
	})
	got := receivedValues(t, received, "collect_test_scrapes_total")
	var missing []int64
	// The last scrape may have been cut by the kill before it was written.
	for v := int64(1); v < scrapedBeforeKill; v++ {
		if !got[float64(v)] {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of the %d values scraped before the kill never arrived: %v\nfirst run:\n%s\nsecond run:\n%s", len(missing), scrapedBeforeKill-1, missing, out1.String(), out2.String())
	}
	counts := receivedHistogramCounts(t, received, "collect_test_latency_seconds")
	missing = missing[:0]
	for v := int64(1); v < scrapedBeforeKill; v++ {
		if !counts[float64(v)] {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of the %d native histograms scraped before the kill never arrived (by their count): %v", len(missing), scrapedBeforeKill-1, missing)
	}
	m := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+)/metrics`).FindStringSubmatch(out2.String())
	if m == nil {
		t.Fatalf("the second run did not say where its metrics are: %s", out2.String())
	}
	if metrics := httpGetQuiet(m[1] + "/metrics"); !regexp.MustCompile(`meshlens_collect_replayed_samples_total\{queue="[^"]+",result="sent"\} [1-9]`).MatchString(metrics) {
		t.Errorf("the second run does not count the samples it sent again: %s", grepLines(metrics, "meshlens_collect"))
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// seriesBetween are the series of job envoy-stats s holds samples of in
// (at-window, at], canonical.
func seriesBetween(t *testing.T, s *store.Store, at time.Time, window time.Duration) map[string]bool {
	t.Helper()
	q, err := s.Engine().NewInstantQuery(context.Background(), s.Queryable(), nil,
		fmt.Sprintf(`last_over_time({job="envoy-stats"}[%dms])`, window.Milliseconds()), at)
	if err != nil {
		t.Fatal(err)
	}
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	out := map[string]bool{}
	for _, smp := range res.Value.(promql.Vector) {
		m := model.Metric{}
		smp.Metric.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		out[canonical(m)] = true
	}
	return out
}

// One configuration file (the kiali preset printed by --print-thinning in
// its scrape job) for Debian's `prometheus --enable-feature=agent` and for
// `meshlens collect`: the same targets give the same series after
// relabelling, at two receivers.
func TestCollectAndDebiansPrometheusAgentSendTheSameSeriesFromOneConfigFile(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(""))
	dir := t.TempDir()
	targets := filepath.Join(dir, "sidecars.json")
	if err := simulate.WriteTargetsFile(targets, d.runner.Targets()); err != nil {
		t.Fatal(err)
	}
	thinning, err := collect.ThinningKiali.YAML()
	if err != nil {
		t.Fatal(err)
	}
	configFor := func(receiver string) string {
		return fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: envoy-stats
    metrics_path: /stats/prometheus
    file_sd_configs: [{files: [%q], refresh_interval: 5s}]
%s
remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 1s}
`, targets, indent(thinning, "    "), receiver)
	}
	receiver := func() (*store.Store, string) {
		s, err := store.Open(store.Options{DataDir: t.TempDir(), RemoteWriteReceiver: true})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(func() { srv.Close(); s.Close() })
		return s, srv.URL
	}
	fromPrometheus, prometheusURL := receiver()
	fromCollect, collectURL := receiver()

	startPrometheusWith(t, configFor(prometheusURL), "--enable-feature=agent", "--storage.agent.path="+filepath.Join(dir, "prometheus-agent"))
	cfg := filepath.Join(dir, "collect.yml")
	os.WriteFile(cfg, []byte(configFor(collectURL)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runCollect(ctx, collectConfig{configFile: cfg, interval: 15 * time.Second, thinning: "none",
			walDir: filepath.Join(dir, "collect-wal"), listenAddr: "127.0.0.1:0", flushDeadline: time.Second}, slog.New(slog.DiscardHandler), io.Discard)
	}()
	defer func() { cancel(); <-done }()

	start := time.Now()
	waitFor(t, "both receivers to hold ten seconds of bookinfo", 60*time.Second, func() bool {
		return time.Since(start) > 15*time.Second &&
			len(seriesBetween(t, fromPrometheus, time.Now().Add(-3*time.Second), 2*time.Second)) > 100 &&
			len(seriesBetween(t, fromCollect, time.Now().Add(-3*time.Second), 2*time.Second)) > 100
	})
	// A series seen by one in the inner window existed on the sidecar then,
	// so the other, scraping every second too, saw it in the outer one.
	at := time.Now().Add(-3 * time.Second)
	for _, c := range []struct {
		name         string
		inner, outer map[string]bool
	}{
		{"Debian's prometheus sent, meshlens collect did not", seriesBetween(t, fromPrometheus, at.Add(-2*time.Second), 6*time.Second), seriesBetween(t, fromCollect, at, 10*time.Second)},
		{"meshlens collect sent, Debian's prometheus did not", seriesBetween(t, fromCollect, at.Add(-2*time.Second), 6*time.Second), seriesBetween(t, fromPrometheus, at, 10*time.Second)},
	} {
		var only []string
		for s := range c.inner {
			if !c.outer[s] {
				only = append(only, s)
			}
		}
		sort.Strings(only)
		if len(only) > 0 {
			t.Errorf("%s: %d of %d series, e.g. %q", c.name, len(only), len(c.inner), only[:min(3, len(only))])
		}
	}
	for s := range seriesBetween(t, fromCollect, at, 10*time.Second) {
		if strings.Contains(s, "source_app=") || strings.Contains(s, `__name__="istio_agent_`) {
			t.Fatalf("the preset did not thin: %s", s)
		}
	}
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func TestCardinalityOfTheDemosStoreShowsEachPresetsSeriesAndCost(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(""))
	store := "http://" + d.storeL.Addr().String()
	var r cardinality.Report
	waitFor(t, "bookinfo's traffic and every pod's labels in the store", 30*time.Second, func() bool {
		var out, errOut strings.Builder
		if code := meshlens([]string{"cardinality", "--prometheus.url", store, "-o", "json"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
			t.Fatal(err)
		}
		// Every pod of a versioned workload scraped (its version label is
		// there), and requests counted (the sidecars' source_app).
		return len(r.Presets) == 3 && r.Presets[2].Series < r.Presets[0].Series && slices.Contains(r.Presets[2].DroppedLabels, "version") &&
			slices.Contains(r.Presets[1].DroppedLabels, "source_app") && r.Graph != nil && r.Graph.SamplesPerRefresh > 0
	})
	none, kiali, strict := r.Presets[0], r.Presets[1], r.Presets[2]
	var only strings.Builder
	if code := meshlens([]string{"cardinality", "--prometheus.url", store, "--thinning", "kiali"}, &only, io.Discard); code != 0 ||
		!strings.Contains(only.String(), "\nkiali ") || strings.Contains(only.String(), "kiali-strict") {
		t.Errorf("--thinning kiali should show none and kiali only:\n%s", only.String())
	}
	if none.Name != "none" || none.Series != r.Series || kiali.Series > none.Series || strict.Series > kiali.Series {
		t.Errorf("presets %+v for %d series: want none to keep all, and each preset at most the one before", r.Presets, r.Series)
	}
	if !slices.Contains(kiali.DroppedLabels, "source_app") || slices.Contains(kiali.DroppedLabels, "version") || !slices.Contains(strict.DroppedLabels, "app") {
		t.Errorf("kiali drops the sidecars' source_app, kiali-strict also the pods' app and version: %v, %v", kiali.DroppedLabels, strict.DroppedLabels)
	}
	// The graph of bookinfo read samples; one tab every 15 s for a month.
	if g := r.Graph; g == nil || !slices.Contains(g.Namespaces, "bookinfo") || g.SamplesPerRefresh <= 0 ||
		math.Abs(g.SamplesPerMonth-float64(g.SamplesPerRefresh)*730*3600/15) > 1 {
		t.Errorf("the graph's query cost %+v: want bookinfo's graph, its samples read, and a month of refreshes every 15 s", g)
	}
	// The demo in tests scrapes every second: 730 hours of one a second.
	if perSeries := none.SamplesPerMonth / float64(none.Series); math.Abs(perSeries-730*3600) > 1 {
		t.Errorf("%.0f samples a month per series, want 2,628,000 (one a second, 730 hours)", perSeries)
	}
}
