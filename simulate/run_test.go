package simulate

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

func startBookinfo(t *testing.T) *Sim {
	t.Helper()
	sim, err := Start(Options{Mesh: Bookinfo(), CallTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// scrapeAll parses every sidecar of the mesh, by workload name.
func scrapeAll(t *testing.T, sim *Sim) map[string][]sample {
	out := map[string][]sample{}
	for _, w := range sim.Mesh().Workloads {
		if !w.NoSidecar {
			out[w.Name] = scrapeSidecar(t, "http://"+sim.pods[w].adminAddr+"/stats/prometheus")
		}
	}
	return out
}

func TestEachRequestIsCountedOnceByEachReporter(t *testing.T) {
	sim := startBookinfo(t)
	gen := NewLoadGenerator(sim, 0, nil)
	const n = 30
	for range n {
		if code := gen.Send(context.Background(), sim.Mesh().Entrypoints[0]); code != http.StatusOK {
			t.Fatalf("productpage through the ingress answered %d", code)
		}
	}
	m := scrapeAll(t, sim)
	edge := func(reporter, at, src, dst string) float64 {
		return sum(m[at], telemetry.RequestsTotal, map[string]string{
			telemetry.Reporter: reporter, telemetry.SourceWorkload: src, telemetry.DestinationWorkload: dst})
	}
	cases := []struct {
		name     string
		src, dst string
		want     float64
		noDest   bool
	}{
		{name: "ingress to productpage", src: "istio-ingressgateway", dst: "productpage-v1", want: n},
		{name: "productpage to details", src: "productpage-v1", dst: "details-v1", want: n},
		{name: "productpage to reviews-v1", src: "productpage-v1", dst: "reviews-v1", want: n / 3},
		{name: "productpage to reviews-v2", src: "productpage-v1", dst: "reviews-v2", want: n / 3},
		{name: "productpage to reviews-v3", src: "productpage-v1", dst: "reviews-v3", want: n / 3},
		{name: "reviews-v2 to ratings", src: "reviews-v2", dst: "ratings-v1", want: n / 3},
		{name: "reviews-v3 to ratings", src: "reviews-v3", dst: "ratings-v1", want: n / 3},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is counted once at the source and once at the destination", func(t *testing.T) {
			if got := edge(telemetry.ReporterSource, tc.src, tc.src, tc.dst); got != tc.want {
				t.Errorf("source reporter at %s counts %v, want %v", tc.src, got, tc.want)
			}
			if got := edge(telemetry.ReporterDestination, tc.dst, tc.src, tc.dst); got != tc.want {
				t.Errorf("destination reporter at %s counts %v, want %v", tc.dst, got, tc.want)
			}
		})
	}
	t.Run("the gateway reports no inbound traffic", func(t *testing.T) {
		if got := sum(m["istio-ingressgateway"], telemetry.RequestsTotal, map[string]string{telemetry.Reporter: telemetry.ReporterDestination}); got != 0 {
			t.Errorf("gateway reports %v inbound requests", got)
		}
	})
	t.Run("ratings opens one TCP connection to mongodb per request, seen by both sides", func(t *testing.T) {
		want := float64(2 * n / 3)
		for _, at := range []struct{ reporter, pod string }{{telemetry.ReporterSource, "ratings-v1"}, {telemetry.ReporterDestination, "mongodb-v1"}} {
			match := map[string]string{telemetry.Reporter: at.reporter, telemetry.SourceWorkload: "ratings-v1", telemetry.DestinationWorkload: "mongodb-v1"}
			if got := sum(m[at.pod], telemetry.TCPConnectionsOpenedTotal, match); got != want {
				t.Errorf("%s reporter: %v connections opened, want %v", at.reporter, got, want)
			}
			if got := sum(m[at.pod], telemetry.TCPReceivedBytesTotal, match); got != want*float64(len(tcpQuery)) {
				t.Errorf("%s reporter: %v bytes received, want %v", at.reporter, got, want*float64(len(tcpQuery)))
			}
			if got := sum(m[at.pod], telemetry.TCPSentBytesTotal, match); got != want*97 {
				t.Errorf("%s reporter: %v bytes sent, want %v", at.reporter, got, want*97)
			}
		}
	})
	t.Run("every request histogram counts what the counter counts", func(t *testing.T) {
		for pod, samples := range m {
			c := sum(samples, telemetry.RequestsTotal, nil)
			for _, h := range telemetry.Histograms {
				if got := sum(samples, h+"_count", nil); got != c {
					t.Errorf("%s: %s_count is %v, requests_total %v", pod, h, got, c)
				}
			}
		}
	})
	t.Run("every Istio series carries the full standard label set", func(t *testing.T) {
		for pod, samples := range m {
			for _, s := range samples {
				name := s.labels.Get("__name__")
				want := telemetry.StandardLabels(name)
				if want == nil {
					continue
				}
				for _, l := range want {
					if !s.labels.Has(l) {
						t.Fatalf("%s: series %s has no label %s", pod, s.labels, l)
					}
				}
			}
		}
	})
	t.Run("destination reporter says mutual_tls with SPIFFE principals", func(t *testing.T) {
		got := sum(m["details-v1"], telemetry.RequestsTotal, map[string]string{
			telemetry.Reporter: telemetry.ReporterDestination, telemetry.ConnectionSecurityPolicy: telemetry.SecurityMutualTLS,
			telemetry.SourcePrincipal:      "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage",
			telemetry.DestinationPrincipal: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-details"})
		if got != n {
			t.Errorf("%v mTLS requests at details, want %v", got, n)
		}
	})
	t.Run("envoy metrics are there for thinning to drop", func(t *testing.T) {
		if got := sum(m["productpage-v1"], "envoy_server_live", nil); got != 1 {
			t.Errorf("envoy_server_live = %v", got)
		}
	})
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name     string
		fault    Fault
		wantCode string
		wantFlag string
	}{
		{name: "an error rate of 1 fails every request with 500", fault: Fault{ErrorRate: 1}, wantCode: "500", wantFlag: "-"},
		{name: "an error code of 404 fails every request with 404", fault: Fault{ErrorRate: 1, ErrorCode: 404}, wantCode: "404", wantFlag: "-"},
		{name: "a workload that is down makes callers time out with 504 UT", fault: Fault{Down: true}, wantCode: "504", wantFlag: "UT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := startBookinfo(t)
			tc.fault.Namespace, tc.fault.Workload = "bookinfo", "details-v1"
			if err := sim.Faults().Set(tc.fault); err != nil {
				t.Fatal(err)
			}
			gen := NewLoadGenerator(sim, 0, nil)
			for range 3 {
				if code := gen.Send(context.Background(), sim.Mesh().Entrypoints[0]); code != http.StatusOK {
					t.Fatalf("productpage answered %d; it should degrade, not fail", code)
				}
			}
			m := scrapeAll(t, sim)
			got := sum(m["productpage-v1"], telemetry.RequestsTotal, map[string]string{
				telemetry.Reporter: telemetry.ReporterSource, telemetry.DestinationWorkload: "details-v1",
				telemetry.ResponseCode: tc.wantCode, telemetry.ResponseFlags: tc.wantFlag})
			if got != 3 {
				t.Errorf("productpage reports %v requests to details with %s %s, want 3; all: %v", got, tc.wantCode, tc.wantFlag, describe(m["productpage-v1"], telemetry.RequestsTotal))
			}
		})
	}
	t.Run("a fault on a workload that does not exist is refused", func(t *testing.T) {
		if err := NewFaults(Bookinfo()).Set(Fault{Namespace: "bookinfo", Workload: "nope", ErrorRate: 1}); err == nil {
			t.Error("no error")
		}
	})
	t.Run("an error rate above 1 is refused", func(t *testing.T) {
		if err := NewFaults(Bookinfo()).Set(Fault{Namespace: "bookinfo", Workload: "details-v1", ErrorRate: 2}); err == nil {
			t.Error("no error")
		}
	})
}

// describe lists the samples of metric for a failure message.
func describe(samples []sample, metric string) []string {
	var out []string
	for _, s := range samples {
		if s.labels.Get("__name__") == metric {
			out = append(out, fmt.Sprintf("%s->%s %s %s %s = %v", s.labels.Get(telemetry.SourceWorkload), s.labels.Get(telemetry.DestinationWorkload),
				s.labels.Get(telemetry.Reporter), s.labels.Get(telemetry.ResponseCode), s.labels.Get(telemetry.ResponseFlags), s.value))
		}
	}
	return out
}

func TestCallersBehaveLikeEnvoy(t *testing.T) {
	sim := startBookinfo(t)
	gen := NewLoadGenerator(sim, 0, nil)
	const n = 30
	send := func() {
		t.Helper()
		for range n {
			gen.Send(context.Background(), sim.Mesh().Entrypoints[0])
		}
	}
	requests := func(m map[string][]sample, at string, match map[string]string) float64 {
		return sum(m[at], telemetry.RequestsTotal, match)
	}
	t.Run("the ratings route's retry policy comes from bookinfo's VirtualService", func(t *testing.T) {
		for _, s := range sim.Mesh().Services {
			want := RetryPolicy{}
			if s.Name == "ratings" {
				want = RetryPolicy{Attempts: 2, On5xx: true}
			}
			if s.Retries != want {
				t.Errorf("%s: retries %+v, want %+v", s.Name, s.Retries, want)
			}
		}
	})
	t.Run("a failing ratings gets each attempt at the destination and one URX request at the caller", func(t *testing.T) {
		if err := sim.Faults().Set(Fault{Namespace: "bookinfo", Workload: "ratings-v1", ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		defer sim.Faults().Clear()
		send()
		m := scrapeAll(t, sim)
		calls := requests(m, "reviews-v2", map[string]string{telemetry.Reporter: telemetry.ReporterSource, telemetry.DestinationWorkload: "ratings-v1", telemetry.ResponseCode: "500", telemetry.ResponseFlags: "URX"})
		attempts := requests(m, "ratings-v1", map[string]string{telemetry.Reporter: telemetry.ReporterDestination, telemetry.SourceWorkload: "reviews-v2", telemetry.ResponseCode: "500", telemetry.ResponseFlags: telemetry.NoFlags})
		if calls != n/3 || attempts != 3*calls {
			t.Errorf("reviews-v2 reports %v failed calls (URX), ratings-v1 %v attempts; want %d and three times as many", calls, attempts, n/3)
		}
	})
	t.Run("an injected delay is DI at the caller and a plain request at the destination", func(t *testing.T) {
		if err := sim.Faults().Set(Fault{Namespace: "bookinfo", Workload: "details-v1", InjectDelay: Duration(time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		defer sim.Faults().Clear()
		before := scrapeAll(t, sim)
		send()
		m := scrapeAll(t, sim)
		src := map[string]string{telemetry.Reporter: telemetry.ReporterSource, telemetry.DestinationWorkload: "details-v1", telemetry.ResponseCode: "200", telemetry.ResponseFlags: "DI"}
		dst := map[string]string{telemetry.Reporter: telemetry.ReporterDestination, telemetry.SourceWorkload: "productpage-v1", telemetry.ResponseCode: "200", telemetry.ResponseFlags: telemetry.NoFlags}
		if got := requests(m, "productpage-v1", src) - requests(before, "productpage-v1", src); got != n {
			t.Errorf("productpage-v1 reports %v delayed calls, want %d", got, n)
		}
		if got := requests(m, "details-v1", dst) - requests(before, "details-v1", dst); got != n {
			t.Errorf("details-v1 reports %v plain requests, want %d", got, n)
		}
	})
	t.Run("an injected abort is FI at the caller, without a destination workload, and nothing at the destination", func(t *testing.T) {
		if err := sim.Faults().Set(Fault{Namespace: "bookinfo", Workload: "details-v1", Abort: 1}); err != nil {
			t.Fatal(err)
		}
		defer sim.Faults().Clear()
		before := scrapeAll(t, sim)
		send()
		m := scrapeAll(t, sim)
		src := map[string]string{telemetry.Reporter: telemetry.ReporterSource, telemetry.DestinationServiceName: "details", telemetry.DestinationWorkload: telemetry.Unknown,
			telemetry.ResponseCode: "503", telemetry.ResponseFlags: "FI"}
		if got := requests(m, "productpage-v1", src) - requests(before, "productpage-v1", src); got != n {
			t.Errorf("productpage-v1 reports %v aborted calls, want %d", got, n)
		}
		dst := map[string]string{telemetry.Reporter: telemetry.ReporterDestination}
		if got := requests(m, "details-v1", dst) - requests(before, "details-v1", dst); got != 0 {
			t.Errorf("details-v1 reports %v requests it never got", got)
		}
	})
	t.Run("a workload that is down times its callers out: UT at the caller, DC at the destination", func(t *testing.T) {
		if err := sim.Faults().Set(Fault{Namespace: "bookinfo", Workload: "details-v1", Down: true}); err != nil {
			t.Fatal(err)
		}
		defer sim.Faults().Clear()
		for range 3 {
			gen.Send(context.Background(), sim.Mesh().Entrypoints[0])
		}
		m := scrapeAll(t, sim)
		src := requests(m, "productpage-v1", map[string]string{telemetry.Reporter: telemetry.ReporterSource, telemetry.DestinationWorkload: "details-v1", telemetry.ResponseCode: "504", telemetry.ResponseFlags: "UT"})
		dst := requests(m, "details-v1", map[string]string{telemetry.Reporter: telemetry.ReporterDestination, telemetry.ResponseCode: "0", telemetry.ResponseFlags: "DC"})
		if src != 3 || dst != 3 {
			t.Errorf("productpage-v1 reports %v timeouts, details-v1 %v calls its caller left; want 3 and 3", src, dst)
		}
	})
}
