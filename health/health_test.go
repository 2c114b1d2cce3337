package health

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/collect"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic/traffictest"
)

// checkAt loads series (promqltest's load notation with graphtest's src and
// dst shorthands) and asks for health ten minutes in, over a one-minute
// window.
func checkAt(t *testing.T, load string, o Options, c *Config) *Answer {
	t.Helper()
	expanded, err := traffictest.ExpandSeries(load)
	if err != nil {
		t.Fatal(err)
	}
	st := promqltest.LoadedStorage(t, expanded)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := promclient.NewEngine(engine, st, 15*time.Second)
	if o.Namespaces == nil {
		o.Namespaces = []string{"bookinfo"}
	}
	if o.RateInterval == 0 {
		o.RateInterval = time.Minute
	}
	o.QueryTime = time.Unix(600, 0)
	a, err := NewChecker(q, c).Check(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The same answer from the series as the collector's kiali preset
	// keeps them: health reads none of what it drops.
	thinned := promclient.NewEngine(engine, traffictest.Thinned(t, st, collect.ThinningKiali.RelabelConfigs()), 15*time.Second)
	b, err := NewChecker(thinned, c).Check(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := traffictest.Rounded(t, b), traffictest.Rounded(t, a); got != want {
		t.Errorf("health from kiali-thinned series differs:\n got %s\nwant %s", got, want)
	}
	return a
}

// TestRequestHealthFromSeries states, series by series, the status Kiali's
// rules give: counted by traffic's rules (each request once), then
// measured against the default tolerances.
func TestRequestHealthFromSeries(t *testing.T) {
	cases := []struct {
		name, load string
		kind       Kind
		entity     string
		want       Status
		ratio      float64 // the deciding error share, percent; -1 without traffic
	}{
		{"half the requests answered 500 is a Failure", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="500"} 0+15x40
`, Workload, "ratings-v1", Failure, 50},
		{"5 % of 500s is Degraded (5xx degrade from any share, fail from 10 %)", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+57x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="503"} 0+3x40
`, Workload, "ratings-v1", Degraded, 5},
		{"5 % of 404s is Healthy (4xx degrade from 10 %)", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+57x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="404"} 0+3x40
`, Workload, "ratings-v1", Healthy, 0},
		{"15 % of 404s is Degraded", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+51x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="404"} 0+9x40
`, Workload, "ratings-v1", Degraded, 15},
		{"25 % of 404s is a Failure", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+45x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="404"} 0+15x40
`, Workload, "ratings-v1", Failure, 25},
		{"gRPC status 14 on 20 % of calls is a Failure, whatever the HTTP code", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", request_protocol="grpc", grpc_response_status="0"} 0+48x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", request_protocol="grpc", grpc_response_status="14"} 0+12x40
`, Workload, "ratings-v1", Failure, 20},
		{"requests without a response (code 0) count as errors", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+54x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="0", response_flags="DC"} 0+6x40
`, Workload, "ratings-v1", Failure, 10},
		{"the caller's outbound errors make the caller unhealthy", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1", response_code="500"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+30x40
`, Workload, "productpage-v1", Failure, 50},
		{"a retried request counts its attempts, not attempts and the caller's answer", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", response_code="503"} 0+45x40
  istio_requests_total{reporter="source", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", response_code="503", response_flags="URX"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} 0+255x40
`, Workload, "ratings-v1", Failure, 15},
		{"a connection failure only the caller saw counts once, on both ends", `
load 15s
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", response_code="503", response_flags="UF"} 0+6x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+54x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+54x40
`, Workload, "details-v1", Failure, 10},
		{"an app's health is its workloads' traffic together", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+3x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+27x40
`, App, "reviews", Degraded, 5},
		{"a service's health is its inbound traffic", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1", response_code="500"} 0+60x40
`, Service, "reviews", Failure, 100},
		{"traffic without errors is Healthy", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+60x40
`, Workload, "details-v1", Healthy, 0},
		{"traffic that stopped before the window is no health information (without an inventory, no entity)", `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+60x20
`, Workload, "details-v1", NA, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := checkAt(t, tc.load, Options{Kind: tc.kind}, nil)
			e := a.Entities["bookinfo"][tc.entity]
			if e == nil && tc.want == NA {
				return
			}
			if e == nil {
				t.Fatalf("no %s %s in %v", tc.kind, tc.entity, a.Entities)
			}
			if e.Status.Status != tc.want || math.Abs(e.Status.ErrorRatio-tc.ratio) > 1e-6 {
				t.Errorf("%s at %.2f%% (%s), want %s at %.2f%%; requests %v", e.Status.Status, e.Status.ErrorRatio, e.Status.Reason, tc.want, tc.ratio, e.Requests)
			}
		})
	}
}

func TestAnnotationAndConfigTuneTolerances(t *testing.T) {
	const load = `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+57x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="503"} 0+3x40
`
	inv := func(annotation string) *inventory.Snapshot {
		meta := "metadata: {name: ratings-v1, namespace: bookinfo}"
		if annotation != "" {
			meta = fmt.Sprintf("metadata: {name: ratings-v1, namespace: bookinfo, annotations: {%s: %q}}", AnnotationRate, annotation)
		}
		objects, errs := inventory.Parse("inv.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\n"+meta+"\nspec:\n  template:\n    metadata: {labels: {app: ratings, version: v1}}\n    spec: {containers: [{name: r}]}\n"))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return inventory.NewSnapshot(objects)
	}
	cases := []struct {
		name       string
		annotation string
		rates      []Rate
		want       Status
		warning    string
	}{
		{"the defaults make 5 % of 503s Degraded", "", nil, Degraded, ""},
		{"an annotation raising the 5xx thresholds makes it Healthy", "5XX,10,20,http,inbound", nil, Healthy, ""},
		{"an annotation entry with four fields is left out with a warning, the defaults apply", "5XX,10,20,http", nil, Degraded, "want 5 fields"},
		{"an annotation with degraded above failure is left out with a warning", "5XX,30,20,http,inbound", nil, Degraded, "above failure"},
		{"a valid entry applies beside an invalid one", "5XX,10,20,http,inbound;oops", nil, Healthy, "want 5 fields"},
		{"a configured rate for the workload applies", "", []Rate{{Namespace: "bookinfo", Kind: "workload", Name: "ratings-.*", Tolerance: []Tolerance{{Code: "5XX", Degraded: 1, Failure: 4, Protocol: "http"}}}}, Failure, ""},
		{"the first matching rate wins", "", []Rate{{Name: "ratings-v1", Tolerance: []Tolerance{{Code: "5XX", Degraded: 10, Failure: 20}}}, {Tolerance: []Tolerance{{Code: "5XX", Degraded: 1, Failure: 2}}}}, Healthy, ""},
		{"a rate for another kind does not apply", "", []Rate{{Kind: "service", Tolerance: []Tolerance{{Code: "5XX", Degraded: 1, Failure: 4}}}}, Degraded, ""},
		{"the annotation wins over the configuration", "5XX,10,20,http,.*", []Rate{{Tolerance: []Tolerance{{Code: "5XX", Degraded: 1, Failure: 4}}}}, Healthy, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConfig(tc.rates)
			if err != nil {
				t.Fatal(err)
			}
			a := checkAt(t, load, Options{Kind: Workload, Inventory: inv(tc.annotation)}, c)
			e := a.Entities["bookinfo"]["ratings-v1"]
			if e.Status.Status != tc.want {
				t.Errorf("%s (%s), want %s", e.Status.Status, e.Status.Reason, tc.want)
			}
			warnings := strings.Join(a.Warnings, "\n")
			if (tc.warning == "") != !strings.Contains(warnings, "ratings-v1") || (tc.warning != "" && !strings.Contains(warnings, tc.warning)) {
				t.Errorf("warnings %q, want one saying %q", a.Warnings, tc.warning)
			}
		})
	}
}

func TestAPatternThatDoesNotCompileNamesTheRate(t *testing.T) {
	_, err := NewConfig([]Rate{{Name: "ok"}, {Name: "bad(", Tolerance: []Tolerance{{Code: "5XX"}}}})
	if err == nil || !strings.Contains(err.Error(), "health_config.rate[1].name") {
		t.Errorf("error %v, want one naming health_config.rate[1].name", err)
	}
	_, err = NewConfig([]Rate{{Tolerance: []Tolerance{{Code: "5XX"}, {Code: "[4"}}}})
	if err == nil || !strings.Contains(err.Error(), "rate[0].tolerance[1]") {
		t.Errorf("error %v, want one naming rate[0].tolerance[1]", err)
	}
}

// TestAvailability states Kiali's availability rules, in its order.
func TestAvailability(t *testing.T) {
	cases := []struct {
		name                         string
		desired, current, avail, syn int32
		want                         Status
	}{
		{"scaled to zero is Not Ready", 0, 0, 0, -1, NotReady},
		{"some but not all available is Degraded", 3, 3, 1, -1, Degraded},
		{"none available is a Failure", 2, 2, 0, -1, Failure},
		{"pending pods are a Failure", 2, 3, 2, -1, Failure},
		{"proxies not all synced is Degraded", 2, 2, 2, 1, Degraded},
		{"all available and synced is Healthy", 2, 2, 2, 2, Healthy},
		{"all available, sync unknown, is Healthy", 1, 1, 1, -1, Healthy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := availability(WorkloadStatus{Name: "w", DesiredReplicas: tc.desired, CurrentReplicas: tc.current, AvailableReplicas: tc.avail, SyncedProxies: tc.syn})
			if v.Status != tc.want {
				t.Errorf("%s (%s), want %s", v.Status, v.Reason, tc.want)
			}
		})
	}
}

// TestStatusIsTheWorseOfRequestsAndAvailability combines the two for
// workloads and apps: Failure > Degraded > Not Ready > Healthy > NA.
func TestStatusIsTheWorseOfRequestsAndAvailability(t *testing.T) {
	objects, errs := inventory.Parse("inv.yaml", []byte(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: ratings-v1, namespace: bookinfo}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: ratings, version: v1}}
    spec: {containers: [{name: r}]}
status: {observedGeneration: 1, replicas: 2, availableReplicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: details-v1, namespace: bookinfo}
spec:
  replicas: 0
  template:
    metadata: {labels: {app: details, version: v1}}
    spec: {containers: [{name: d}]}
status: {observedGeneration: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: idle-v1, namespace: bookinfo}
spec:
  template:
    metadata: {labels: {app: idle, version: v1}}
    spec: {containers: [{name: i}]}
status: {observedGeneration: 1, replicas: 1, availableReplicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: down-v1, namespace: bookinfo}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: down, version: v1}}
    spec: {containers: [{name: d}]}
status: {observedGeneration: 1, replicas: 1, availableReplicas: 0}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: from-file-v1, namespace: bookinfo}
spec:
  template:
    metadata: {labels: {app: from-file, version: v1}}
    spec: {containers: [{name: f}]}
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	snap := inventory.NewSnapshot(objects)
	const load = `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1", response_code="500"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/down/down-v1", response_code="503"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/down/down-v1"} 0+45x40
`
	a := checkAt(t, load, Options{Kind: Workload, Inventory: snap}, nil)
	// A quarter of down-v1's requests fail and none of its replicas is
	// available: both a Failure, said by availability, the ratio kept.
	if e := a.Entities["bookinfo"]["down-v1"]; e == nil || e.Status.Status != Failure || !strings.Contains(e.Status.Reason, "none of 1 replicas available") || math.Abs(e.Status.ErrorRatio-25) > 0.01 {
		t.Errorf("down-v1: %+v", e)
	}
	for name, want := range map[string]Status{
		"ratings-v1":   Failure,  // requests Failure beats Degraded availability
		"details-v1":   NotReady, // no traffic, scaled to zero
		"idle-v1":      Healthy,  // no traffic, all available
		"from-file-v1": NA,       // no traffic, and a manifest says nothing of what runs
		"reviews-v1":   Failure,  // its outbound requests, though the inventory does not list it
	} {
		e := a.Entities["bookinfo"][name]
		if e == nil || e.Status.Status != want {
			t.Errorf("%s: %+v, want %s", name, e, want)
		}
	}
	apps := checkAt(t, load, Options{Kind: App, Inventory: snap}, nil)
	if e := apps.Entities["bookinfo"]["ratings"]; e == nil || e.Status.Status != Failure || len(e.WorkloadStatuses) != 1 {
		t.Errorf("app ratings: %+v", e)
	}
}

// TestQueriesDoNotGrowWithNamespaces: health of one namespace and of fifty
// takes the same number of queries.
func TestQueriesDoNotGrowWithNamespaces(t *testing.T) {
	const load = `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+30x40
`
	one := checkAt(t, load, Options{Kind: Workload}, nil)
	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("ns-%02d", i))
	}
	fifty := checkAt(t, load, Options{Kind: Workload, Namespaces: append(many, "bookinfo")}, nil)
	if len(one.Queries) != len(fifty.Queries) || len(one.Queries) > 2 {
		t.Errorf("%d queries for one namespace, %d for fifty-one; want the same, at most 2", len(one.Queries), len(fifty.Queries))
	}
	if fifty.Entities["bookinfo"]["ratings-v1"].Status.Status != Healthy {
		t.Errorf("ratings-v1 among fifty-one namespaces: %+v", fifty.Entities["bookinfo"]["ratings-v1"])
	}
}
