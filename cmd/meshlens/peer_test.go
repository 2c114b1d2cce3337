package main

// Tests against a second, independent Prometheus: Debian's prometheus 2.x
// (installed by `make test`), started as a real process on loopback.

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/store"
)

// startPrometheus runs Debian's prometheus with yml and returns its address.
func startPrometheus(t *testing.T, yml string) string {
	t.Helper()
	return startPrometheusOn(t, yml, filepath.Join(t.TempDir(), "data"))
}

// startPrometheusOn is startPrometheus over the TSDB in data.
func startPrometheusOn(t *testing.T, yml, data string) string {
	t.Helper()
	return startPrometheusWith(t, yml, "--storage.tsdb.path="+data)
}

// startPrometheusWith runs Debian's prometheus with yml and the flags, and
// returns its address.
func startPrometheusWith(t *testing.T, yml string, flags ...string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("Debian's prometheus is not installed; `make test` installs it (apt-get install prometheus)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddress(t)
	cmd := exec.Command(bin, append([]string{"--config.file=" + cfg, "--web.listen-address=" + addr, "--log.level=warn"}, flags...)...)
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	waitFor(t, "Debian's prometheus to be ready", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return addr
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// canonical renders a label set as a sorted string, with le and quantile
// values as numbers: Prometheus 3 normalizes le="1" to le="1.0" on scrape,
// Prometheus 2 keeps what the target wrote; both mean the same bucket.
func canonical(ls model.Metric) string {
	parts := make([]string, 0, len(ls))
	for k, v := range ls {
		if k == "le" || k == "quantile" {
			if f, err := strconv.ParseFloat(string(v), 64); err == nil {
				v = model.LabelValue(strconv.FormatFloat(f, 'g', -1, 64))
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func seriesSet(t *testing.T, addr, match string) map[string]bool {
	t.Helper()
	series, _, _, err := promAPI(t, addr).Series(context.Background(), []string{match}, time.Now().Add(-2*time.Minute), time.Now())
	if err != nil {
		t.Fatalf("series from %s: %v", addr, err)
	}
	out := map[string]bool{}
	for _, s := range series {
		out[canonical(model.Metric(s))] = true
	}
	return out
}

func diff(a, b map[string]bool) (onlyA, onlyB []string) {
	for k := range a {
		if !b[k] {
			onlyA = append(onlyA, k)
		}
	}
	for k := range b {
		if !a[k] {
			onlyB = append(onlyB, k)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

func TestDebianPrometheusSeesTheSameSeries(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(""))
	peer := startPrometheus(t, demoPrometheusConfig(d.webL.Addr().String(), time.Second))
	ours := d.storeL.Addr().String()

	const match = `{job="envoy-stats"}`
	var onlyOurs, onlyPeer []string
	// Series appear as traffic reaches every path; the sets must converge
	// once both have scraped every sidecar a few times.
	deadline := time.Now().Add(45 * time.Second)
	for {
		a, b := seriesSet(t, ours, match), seriesSet(t, peer, match)
		onlyOurs, onlyPeer = diff(a, b)
		if len(a) > 100 && len(onlyOurs) == 0 && len(onlyPeer) == 0 {
			t.Logf("both hold the same %d series", len(a))
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Errorf("series only in meshlens (%d): %v", len(onlyOurs), head(onlyOurs, 5))
	t.Errorf("series only in Debian's prometheus (%d): %v", len(onlyPeer), head(onlyPeer, 5))
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func TestRemoteWriteFromDebianPrometheus(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(""))

	// A store that only receives: what it holds came by remote write.
	receiver, err := store.Open(store.Options{DataDir: t.TempDir(), RemoteWriteReceiver: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- receiver.Run(ctx) }()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: receiver.Handler()}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		receiver.Close()
	})
	ours := l.Addr().String()

	yml := demoPrometheusConfig(d.webL.Addr().String(), time.Second) + fmt.Sprintf(`remote_write:
  - url: "http://%s/api/v1/write"
    queue_config:
      batch_send_deadline: 500ms
`, ours)
	if _, err := config.Load(yml, nil); err != nil {
		t.Fatalf("the config given to Debian's prometheus is not valid: %v", err)
	}
	peer := startPrometheus(t, yml)

	// Compare the samples of a window that both have had time to receive.
	const q = `{job="envoy-stats",__name__=~"istio_requests_total|istio_tcp_sent_bytes_total|up"}[10s]`
	var lastDiff string
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		at := time.Now().Add(-4 * time.Second)
		a, b := samplesAt(t, ours, q, at), samplesAt(t, peer, q, at)
		// Ten seconds of at least the bookinfo edges and targets.
		if len(b) < 100 {
			lastDiff = fmt.Sprintf("Debian's prometheus holds only %d samples yet", len(b))
			continue
		}
		onlyOurs, onlyPeer := diff(a, b)
		if len(onlyOurs) == 0 && len(onlyPeer) == 0 {
			t.Logf("the receiver holds the same %d samples as the sender", len(a))
			return
		}
		lastDiff = fmt.Sprintf("only received: %v; only sent: %v", head(onlyOurs, 3), head(onlyPeer, 3))
	}
	t.Fatalf("remote-written samples never matched: %s", lastDiff)
}

// samplesAt returns every sample of a range-vector query at time at, one
// string per sample (series, timestamp, value).
func samplesAt(t *testing.T, addr, q string, at time.Time) map[string]bool {
	t.Helper()
	v, _, _, err := promAPI(t, addr).Query(context.Background(), q, at)
	if err != nil {
		t.Fatalf("query %s at %s: %v", q, addr, err)
	}
	out := map[string]bool{}
	m, ok := v.(model.Matrix)
	if !ok {
		t.Fatalf("%s answered %s", addr, v.Type())
	}
	for _, s := range m {
		for _, p := range s.Values {
			out[fmt.Sprintf("%s@%d=%s", canonical(s.Metric), p.Timestamp, p.Value)] = true
		}
	}
	return out
}

func TestGraphAgainstDebianPrometheusMatchesTheEmbeddedStore(t *testing.T) {
	d, _ := runningDemo(t, testDemoConfig(""))
	peer := startPrometheus(t, demoPrometheusConfig(d.webL.Addr().String(), time.Second))
	build := func(addr string, typ graph.Type) *graph.Graph {
		q, err := promclient.NewHTTP(promclient.HTTPOptions{URL: "http://" + addr})
		if err != nil {
			t.Fatal(err)
		}
		g, err := graph.NewBuilder(q, nil).Build(context.Background(), graph.Options{
			Namespaces: []string{"bookinfo"}, Type: typ, Duration: 10 * time.Second, InjectServiceNodes: true,
		})
		if err != nil {
			t.Fatalf("graph from %s: %v", addr, err)
		}
		return g
	}
	for _, typ := range []graph.Type{graph.TypeApp, graph.TypeVersionedApp, graph.TypeWorkload, graph.TypeService} {
		t.Run(string(typ)+" graphs have the same nodes, edges and rates", func(t *testing.T) {
			var problem string
			// Both must have scraped every sidecar a few times first.
			deadline := time.Now().Add(45 * time.Second)
			for time.Now().Before(deadline) {
				ours, theirs := build(d.storeL.Addr().String(), typ), build(peer, typ)
				problem = compareGraphs(ours, theirs)
				if problem == "" {
					return
				}
				time.Sleep(time.Second)
			}
			t.Error(problem)
		})
	}
}

// compareGraphs says how two graphs of the same traffic differ, or "".
// The two Prometheus servers scrape at different moments, so rates may
// differ a little; everything else must be equal.
func compareGraphs(a, b *graph.Graph) string {
	an, bn := a.Nodes(), b.Nodes()
	if len(an) == 0 || len(an) != len(bn) {
		return fmt.Sprintf("%d nodes against %d", len(an), len(bn))
	}
	for i := range an {
		if an[i].ID != bn[i].ID || an[i].IsRoot != bn[i].IsRoot || an[i].IsOutside != bn[i].IsOutside {
			return fmt.Sprintf("node %s against %s", an[i].Label(), bn[i].Label())
		}
	}
	ae, be := a.Edges(), b.Edges()
	if len(ae) != len(be) {
		return fmt.Sprintf("%d edges against %d", len(ae), len(be))
	}
	for i := range ae {
		x, y := ae[i], be[i]
		if x.ID != y.ID || x.Protocol != y.Protocol || x.HasMTLS != y.HasMTLS || x.MTLS != y.MTLS {
			return fmt.Sprintf("edge %s->%s differs", x.Source.Label(), x.Dest.Label())
		}
		r1, r2 := x.Rates.HTTP+x.Rates.GRPC+x.Rates.TCP, y.Rates.HTTP+y.Rates.GRPC+y.Rates.TCP
		if r1 <= 0 || math.Abs(r1-r2)/r1 > 0.15 {
			return fmt.Sprintf("edge %s->%s: rate %.2f against %.2f", x.Source.Label(), x.Dest.Label(), r1, r2)
		}
	}
	return ""
}

func TestRulesPassPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("Debian's promtool is not installed; `make test` installs it (apt-get install prometheus)")
	}
	var out, errOut strings.Builder
	if code := meshlens([]string{"rules", "--interval", "30s"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	check, err := exec.Command(bin, "check", "rules", file).CombinedOutput()
	if err != nil || !strings.Contains(string(check), "SUCCESS: 13 rules found") {
		t.Errorf("promtool check rules: %v\n%s", err, check)
	}
	if code := meshlens([]string{"rules", "--interval", "0s"}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "--interval") {
		t.Errorf("--interval 0s: exit %d, %s", code, errOut.String())
	}
	out.Reset()
	if code := meshlens([]string{"rules", "--interval", "30s", "--quantiles", "50,95,99"}, &out, &errOut); code != 0 {
		t.Fatalf("--quantiles 50,95,99: exit %d: %s", code, errOut.String())
	}
	os.WriteFile(file, []byte(out.String()), 0o644)
	if check, err := exec.Command(bin, "check", "rules", file).CombinedOutput(); err != nil || !strings.Contains(string(check), "SUCCESS: 19 rules found") {
		t.Errorf("promtool check rules, three quantiles: %v\n%s", err, check)
	}
	errOut.Reset()
	if code := meshlens([]string{"rules", "--quantiles", "90"}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "50, 95 or 99") {
		t.Errorf("--quantiles 90: exit %d, %s", code, errOut.String())
	}
}
