package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/config"
)

// startStore opens a store scraping what yml says, runs it, and serves its
// API on a random port.
func startStore(t *testing.T, yml string, reg prometheus.Registerer) string {
	t.Helper()
	return startStoreWith(t, yml, Options{Registerer: reg})
}

// startStoreWith is startStore with the options o (its data directory,
// configuration and remote write receiver set here).
func startStoreWith(t *testing.T, yml string, o Options) string {
	t.Helper()
	_, base := openStore(t, yml, o)
	return base
}

// openStore is startStoreWith, the store returned too.
func openStore(t *testing.T, yml string, o Options) (*Store, string) {
	t.Helper()
	cfg, err := config.Load(yml, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.DataDir, o.Config, o.RemoteWriteReceiver = t.TempDir(), cfg, true
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("store run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
	})
	return s, srv.URL
}

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

func get(t *testing.T, base, path string, params url.Values) (int, apiResponse) {
	t.Helper()
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", path, err, body)
	}
	return resp.StatusCode, r
}

// waitFor polls until ok holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrapeConfig(targets ...string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n")
	for i, tg := range targets {
		fmt.Fprintf(&b, "  - job_name: job%d\n    static_configs:\n      - targets: [%q]\n", i, tg)
	}
	return b.String()
}

func TestBadTargetsAreDownAndTheRestKeepsWorking(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE istio_requests_total counter\nistio_requests_total{reporter=\"source\"} 7\n")
	}))
	defer good.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "this is { not \"metrics\n\x00\x01")
	}))
	defer garbage.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	l.Close()

	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }
	reg := prometheus.NewRegistry()
	base := startStore(t, scrapeConfig(hostOf(good.URL), hostOf(garbage.URL), hostOf(hang.URL), gone), reg)

	up := func() map[string]string {
		_, r := get(t, base, "/api/v1/query", url.Values{"query": {"up"}})
		var data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		}
		json.Unmarshal(r.Data, &data)
		out := map[string]string{}
		for _, s := range data.Result {
			out[s.Metric["job"]] = s.Value[1].(string)
		}
		return out
	}
	waitFor(t, "a scrape of every target", 15*time.Second, func() bool { return len(up()) == 4 })
	want := map[string]string{"job0": "1", "job1": "0", "job2": "0", "job3": "0"}
	got := up()
	for job, v := range want {
		if got[job] != v {
			t.Errorf("up{job=%q} = %s, want %s", job, got[job], v)
		}
	}

	t.Run("the targets API names the error of each bad target", func(t *testing.T) {
		_, r := get(t, base, "/api/v1/targets", nil)
		var data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			t.Fatal(err)
		}
		errs := map[string]string{}
		for _, tg := range data.ActiveTargets {
			errs[tg.Labels["job"]] = tg.LastError
		}
		if errs["job0"] != "" {
			t.Errorf("the good target has an error: %s\n%s", errs["job0"], r.Data)
		}
		for _, c := range []struct{ job, mentions string }{{"job1", ""}, {"job2", "deadline"}, {"job3", "refused"}} {
			if errs[c.job] == "" || !strings.Contains(errs[c.job], c.mentions) {
				t.Errorf("%s: lastError %q should mention %q", c.job, errs[c.job], c.mentions)
			}
		}
	})
	t.Run("meshlens counts the targets that are down", func(t *testing.T) {
		down := 0.0
		for _, job := range []string{"job1", "job2", "job3"} {
			down += testutil.ToFloat64(prometheusGauge(t, reg, job, "down"))
		}
		if down != 3 {
			t.Errorf("meshlens_store_scrape_targets{health=\"down\"} sums to %v, want 3", down)
		}
	})
	t.Run("the good target's samples are stored", func(t *testing.T) {
		_, r := get(t, base, "/api/v1/query", url.Values{"query": {`istio_requests_total{job="job0"}`}})
		if !strings.Contains(string(r.Data), `"7"`) {
			t.Errorf("query answered %s", r.Data)
		}
	})
}

// prometheusGauge finds one meshlens_store_scrape_targets series.
func prometheusGauge(t *testing.T, g prometheus.Gatherer, job, health string) prometheus.Collector {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "meshlens_store_scrape_targets" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["job"] == job && labels["health"] == health {
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
				g.Set(m.GetGauge().GetValue())
				return g
			}
		}
	}
	t.Fatalf("no meshlens_store_scrape_targets{job=%q,health=%q}", job, health)
	return nil
}

func TestAPIEndpointsAnswerLikePrometheus(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# HELP istio_requests_total Requests.\n# TYPE istio_requests_total counter\nistio_requests_total{reporter=\"destination\",destination_workload=\"details-v1\"} 3\n")
	}))
	defer target.Close()
	base := startStore(t, scrapeConfig(strings.TrimPrefix(target.URL, "http://")), nil)
	waitFor(t, "the first scrape", 10*time.Second, func() bool {
		_, r := get(t, base, "/api/v1/query", url.Values{"query": {"istio_requests_total"}})
		return strings.Contains(string(r.Data), "details-v1")
	})
	now := fmt.Sprint(time.Now().Unix())
	cases := []struct {
		path   string
		params url.Values
		want   string
		code   int
	}{
		{"/api/v1/query", url.Values{"query": {"sum(istio_requests_total)"}}, `"resultType":"vector"`, 200},
		{"/api/v1/query_range", url.Values{"query": {"istio_requests_total"}, "start": {now}, "end": {now}, "step": {"1"}}, `"resultType":"matrix"`, 200},
		{"/api/v1/series", url.Values{"match[]": {"istio_requests_total"}}, `"destination_workload":"details-v1"`, 200},
		{"/api/v1/labels", nil, `"reporter"`, 200},
		{"/api/v1/label/destination_workload/values", nil, `"details-v1"`, 200},
		{"/api/v1/metadata", nil, `"istio_requests_total":[{"type":"counter"`, 200},
		{"/api/v1/status/buildinfo", nil, `"version"`, 200},
		{"/api/v1/status/config", nil, `scrape_interval: 500ms`, 200},
		{"/api/v1/targets", nil, `"health":"up"`, 200},
		{"/api/v1/query", url.Values{"query": {`sum(rate(x[1m]) by`}}, `"errorType":"bad_data"`, 400},
		{"/api/v1/query", url.Values{"query": {`istio_requests_total{a="\"}or vector(1)"}`}}, `"result":[]`, 200},
	}
	for _, tc := range cases {
		t.Run(tc.path+" "+tc.params.Encode(), func(t *testing.T) {
			resp, err := http.Get(base + tc.path + "?" + tc.params.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
				t.Errorf("got %d %s\nwant %d and %s", resp.StatusCode, body, tc.code, tc.want)
			}
		})
	}
	for _, path := range []string{"/-/healthy", "/-/ready", "/metrics"} {
		t.Run(path+" answers 200", func(t *testing.T) {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d", path, resp.StatusCode)
			}
		})
	}
}

// The rules of a group that read none of each other's series are evaluated
// at once by default: the second begins before the first ends. With a
// concurrency of 1 each waits for the one before it, the order Prometheus
// keeps without its concurrent-rule-eval feature.
func TestIndependentRulesOfAGroupAreEvaluatedAtOnce(t *testing.T) {
	// Each rule sums a subquery of 600,000 steps: long enough for the
	// other to start meanwhile, and reading no series at all.
	const slow = "sum_over_time(vector(1)[10m:1ms])"
	dir := t.TempDir()
	rules := "groups:\n  - name: g\n    interval: 1s\n    rules:\n" +
		"      - record: first\n        expr: " + slow + "\n" +
		"      - record: second\n        expr: " + slow + "\n"
	if err := os.WriteFile(dir+"/rules.yml", []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	type evaluation struct {
		Name           string    `json:"name"`
		LastEvaluation time.Time `json:"lastEvaluation"`
		EvaluationTime float64   `json:"evaluationTime"`
	}
	ends := func(e evaluation) time.Time {
		return e.LastEvaluation.Add(time.Duration(e.EvaluationTime * float64(time.Second)))
	}
	// evaluations are the two rules' last evaluations, once both are of
	// the group's last finished turn: each began inside it. (The group
	// records a turn when it ends, a rule when the rule ends, each with
	// its start time.) How long a rule takes, on a slow or loaded machine,
	// does not matter.
	evaluations := func(base string) (first, second evaluation) {
		waitFor(t, "both rules evaluated in one turn", 60*time.Second, func() bool {
			_, r := get(t, base, "/api/v1/rules", nil)
			var d struct {
				Groups []struct {
					evaluation
					Rules []evaluation `json:"rules"`
				} `json:"groups"`
			}
			if err := json.Unmarshal(r.Data, &d); err != nil || len(d.Groups) != 1 || len(d.Groups[0].Rules) != 2 {
				return false
			}
			turn := d.Groups[0].evaluation
			first, second = d.Groups[0].Rules[0], d.Groups[0].Rules[1]
			in := func(e evaluation) bool {
				return !turn.LastEvaluation.IsZero() && !e.LastEvaluation.Before(turn.LastEvaluation) && !e.LastEvaluation.After(ends(turn))
			}
			return in(first) && in(second)
		})
		return first, second
	}
	yml := "global:\n  evaluation_interval: 1s\nrule_files: [" + dir + "/*.yml]\n"

	t.Run("by default", func(t *testing.T) {
		first, second := evaluations(startStoreWith(t, yml, Options{}))
		if !second.LastEvaluation.Before(ends(first)) {
			t.Errorf("the second rule began at %s, after the first ended at %s: evaluated in turn", second.LastEvaluation, ends(first))
		}
	})
	t.Run("with a concurrency of 1", func(t *testing.T) {
		first, second := evaluations(startStoreWith(t, yml, Options{RuleConcurrency: 1}))
		if second.LastEvaluation.Before(ends(first)) {
			t.Errorf("the second rule began at %s, before the first ended at %s", second.LastEvaluation, ends(first))
		}
	})
}

func TestRuleFilesAreEvaluated(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "requests_total{code=\"200\"} 10\nrequests_total{code=\"500\"} 5\n")
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	rulesFile := dir + "/rules.yml"
	if err := os.WriteFile(rulesFile, []byte("groups:\n  - name: g\n    interval: 200ms\n    rules:\n      - record: job:requests:sum\n        expr: sum by (job) (requests_total)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startStore(t, scrapeConfig(target.Listener.Addr().String())+"rule_files: ["+dir+"/*.yml]\n", nil)
	waitFor(t, "the recorded series", 10*time.Second, func() bool {
		_, r := get(t, base, "/api/v1/query", url.Values{"query": {"job:requests:sum"}})
		return strings.Contains(string(r.Data), `"job":"job0"},"value":[`) && strings.Contains(string(r.Data), `"15"`)
	})
	if _, r := get(t, base, "/api/v1/rules", nil); !strings.Contains(string(r.Data), `"name":"job:requests:sum"`) || !strings.Contains(string(r.Data), `"health":"ok"`) {
		t.Errorf("/api/v1/rules: %s", r.Data)
	}

	t.Run("a bad rule file fails Open, naming the file and the fault", func(t *testing.T) {
		bad := dir + "/bad.yaml"
		os.WriteFile(bad, []byte("groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n"), 0o644)
		cfg, err := config.Load("rule_files: ["+bad+"]\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{DataDir: t.TempDir(), Config: cfg})
		if err == nil {
			s.Close()
			t.Fatal("Open accepted a rule with a broken expression")
		}
		if !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "parse error") {
			t.Errorf("error does not say which file and what: %v", err)
		}
	})
}
