package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/config"

	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/simulate"
	"github.com/meshlens/meshlens/store"
	"github.com/meshlens/meshlens/telemetry"
)

// live is bookinfo running on loopback, scraped every second into an
// embedded store, with load.
type live struct {
	sim     *simulate.Sim
	querier promclient.Querier
	store   *store.Store
}

const liveInterval = time.Second

func startLive(t *testing.T, rate float64) *live {
	t.Helper()
	sim, err := simulate.Start(simulate.Options{Mesh: simulate.Bookinfo(), CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	targets := dir + "/targets.json"
	if err := simulate.WriteTargetsFile(targets, sim.Targets()); err != nil {
		t.Fatal(err)
	}
	rules, err := RecordingRules(liveInterval)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/rules.yml", rules, 0o644); err != nil {
		t.Fatal(err)
	}
	yml := simulate.ScrapeConfig{Interval: liveInterval, TargetsFile: targets, RuleFiles: []string{dir + "/rules.yml"}}.YAML()
	cfg, err := config.Load(yml, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Options{DataDir: dir + "/tsdb", Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { st.Run(ctx); done <- struct{}{} }()
	gen := simulate.NewLoadGenerator(sim, rate, nil)
	go func() { gen.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		sim.Close()
		st.Close()
	})
	return &live{sim: sim, store: st, querier: promclient.NewEngine(st.Engine(), st.Queryable(), liveInterval)}
}

// waitForEdges waits up to 20s for q, a count, to reach bookinfo's seven
// HTTP edges three intervals ago.
func (l *live) waitForEdges(t *testing.T, what, q string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := l.querier.Query(context.Background(), q, time.Now().Add(-3*liveInterval))
		if err == nil && len(v) == 1 && v[0].Value >= 7 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20s: %v %v", what, v, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// unmissedTime is a time three intervals ago before which every target
// was scraped at each interval of the last span: a scrape missed at the
// first or last evaluation of a window of recorded rates reads as an edge
// that came or went (the README's "Response times and throughput come
// from recording rules"), and a loaded machine running the whole suite
// misses one now and then. It waits an interval and looks again, ten
// times at most.
func (l *live) unmissedTime(t *testing.T, span time.Duration) time.Time {
	t.Helper()
	q := fmt.Sprintf("min(count_over_time(up[%ds]))", int(span.Seconds()))
	for try := 0; ; try++ {
		at := time.Now().Add(-3 * liveInterval)
		v, err := l.querier.Query(context.Background(), q, at)
		if err == nil && len(v) == 1 && v[0].Value >= float64(span/liveInterval) {
			return at
		}
		if try == 10 {
			t.Fatalf("a scrape missed in each of the last ten %s spans: %v %v", span, v, err)
		}
		t.Logf("a scrape missed in the %s before %s (%v %v): looking again an interval later", span, at.Format(time.TimeOnly), v, err)
		time.Sleep(liveInterval)
	}
}

// recordedAndRaw builds o with b, which must read the recorded series
// (one of the counters of the sources recorded names goes up by one: all
// recorded, or recorded and raw for an edge the rules missed, such as a
// sporadic one), and with a builder whose store seems to lack them, which
// it returns too.
func (l *live) recordedAndRaw(t *testing.T, b *Builder, o Options, sources *prometheus.CounterVec, recorded ...string) (fromRecorded, fromRaw *Graph, rawBuilder *Builder) {
	t.Helper()
	count := func() float64 {
		n := 0.0
		for _, r := range recorded {
			n += testutil.ToFloat64(sources.WithLabelValues(r))
		}
		return n
	}
	before := count()
	fromRecorded, err := b.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if count() != before+1 {
		t.Fatalf("%+v: the graph did not read the recorded series", o)
	}
	rawBuilder = NewBuilder(noRecorded{l.querier}, prometheus.NewRegistry())
	if fromRaw, err = rawBuilder.Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return fromRecorded, fromRaw, rawBuilder
}

// sameEdges checks that a graph read from recorded series has the edges of
// one read from the raw series, each with a value (what value returns, and
// whether it has one) close to the raw one, as close says.
func sameEdges(t *testing.T, what string, recorded, raw *Graph, value func(*Edge) (bool, float64), close func(e *Edge, got, want float64) bool) {
	t.Helper()
	got, want := edgeSet(recorded), edgeSet(raw)
	for k, e := range got {
		w, ok := want[k]
		if !ok {
			t.Errorf("%s %s: an edge only from the recorded series", what, k)
			continue
		}
		has, v := value(e)
		wantHas, wv := value(w)
		if has != wantHas {
			t.Errorf("%s %s: recorded has one %v, raw %v", what, k, has, wantHas)
			continue
		}
		if has && !close(w, v, wv) {
			t.Errorf("%s %s: recorded %.2f, raw %.2f", what, k, v, wv)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d edges from the recorded series, %d from the raw", what, len(got), len(want))
	}
}

// sparse tells whether an edge had too few requests in a window (under
// 20) for a recorded value and a raw one, read over different windows, to
// be compared.
func sparse(e *Edge, window time.Duration) bool { return e.Rates.HTTP*window.Seconds() < 20 }

// noRecorded is a querier whose store seems to lack the recorded series.
type noRecorded struct{ promclient.Querier }

func (n noRecorded) LabelValues(ctx context.Context, name string, start, end time.Time) ([]string, error) {
	v, err := n.Querier.LabelValues(ctx, name, start, end)
	return slices.DeleteFunc(v, func(s string) bool { return strings.HasPrefix(s, "meshlens_edge:") }), err
}

// unlisted is a querier that cannot list label values.
type unlisted struct{ promclient.Querier }

func (unlisted) LabelValues(context.Context, string, time.Time, time.Time) ([]string, error) {
	return nil, errors.New("no label values here")
}

// waitGraph builds graphs until ok accepts one or the timeout passes.
func waitGraph(t *testing.T, b *Builder, o Options, timeout time.Duration, ok func(*Graph) error) *Graph {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		o.QueryTime = time.Time{}
		g, err := b.Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		err = ok(g)
		if err == nil {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// edgeSet lists a graph's edges as "source -> destination (protocol)".
func edgeSet(g *Graph) map[string]*Edge {
	out := map[string]*Edge{}
	for _, e := range g.Edges() {
		out[fmt.Sprintf("%s -> %s (%s)", e.Source.Label(), e.Dest.Label(), e.Protocol)] = e
	}
	return out
}

func sameKeys(got map[string]*Edge, want []string) error {
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
		if got[w] == nil {
			return fmt.Errorf("missing edge %s; have %v", w, keys(got))
		}
	}
	for k := range got {
		if !wantSet[k] {
			return fmt.Errorf("unexpected edge %s", k)
		}
	}
	return nil
}

func keys(m map[string]*Edge) []string { return slices.Sorted(maps.Keys(m)) }

func TestLiveBookinfoGraphs(t *testing.T) {
	l := startLive(t, 20)
	b := NewBuilder(l.querier, nil)
	cases := []struct {
		name  string
		opts  Options
		edges []string
		nodes int
	}{
		{"workload graph", Options{Type: TypeWorkload}, []string{
			"istio-ingressgateway -> productpage-v1 (http)", "productpage-v1 -> details-v1 (http)",
			"productpage-v1 -> reviews-v1 (http)", "productpage-v1 -> reviews-v2 (http)", "productpage-v1 -> reviews-v3 (http)",
			"reviews-v2 -> ratings-v1 (http)", "reviews-v3 -> ratings-v1 (http)", "ratings-v1 -> mongodb-v1 (tcp)",
			"reports-v1 -> archive (http)",
		}, 10},
		{"app graph", Options{Type: TypeApp}, []string{
			"istio-ingressgateway -> productpage (http)", "productpage -> details (http)", "productpage -> reviews (http)",
			"reviews -> ratings (http)", "ratings -> mongodb (tcp)", "reports -> archive (http)",
		}, 8},
		{"versioned app graph with service nodes", Options{Type: TypeVersionedApp, InjectServiceNodes: true}, []string{
			"istio-ingressgateway latest -> productpage (http)", "productpage -> productpage v1 (http)",
			"productpage v1 -> details (http)", "details -> details v1 (http)",
			"productpage v1 -> reviews (http)", "reviews -> reviews v1 (http)", "reviews -> reviews v2 (http)", "reviews -> reviews v3 (http)",
			"reviews v2 -> ratings (http)", "reviews v3 -> ratings (http)", "ratings -> ratings v1 (http)",
			"ratings v1 -> mongodb (tcp)", "mongodb -> mongodb v1 (tcp)", "reports v1 -> archive (http)",
		}, 15},
		// The report job's own traffic (into its service, reports) is in
		// namespace batch, outside the graph: it stays a workload.
		{"service graph", Options{Type: TypeService}, []string{
			"istio-ingressgateway -> productpage (http)", "productpage -> details (http)", "productpage -> reviews (http)",
			"reviews -> ratings (http)", "ratings -> mongodb (tcp)", "reports-v1 -> archive (http)",
		}, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name+" has exactly bookinfo's nodes and edges", func(t *testing.T) {
			tc.opts.Namespaces, tc.opts.Duration = []string{"bookinfo"}, 5*time.Second
			g := waitGraph(t, b, tc.opts, 20*time.Second, func(g *Graph) error {
				if err := sameKeys(edgeSet(g), tc.edges); err != nil {
					return err
				}
				if n := len(g.Nodes()); n != tc.nodes {
					return fmt.Errorf("%d nodes, want %d", n, tc.nodes)
				}
				return nil
			})
			for _, n := range g.Nodes() {
				if (n.Namespace == "istio-system" || n.Namespace == "batch") && !n.IsOutside {
					t.Errorf("%s is outside the namespaces asked for but not marked so", n.Label())
				}
				if n.Workload == "istio-ingressgateway" || n.App == "istio-ingressgateway" {
					if !n.IsRoot {
						t.Errorf("the gateway is not a root")
					}
				}
			}
			for k, e := range edgeSet(g) {
				// Only the caller reports calls into the archive, which
				// has no sidecar: no mTLS, and no share of it claimed.
				if strings.HasSuffix(k, "-> archive (http)") {
					if e.HasMTLS && e.MTLS > 0 {
						t.Errorf("%s: mTLS %v into a workload without a sidecar", k, e.MTLS)
					}
					continue
				}
				if e.Protocol != "tcp" && (!e.HasMTLS || e.MTLS < 99.99) {
					t.Errorf("%s: mTLS %v (%v), want 100", k, e.MTLS, e.HasMTLS)
				}
			}
		})
	}

	t.Run("a report job in another namespace reading bookinfo's sidecar-less archive shows at the rate its caller reports", func(t *testing.T) {
		// The load generator sends 5 % of its calls to the job, 95 % to
		// the gateway: about one archive read for 19 pages. Only the
		// job's sidecar reports the reads, from namespace batch.
		o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 10 * liveInterval}
		waitGraph(t, b, o, 30*time.Second, func(g *Graph) error {
			pages, reads := edgeSet(g)["istio-ingressgateway -> productpage-v1 (http)"], edgeSet(g)["reports-v1 -> archive (http)"]
			if pages == nil || reads == nil {
				return fmt.Errorf("edges missing: %v", keys(edgeSet(g)))
			}
			if r := reads.Rates.HTTP / pages.Rates.HTTP; r < 0.025 || r > 0.11 {
				return fmt.Errorf("reports-v1 -> archive %.2f rps for %.2f pages/s: want about 1 for 19", reads.Rates.HTTP, pages.Rates.HTTP)
			}
			return nil
		})
	})

	// Recorded values are means over the window and the rules' own
	// windows before it, raw ones over the window alone: compared before
	// any fault, so that neither reaches back into one.
	t.Run("recorded response times cover the same edges as the buckets, with close values", func(t *testing.T) {
		// The rules need a few evaluations over scraped data first.
		l.waitForEdges(t, "recorded response times", "count("+recordedDuration+"avg) and count("+recordedDuration+"p95)")
		for _, rt := range []string{"95", "avg"} {
			o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 4 * liveInterval, ResponseTime: rt, QueryTime: time.Now().Add(-3 * liveInterval)}
			recorded, buckets, _ := l.recordedAndRaw(t, b, o, b.responseTimes, "recorded", "recorded+buckets")
			// Means agree closely. A p95 recorded per 2s window and
			// averaged is not the p95 of the whole window: with Envoy's
			// 1ms-5ms bucket both can land anywhere inside it.
			close := func(e *Edge, got, want float64) bool {
				diff := math.Abs(got - want)
				return sparse(e, o.Duration) || !(diff > 0.5 && diff > 0.5*want)
			}
			if rt == "95" {
				close = func(e *Edge, got, want float64) bool { return sparse(e, o.Duration) || got <= 5*want && want <= 5*got }
			}
			sameEdges(t, "response time "+rt+" ms", recorded, buckets, func(e *Edge) (bool, float64) { return e.HasResponseTime, e.ResponseTime }, close)
		}
	})
	t.Run("recorded throughput covers the same edges as the raw sums, with close values", func(t *testing.T) {
		// Both read the same stretch of steady traffic only once every
		// series holds samples from before the window the recorded rates
		// cover (the window, two intervals more, and their own two): a
		// rate over a series younger than its window comes out low.
		l.waitForEdges(t, "recorded throughput", "count("+recordedThroughput(telemetry.RequestBytes)+") and count("+recordedThroughput(telemetry.ResponseBytes)+
			") and min(count_over_time("+telemetry.RequestBytes+"_sum[12s])) >= 11")
		for _, tp := range []string{"request", "response"} {
			o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 4 * liveInterval, Throughput: tp, QueryTime: l.unmissedTime(t, 8*liveInterval)}
			recorded, sums, raw := l.recordedAndRaw(t, b, o, b.throughputs, "recorded", "recorded+raw")
			if testutil.ToFloat64(raw.throughputs.WithLabelValues("raw")) != 1 {
				t.Fatalf("%s: the graph without rules did not read the raw sums", tp)
			}
			// The recorded rates are over two intervals, averaged over the
			// window and two intervals more: steady traffic gives close
			// values, not equal ones. An edge with a few requests in the
			// window (the archive's reads, about one a second at random)
			// is not steady: the two windows hold different requests, and
			// only its having a throughput on both paths is compared.
			sameEdges(t, tp+" bytes/s", recorded, sums, func(e *Edge) (bool, float64) { return e.HasThroughput, e.Throughput },
				func(e *Edge, got, want float64) bool {
					return sparse(e, o.Duration) || math.Abs(got-want) <= 0.25*want
				})
		}
	})
	beforeFaults := time.Now()
	t.Run("an injected fault shows as about 50% errors", func(t *testing.T) {
		if err := l.sim.Faults().Set(simulate.Fault{Namespace: "bookinfo", Workload: "reviews-v2", ErrorRate: 0.5}); err != nil {
			t.Fatal(err)
		}
		defer l.sim.Faults().Clear()
		o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 2 * liveInterval}
		waitGraph(t, b, o, 10*time.Second, func(g *Graph) error {
			e := edgeSet(g)["productpage-v1 -> reviews-v2 (http)"]
			if e == nil {
				return fmt.Errorf("no edge")
			}
			pct := 100 * e.Rates.HTTP5xx / e.Rates.HTTP
			if pct < 30 || pct > 70 {
				return fmt.Errorf("httpPercentErr %.1f", pct)
			}
			return nil
		})
	})
	t.Run("ratings failing under its retry policy shows three attempts a call, all errors", func(t *testing.T) {
		if err := l.sim.Faults().Set(simulate.Fault{Namespace: "bookinfo", Workload: "ratings-v1", ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		defer l.sim.Faults().Clear()
		o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 3 * liveInterval}
		waitGraph(t, b, o, 15*time.Second, func(g *Graph) error {
			calls, attempts := edgeSet(g)["productpage-v1 -> reviews-v2 (http)"], edgeSet(g)["reviews-v2 -> ratings-v1 (http)"]
			if calls == nil || attempts == nil {
				return fmt.Errorf("edges missing")
			}
			// Each request reviews-v2 serves is one call to ratings, which
			// the caller's sidecar tries three times (bookinfo's ratings
			// VirtualService: attempts 2).
			if r := attempts.Rates.HTTP / calls.Rates.HTTP; r < 2.5 || r > 3.5 || attempts.Rates.HTTP5xx < 0.95*attempts.Rates.HTTP {
				return fmt.Errorf("reviews-v2 -> ratings-v1 %.2f rps (%.2f 5xx) for %.2f rps into reviews-v2: want three times, all errors",
					attempts.Rates.HTTP, attempts.Rates.HTTP5xx, calls.Rates.HTTP)
			}
			return nil
		})
	})
	t.Run("a delay injected at the callers of details counts each call once", func(t *testing.T) {
		if err := l.sim.Faults().Set(simulate.Fault{Namespace: "bookinfo", Workload: "details-v1", InjectDelay: simulate.Duration(5 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		defer l.sim.Faults().Clear()
		o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 3 * liveInterval}
		waitGraph(t, b, o, 15*time.Second, func(g *Graph) error {
			// Only once every call in the window was delayed.
			v, err := l.querier.Query(context.Background(), `sum by (response_flags) (rate(istio_requests_total{reporter="source",destination_workload="details-v1"}[3s]))`, g.Timestamp)
			if err != nil {
				return err
			}
			for _, s := range v {
				if flags := s.Metric.Get("response_flags"); (flags == "DI") != (s.Value > 0) {
					return fmt.Errorf("calls flagged %q at %.2f rps: not every call in the window is delayed yet", flags, s.Value)
				}
			}
			pages, details := edgeSet(g)["istio-ingressgateway -> productpage-v1 (http)"], edgeSet(g)["productpage-v1 -> details-v1 (http)"]
			if pages == nil || details == nil {
				return fmt.Errorf("edges missing")
			}
			// The caller reports each call DI, the destination plain: one
			// call a page, not two.
			if r := details.Rates.HTTP / pages.Rates.HTTP; r < 0.8 || r > 1.2 {
				return fmt.Errorf("productpage-v1 -> details-v1 %.2f rps for %.2f pages/s: want one call a page", details.Rates.HTTP, pages.Rates.HTTP)
			}
			return nil
		})
	})
	t.Run("queryTime replays the graph as it was before the fault", func(t *testing.T) {
		o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 2 * liveInterval, QueryTime: beforeFaults}
		g, err := b.Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		e := edgeSet(g)["productpage-v1 -> reviews-v2 (http)"]
		if e == nil || e.Rates.HTTP5xx != 0 || !g.Timestamp.Equal(beforeFaults) {
			t.Errorf("graph at %s: edge %+v", g.Timestamp, e)
		}
	})
	t.Run("without namespace matchers the graph of the whole mesh is the same", func(t *testing.T) {
		// A time whose scrapes and rule evaluations are all written: both
		// graphs must read the same samples.
		// Every namespace of the demo with traffic into it: the queries
		// need no namespace matcher.
		o := Options{Namespaces: []string{"batch", "bookinfo"}, Type: TypeVersionedApp, InjectServiceNodes: true, Duration: 4 * liveInterval, QueryTime: time.Now().Add(-3 * liveInterval)}
		sc, hasRecorded := b.readIndex(context.Background(), o.Namespaces, o.QueryTime.Add(-o.Duration), o.QueryTime.Add(-o.Duration), o.QueryTime, []string{recordedDuration + "p95"})
		if dst, ok := sc.Values[dstNS]; !ok || !slices.Equal(dst, []string{"batch", "bookinfo"}) {
			t.Fatalf("destination namespaces of bookinfo's demo: %q (%v)", dst, ok)
		}
		if !hasRecorded.recorded[recordedDuration+"p95"] {
			t.Fatal("the index lists no recorded p95, though the demo's store runs the rules")
		}
		// Both builders take response times from the same place: the
		// recorded series when they are there, else the buckets.
		fast, err := b.Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := NewBuilder(unlisted{l.querier}, nil).Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		var a, c bytes.Buffer
		fast.WriteTable(&a)
		slow.WriteTable(&c)
		if a.String() != c.String() {
			t.Errorf("without matchers:\n%s\nwith them:\n%s", a.String(), c.String())
		}
	})
	t.Run("added latency shows in p95", func(t *testing.T) {
		if err := l.sim.Faults().Set(simulate.Fault{Namespace: "bookinfo", Workload: "details-v1", Delay: simulate.Duration(300 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		defer l.sim.Faults().Clear()
		o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: 2 * liveInterval, ResponseTime: "95"}
		before := testutil.ToFloat64(b.responseTimes.WithLabelValues("recorded"))
		defer func() {
			if testutil.ToFloat64(b.responseTimes.WithLabelValues("recorded")) == before {
				t.Error("no graph read the recorded response times")
			}
		}()
		waitGraph(t, b, o, 10*time.Second, func(g *Graph) error {
			e := edgeSet(g)["productpage-v1 -> details-v1 (http)"]
			if e == nil || !e.HasResponseTime || e.ResponseTime < 250 || e.ResponseTime > 600 {
				return fmt.Errorf("p95 of productpage -> details is %+v", e)
			}
			return nil
		})
	})
}
