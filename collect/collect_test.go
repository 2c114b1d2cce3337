package collect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/promql"

	"github.com/meshlens/meshlens/amptest"
	"github.com/meshlens/meshlens/store"
)

// sidecarPage is what an Istio sidecar's merged metrics endpoint
// (:15020/stats/prometheus) serves, cut to one series of each kind the
// thinning presets decide on.
const sidecarPage = `# TYPE istio_requests_total counter
istio_requests_total{reporter="destination",source_workload="productpage-v1",source_workload_namespace="bookinfo",source_app="productpage",source_version="v1",destination_workload="details-v1",destination_workload_namespace="bookinfo",destination_app="details",destination_version="v1",destination_service="details.bookinfo.svc.cluster.local",destination_canonical_service="details",response_code="200",response_flags="-",connection_security_policy="mutual_tls",request_protocol="http"} 42
# TYPE istio_request_bytes histogram
istio_request_bytes_bucket{reporter="destination",destination_workload="details-v1",le="1024"} 40
istio_request_bytes_bucket{reporter="destination",destination_workload="details-v1",le="+Inf"} 42
istio_request_bytes_sum{reporter="destination",destination_workload="details-v1"} 30000
istio_request_bytes_count{reporter="destination",destination_workload="details-v1"} 42
# TYPE istio_agent_go_goroutines gauge
istio_agent_go_goroutines 51
# TYPE envoy_cluster_upstream_cx_total counter
envoy_cluster_upstream_cx_total{cluster_name="outbound|9080||details.bookinfo.svc.cluster.local"} 7
# TYPE envoy_cluster_lb_healthy_panic counter
envoy_cluster_lb_healthy_panic{cluster_name="outbound|9080||details.bookinfo.svc.cluster.local"} 0
# TYPE pilot_k8s_cfg_events counter
pilot_k8s_cfg_events{type="VirtualService"} 3
# TYPE pilot_xds_pushes counter
pilot_xds_pushes{type="cds"} 9
`

func TestThinningPresetsDropWhatKialiListsAndKeepWhatTheConsoleReads(t *testing.T) {
	lbls := func(kv ...string) labels.Labels { return labels.FromStrings(kv...) }
	cases := []struct {
		in                       labels.Labels
		none, kiali, kialiStrict string // the labels after each preset, "" when the series is dropped
	}{
		{in: lbls("__name__", "istio_requests_total", "source_app", "productpage", "source_version", "v1", "destination_app", "details", "destination_version", "v1", "source_workload", "productpage-v1", "response_code", "200"),
			none:        `{__name__="istio_requests_total", destination_app="details", destination_version="v1", response_code="200", source_app="productpage", source_version="v1", source_workload="productpage-v1"}`,
			kiali:       `{__name__="istio_requests_total", response_code="200", source_workload="productpage-v1"}`,
			kialiStrict: `{__name__="istio_requests_total", response_code="200", source_workload="productpage-v1"}`},
		// Pod labels Kubernetes discovery copies: Istio's own go with kiali,
		// the app's with kiali-strict; pod and namespace always stay.
		{in: lbls("__name__", "istio_requests_total", "pod", "details-v1-7d8f", "namespace", "bookinfo", "security_istio_io_tlsMode", "istio", "service_istio_io_canonical_name", "details", "app", "details", "version", "v1", "pod_template_hash", "7d8f", "heritage", "Tiller"),
			none:        `{__name__="istio_requests_total", app="details", heritage="Tiller", namespace="bookinfo", pod="details-v1-7d8f", pod_template_hash="7d8f", security_istio_io_tlsMode="istio", service_istio_io_canonical_name="details", version="v1"}`,
			kiali:       `{__name__="istio_requests_total", app="details", namespace="bookinfo", pod="details-v1-7d8f", pod_template_hash="7d8f", version="v1"}`,
			kialiStrict: `{__name__="istio_requests_total", namespace="bookinfo", pod="details-v1-7d8f"}`},
		{in: lbls("__name__", "istio_agent_go_goroutines"), none: `{__name__="istio_agent_go_goroutines"}`},
		{in: lbls("__name__", "istiod_managed_clusters"), none: `{__name__="istiod_managed_clusters"}`},
		{in: lbls("__name__", "pilot_k8s_cfg_events"), none: `{__name__="pilot_k8s_cfg_events"}`},
		// pilot_[^psx].*: proxy convergence, services and xds stay.
		{in: lbls("__name__", "pilot_xds_pushes"), none: `{__name__="pilot_xds_pushes"}`, kiali: `{__name__="pilot_xds_pushes"}`, kialiStrict: `{__name__="pilot_xds_pushes"}`},
		{in: lbls("__name__", "pilot_proxy_convergence_time_bucket"), none: `{__name__="pilot_proxy_convergence_time_bucket"}`, kiali: `{__name__="pilot_proxy_convergence_time_bucket"}`, kialiStrict: `{__name__="pilot_proxy_convergence_time_bucket"}`},
		// envoy_cluster_[^u].* and envoy_cluster_update.*: upstream stays.
		{in: lbls("__name__", "envoy_cluster_upstream_cx_total"), none: `{__name__="envoy_cluster_upstream_cx_total"}`, kiali: `{__name__="envoy_cluster_upstream_cx_total"}`, kialiStrict: `{__name__="envoy_cluster_upstream_cx_total"}`},
		{in: lbls("__name__", "envoy_cluster_update_success"), none: `{__name__="envoy_cluster_update_success"}`},
		{in: lbls("__name__", "envoy_cluster_lb_healthy_panic"), none: `{__name__="envoy_cluster_lb_healthy_panic"}`},
		// envoy_listener_[^dh].*: downstream and http stay.
		{in: lbls("__name__", "envoy_listener_downstream_cx_total"), none: `{__name__="envoy_listener_downstream_cx_total"}`, kiali: `{__name__="envoy_listener_downstream_cx_total"}`, kialiStrict: `{__name__="envoy_listener_downstream_cx_total"}`},
		{in: lbls("__name__", "envoy_listener_manager_lds_update_success"), none: `{__name__="envoy_listener_manager_lds_update_success"}`},
		// envoy_server_[^mu].*: memory and uptime stay.
		{in: lbls("__name__", "envoy_server_memory_allocated"), none: `{__name__="envoy_server_memory_allocated"}`, kiali: `{__name__="envoy_server_memory_allocated"}`, kialiStrict: `{__name__="envoy_server_memory_allocated"}`},
		{in: lbls("__name__", "envoy_server_live"), none: `{__name__="envoy_server_live"}`},
		{in: lbls("__name__", "envoy_wasm_envoy_wasm_runtime_null_active"), none: `{__name__="envoy_wasm_envoy_wasm_runtime_null_active"}`},
		// The size histograms: buckets only with kiali, sum and count always.
		{in: lbls("__name__", "istio_response_bytes_bucket", "le", "1024"), none: `{__name__="istio_response_bytes_bucket", le="1024"}`, kiali: `{__name__="istio_response_bytes_bucket", le="1024"}`},
		{in: lbls("__name__", "istio_response_bytes_sum"), none: `{__name__="istio_response_bytes_sum"}`, kiali: `{__name__="istio_response_bytes_sum"}`, kialiStrict: `{__name__="istio_response_bytes_sum"}`},
		{in: lbls("__name__", "istio_request_duration_milliseconds_bucket", "le", "25"), none: `{__name__="istio_request_duration_milliseconds_bucket", le="25"}`, kiali: `{__name__="istio_request_duration_milliseconds_bucket", le="25"}`, kialiStrict: `{__name__="istio_request_duration_milliseconds_bucket", le="25"}`},
	}
	for _, c := range cases {
		for _, p := range []struct {
			t    Thinning
			want string
		}{{ThinningNone, c.none}, {ThinningKiali, c.kiali}, {ThinningKialiStrict, c.kialiStrict}} {
			for _, rc := range p.t.RelabelConfigs() {
				if err := rc.Validate(rc.NameValidationScheme); err != nil {
					t.Fatalf("%s: invalid relabel config: %v", p.t, err)
				}
			}
			lb := labels.NewBuilder(c.in)
			gotText := ""
			if relabel.ProcessBuilder(lb, p.t.RelabelConfigs()...) {
				gotText = lb.Labels().String()
			}
			if gotText != p.want {
				t.Errorf("%s on %s:\n got %s\nwant %s", p.t, c.in, orDropped(gotText), orDropped(p.want))
			}
		}
	}
}

func orDropped(s string) string {
	if s == "" {
		return "(dropped)"
	}
	return s
}

func TestParseThinningNamesThePresetsOnAnUnknownName(t *testing.T) {
	if th, err := ParseThinning("kiali-strict"); err != nil || th != ThinningKialiStrict {
		t.Fatalf("kiali-strict: %v %v", th, err)
	}
	_, err := ParseThinning("kialli")
	if err == nil || !strings.Contains(err.Error(), "none, kiali, kiali-strict") {
		t.Fatalf("want an error naming the presets, got %v", err)
	}
}

// workspace is an AMP workspace stand-in holding an embedded store.
func workspace(t *testing.T) (*amptest.Server, *store.Store) {
	t.Helper()
	s, err := store.Open(store.Options{DataDir: t.TempDir(), RemoteWriteReceiver: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	amp := amptest.New(s.Handler())
	t.Cleanup(func() { amp.Close(); cancel(); <-done; s.Close() })
	return amp, s
}

// collectInto runs a collector scraping a sidecar page every 200ms and
// writing to the workspace with the given secret key, until the test ends.
func collectInto(t *testing.T, amp *amptest.Server, secret string, thinning Thinning) *Collector {
	t.Helper()
	sidecar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stats/prometheus" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, sidecarPage)
	}))
	t.Cleanup(sidecar.Close)
	cfg, err := config.Load(fmt.Sprintf(`
global: {scrape_interval: 200ms, scrape_timeout: 200ms}
scrape_configs:
  - job_name: envoy-stats
    metrics_path: /stats/prometheus
    static_configs: [{targets: [%q]}]
remote_write:
  - url: %s
    sigv4: {region: %s, access_key: %s, secret_key: %s}
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 200ms}
`, strings.TrimPrefix(sidecar.URL, "http://"), amp.RemoteWriteURL(), amptest.Region, amptest.AccessKey, secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, Options{Config: cfg, WALDir: t.TempDir(), Thinning: thinning, FlushDeadline: time.Second})
}

// start opens and runs a collector until the test ends.
func start(t *testing.T, o Options) *Collector {
	t.Helper()
	c, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	return c
}

// seriesIn lists the series the store holds now, as label sets.
func seriesIn(t *testing.T, s *store.Store) []string {
	t.Helper()
	q, err := s.Engine().NewInstantQuery(context.Background(), s.Queryable(), nil, `{__name__=~".+", job="envoy-stats"}`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var out []string
	for _, smp := range res.Value.(promql.Vector) {
		out = append(out, smp.Metric.DropMetricName().String()+" "+smp.Metric.Get("__name__"))
	}
	sort.Strings(out)
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, 20*time.Second, what, cond)
}

func eventuallyWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCollectRemoteWritesKialiThinnedSeriesSignedWithSigV4(t *testing.T) {
	amp, s := workspace(t)
	collectInto(t, amp, amptest.SecretKey, ThinningKiali)
	var got []string
	eventually(t, "the sidecar's series in the workspace", func() bool {
		got = seriesIn(t, s)
		return strings.Contains(strings.Join(got, "\n"), "istio_requests_total")
	})
	names := map[string]string{}
	for _, g := range got {
		i := strings.LastIndex(g, " ")
		names[g[i+1:]] = g[:i]
	}
	for _, kept := range []string{"istio_requests_total", "istio_request_bytes_bucket", "istio_request_bytes_sum", "envoy_cluster_upstream_cx_total", "pilot_xds_pushes", "up"} {
		if _, ok := names[kept]; !ok {
			t.Errorf("%s should reach the workspace; got %v", kept, got)
		}
	}
	for _, dropped := range []string{"istio_agent_go_goroutines", "envoy_cluster_lb_healthy_panic", "pilot_k8s_cfg_events"} {
		if _, ok := names[dropped]; ok {
			t.Errorf("%s should be thinned away", dropped)
		}
	}
	if l := names["istio_requests_total"]; strings.Contains(l, "source_app") || strings.Contains(l, "destination_version") || !strings.Contains(l, `destination_canonical_service="details"`) {
		t.Errorf("istio_requests_total should keep what the graph reads and lose source_app and destination_version: %s", l)
	}
	if amp.Refused.Load() != 0 || amp.Accepted.Load() == 0 {
		t.Errorf("every write should be signed right: accepted %d, refused %d", amp.Accepted.Load(), amp.Refused.Load())
	}
}

func TestCollectCountsWritesTheWorkspaceRefusesForAWrongKey(t *testing.T) {
	amp, s := workspace(t)
	c := collectInto(t, amp, "not-the-secret", ThinningNone)
	eventually(t, "the workspace to refuse a write", func() bool { return amp.Refused.Load() > 0 })
	if r := amp.NextRefusal(); r != "InvalidSignatureException" {
		t.Errorf("refusal = %q, want InvalidSignatureException (AMP's answer to a wrong secret)", r)
	}
	eventually(t, "the collector to count failed samples", func() bool {
		n, err := testutil.GatherAndCount(c.Gatherer(), "prometheus_remote_storage_samples_failed_total")
		if err != nil || n == 0 {
			return false
		}
		mfs, _ := c.Gatherer().Gather()
		for _, mf := range mfs {
			if mf.GetName() == "prometheus_remote_storage_samples_failed_total" {
				return mf.GetMetric()[0].GetCounter().GetValue() > 0
			}
		}
		return false
	})
	if got := seriesIn(t, s); len(got) != 0 {
		t.Errorf("nothing should be written with a wrong key, got %v", got)
	}
}

// counterTarget serves counters that count the scrapes: one series per
// name in series, each scrape one higher.
func counterTarget(t *testing.T, series ...string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		v := n.Add(1)
		fmt.Fprintln(w, "# TYPE collect_test_scrapes_total counter")
		for _, s := range series {
			fmt.Fprintf(w, "collect_test_scrapes_total{series=%q} %d\n", s, v)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// runCollector runs a collector on a configuration text until the test ends.
func runCollector(t *testing.T, yml string) *Collector {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "collect.yml")
	os.WriteFile(file, []byte(yml), 0o600)
	cfg, err := LoadConfig(Flags{ConfigFile: file, Interval: 15 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, Options{Config: cfg, WALDir: filepath.Join(dir, "wal"), FlushDeadline: time.Second})
}

func scrapeAndWrite(target, receiver string) string {
	return fmt.Sprintf(`
global: {scrape_interval: 100ms, scrape_timeout: 100ms}
scrape_configs:
  - job_name: counter
    static_configs: [{targets: [%q]}]
remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 500ms}
`, strings.TrimPrefix(target, "http://"), receiver)
}

// valuesOf are the values of the counter's series the store holds.
func valuesOf(t *testing.T, s *store.Store, series string) map[float64]bool {
	t.Helper()
	q, err := s.Engine().NewInstantQuery(context.Background(), s.Queryable(), nil, fmt.Sprintf(`collect_test_scrapes_total{series=%q}[1h]`, series), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	got := map[float64]bool{}
	for _, ser := range res.Value.(promql.Matrix) {
		for _, p := range ser.Floats {
			got[p.F] = true
		}
	}
	return got
}

func counterValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// missingBelow lists the values 1..upTo-1 not in got.
func missingBelow(got map[float64]bool, upTo int64) []int64 {
	var missing []int64
	for v := int64(1); v < upTo; v++ {
		if !got[float64(v)] {
			missing = append(missing, v)
		}
	}
	return missing
}

// The receiver is down for two minutes while fifty series are scraped ten
// times a second into a queue that holds 20 samples: the backlog (about
// 60,000 samples) outgrows the queue thousands of times, waits in the
// write-ahead log, and arrives whole once the receiver is back.
func TestCollectSendsATwoMinuteBacklogOnceADownReceiverComesBack(t *testing.T) {
	t.Parallel()
	const outage = 2 * time.Minute
	_, s := workspace(t)
	var down atomic.Bool
	down.Store(true)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.Handler().ServeHTTP(w, r)
	}))
	defer receiver.Close()
	series := make([]string, 50)
	for i := range series {
		series[i] = fmt.Sprintf("s%02d", i)
	}
	target, scraped := counterTarget(t, series...)
	cfg := strings.Replace(scrapeAndWrite(target.URL, receiver.URL), "queue_config: {", "queue_config: {capacity: 20, max_samples_per_send: 10, max_shards: 1, ", 1)
	c := runCollector(t, cfg)
	eventually(t, "a first scrape", func() bool { return scraped.Load() >= 1 })
	time.Sleep(outage)
	down.Store(false)
	upAt := scraped.Load()
	if upAt < 600 {
		t.Fatalf("only %d scrapes during the outage; the backlog is not the one this test means", upAt)
	}
	eventuallyWithin(t, time.Minute, "the backlog and what follows", func() bool { return valuesOf(t, s, "s49")[float64(upAt+3)] })
	for _, name := range series {
		if missing := missingBelow(valuesOf(t, s, name), upAt); len(missing) > 0 {
			t.Errorf("series %s: scraped while the receiver was down and never sent: %v", name, missing)
		}
	}
	if counterValue(t, c.Gatherer(), "prometheus_remote_storage_samples_retried_total") == 0 {
		t.Error("the retries are not counted")
	}
}

func TestCollectSlowsDownOnA429AndLosesNothing(t *testing.T) {
	_, s := workspace(t)
	var throttled atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// AMP's answer to a workspace over its ingestion rate, for the
		// first five writes.
		if throttled.Add(1) <= 5 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"message":"Rate exceeded"}`, http.StatusTooManyRequests)
			return
		}
		s.Handler().ServeHTTP(w, r)
	}))
	defer receiver.Close()
	target, scraped := counterTarget(t, "a")
	c := runCollector(t, scrapeAndWrite(target.URL, receiver.URL))
	eventually(t, "writes past the throttling", func() bool { return throttled.Load() > 7 })
	upTo := scraped.Load()
	eventually(t, "what was scraped meanwhile", func() bool { return valuesOf(t, s, "a")[float64(upTo+3)] })
	if missing := missingBelow(valuesOf(t, s, "a"), upTo); len(missing) > 0 {
		t.Errorf("throttled and dropped: %v", missing)
	}
	if counterValue(t, c.Gatherer(), "prometheus_remote_storage_samples_retried_total") == 0 {
		t.Error("the throttled writes are not counted as retried")
	}
	if counterValue(t, c.Gatherer(), "prometheus_remote_storage_samples_failed_total") != 0 {
		t.Error("a throttled write was given up")
	}
}

// A receiver that refuses some series as Mimir and AMP do: it writes the
// valid series of a request and answers 400 for the invalid ones.
func TestCollectKeepsSendingWhenTheReceiverRefusesSomeSeries(t *testing.T) {
	_, s := workspace(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		compressed, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, compressed)
		var req prompb.WriteRequest
		if err == nil {
			err = req.Unmarshal(raw)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		kept, refused := req.Timeseries[:0], 0
		for _, ts := range req.Timeseries {
			if slices.ContainsFunc(ts.Labels, func(l prompb.Label) bool { return l.Name == "series" && l.Value == "invalid" }) {
				refused++
				continue
			}
			kept = append(kept, ts)
		}
		req.Timeseries = kept
		b, _ := req.Marshal()
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(snappy.Encode(nil, b)))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r2)
		if refused > 0 {
			http.Error(w, fmt.Sprintf("%d series refused: label series=invalid", refused), http.StatusBadRequest)
			return
		}
		w.WriteHeader(rec.Code)
	}))
	defer receiver.Close()
	target, scraped := counterTarget(t, "valid", "invalid")
	c := runCollector(t, scrapeAndWrite(target.URL, receiver.URL))
	eventually(t, "twenty scrapes", func() bool { return scraped.Load() >= 20 })
	upTo := scraped.Load()
	eventually(t, "the valid series to keep arriving", func() bool { return valuesOf(t, s, "valid")[float64(upTo+3)] })
	if missing := missingBelow(valuesOf(t, s, "valid"), upTo); len(missing) > 0 {
		t.Errorf("valid samples lost with the refused ones: %v", missing)
	}
	if len(valuesOf(t, s, "invalid")) != 0 {
		t.Error("the stand-in wrote a series it refused")
	}
	if counterValue(t, c.Gatherer(), "prometheus_remote_storage_samples_failed_total") == 0 {
		t.Error("the refused samples are not counted as failed")
	}
}

// IRSA: no keys anywhere, a role and a projected service-account token;
// the AWS default chain exchanges the token with STS for credentials that
// last seconds here (an hour in EKS), and must exchange it again before
// they expire: the workspace refuses a request signed with expired ones.
func TestCollectSignsWithWebIdentityCredentialsAndRenewsThem(t *testing.T) {
	dir := t.TempDir()
	const role = "arn:aws:iam::123456789012:role/meshlens-collect"
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("eyJhbGciOiJSUzI1NiJ9.service-account-token.signature"), 0o600)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_REGION": amptest.Region, "AWS_ROLE_ARN": role, "AWS_WEB_IDENTITY_TOKEN_FILE": token,
	} {
		t.Setenv(k, v)
	}
	amp, s := workspace(t)
	sts := amp.NewSTS("eyJhbGciOiJSUzI1NiJ9.service-account-token.signature", role, 3*time.Second)
	defer sts.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)

	target, scraped := counterTarget(t, "a")
	runCollector(t, fmt.Sprintf(`
global: {scrape_interval: 100ms, scrape_timeout: 100ms}
scrape_configs:
  - job_name: counter
    static_configs: [{targets: [%q]}]
remote_write:
  - url: %s
    sigv4: {region: %s}
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 500ms}
`, strings.TrimPrefix(target.URL, "http://"), amp.RemoteWriteURL(), amptest.Region))
	eventually(t, "three sets of credentials", func() bool { return sts.Calls.Load() >= 3 })
	upTo := scraped.Load()
	eventually(t, "what was scraped meanwhile", func() bool { return valuesOf(t, s, "a")[float64(upTo+3)] })
	if missing := missingBelow(valuesOf(t, s, "a"), upTo); len(missing) > 0 {
		t.Errorf("never arrived: %v", missing)
	}
	if amp.Refused.Load() != 0 {
		t.Errorf("the workspace refused %d writes, first: %s", amp.Refused.Load(), amp.NextRefusal())
	}
}

func TestCollectStartsWhenItsSavepointsDoNotRead(t *testing.T) {
	_, s := workspace(t)
	receiver := httptest.NewServer(s.Handler())
	defer receiver.Close()
	target, _ := counterTarget(t, "a")
	dir := t.TempDir()
	wal := filepath.Join(dir, "wal")
	os.MkdirAll(wal, 0o755)
	os.WriteFile(filepath.Join(wal, savepointFile), []byte(`{"sent_until_ms": {"half a wri`), 0o600)
	cfg, err := LoadConfig(Flags{ConfigFile: configFile(t, scrapeAndWrite(target.URL, receiver.URL)), Interval: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, Options{Config: cfg, WALDir: wal, FlushDeadline: time.Second})
	eventually(t, "samples despite the unreadable savepoints", func() bool { return len(valuesOf(t, s, "a")) >= 3 })
	if _, err := os.Stat(filepath.Join(wal, savepointFile+".corrupt")); err != nil {
		t.Errorf("the unreadable file was not kept aside: %v", err)
	}
}
