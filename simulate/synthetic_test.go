package simulate

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

// shape summarises a mesh for comparisons.
func shape(m *Mesh) []string {
	var out []string
	for _, w := range m.Workloads {
		s := w.Key()
		for _, c := range w.Calls {
			s += " " + c.Service.Host()
		}
		out = append(out, s)
	}
	return out
}

func TestSyntheticMesh(t *testing.T) {
	build := func(seed uint64) *Mesh {
		m, err := Synthetic(SyntheticOptions{Services: 400, Namespaces: 5, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := build(7)
	t.Run("the same seed builds the same mesh", func(t *testing.T) {
		if !reflect.DeepEqual(shape(m), shape(build(7))) {
			t.Error("two meshes from seed 7 differ")
		}
		if reflect.DeepEqual(shape(m), shape(build(8))) {
			t.Error("seeds 7 and 8 build the same mesh")
		}
	})
	t.Run("every fourth service has two versions, plus the gateway", func(t *testing.T) {
		if got, want := len(m.Workloads), 400+100+1; got != want {
			t.Errorf("%d workloads, want %d", got, want)
		}
	})
	t.Run("it spreads over the namespaces and uses every protocol", func(t *testing.T) {
		namespaces, protocols := map[string]bool{}, map[string]bool{}
		external := 0
		for _, s := range m.Services {
			namespaces[s.Namespace] = true
			protocols[s.Protocol] = true
			if s.External {
				external++
			}
		}
		if len(namespaces) != 6 { // five plus istio-system
			t.Errorf("%d namespaces", len(namespaces))
		}
		for _, p := range []string{telemetry.ProtocolHTTP, telemetry.ProtocolGRPC, telemetry.ProtocolTCP} {
			if !protocols[p] {
				t.Errorf("no %s service", p)
			}
		}
		if external < 2 {
			t.Errorf("%d external hosts", external)
		}
	})
	t.Run("about three calls per calling workload", func(t *testing.T) {
		calls, callers := 0, 0
		for _, w := range m.Workloads {
			if len(w.Calls) > 0 && !w.Gateway {
				calls += len(w.Calls)
				callers++
			}
		}
		if avg := float64(calls) / float64(callers); avg < 2.5 || avg > 3.5 {
			t.Errorf("%.2f calls per caller", avg)
		}
	})
	t.Run("the call graph has no cycle and reaches every workload", func(t *testing.T) {
		flows, err := computeFlows(m, 100)
		if err != nil {
			t.Fatal(err)
		}
		reached := map[*Workload]bool{}
		unknownSource := false
		for _, f := range flows {
			if f.dst != nil && f.rate > 0 {
				reached[f.dst] = true
			}
			if f.src == nil {
				unknownSource = true
			}
		}
		if !unknownSource {
			t.Error("no traffic from outside the mesh straight to a service")
		}
		if len(reached) < len(m.Workloads)*9/10 {
			t.Errorf("only %d of %d workloads receive traffic", len(reached), len(m.Workloads))
		}
	})
	t.Run("no services is an error", func(t *testing.T) {
		if _, err := Synthetic(SyntheticOptions{}); err == nil {
			t.Error("no error")
		}
	})
}

func TestSyntheticMeshRunsForReal(t *testing.T) {
	m, err := Synthetic(SyntheticOptions{Services: 24, Namespaces: 2, Layers: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Start(Options{Mesh: m, CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	gen := NewLoadGenerator(sim, 0, nil)
	for range 60 {
		for _, e := range m.Entrypoints {
			if code := gen.Send(context.Background(), e); code != http.StatusOK {
				t.Fatalf("entrypoint %s answered %d", e.Service.Host(), code)
			}
		}
	}
	protocols := map[string]float64{}
	unknown := 0.0
	for _, w := range m.Workloads {
		samples := scrapeSidecar(t, "http://"+sim.pods[w].adminAddr+"/stats/prometheus")
		for _, p := range []string{telemetry.ProtocolHTTP, telemetry.ProtocolGRPC} {
			protocols[p] += sum(samples, telemetry.RequestsTotal, map[string]string{telemetry.RequestProtocol: p})
		}
		protocols[telemetry.ProtocolTCP] += sum(samples, telemetry.TCPConnectionsOpenedTotal, nil)
		unknown += sum(samples, telemetry.RequestsTotal, map[string]string{telemetry.SourceWorkload: telemetry.Unknown})
		if grpc := sum(samples, telemetry.RequestMessagesTotal, nil); grpc != sum(samples, telemetry.RequestsTotal, map[string]string{telemetry.RequestProtocol: telemetry.ProtocolGRPC}) {
			t.Errorf("%s: %v gRPC messages for a different number of gRPC requests", w.Name, grpc)
		}
	}
	for p, n := range protocols {
		if n == 0 {
			t.Errorf("no %s traffic", p)
		}
	}
	if unknown == 0 {
		t.Error("no request from an unknown source")
	}
}

func TestEmitter(t *testing.T) {
	m := Bookinfo()
	faults := NewFaults(m)
	if err := faults.Set(Fault{Namespace: "bookinfo", Workload: "reviews-v2", ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	e, err := NewEmitter(EmitterOptions{Mesh: m, Faults: faults, Rate: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.Advance(10 * time.Second) // 600 requests: 95 % (570) at the ingress, 5 % (30) at the report job
	byPod := map[string][]sample{}
	for _, tg := range e.Targets() {
		if tg.Labels["app"] == "istiod" {
			continue // the control plane's page, not a sidecar's
		}
		byPod[tg.Labels["pod"]] = scrapeSidecar(t, "http://"+tg.Address+tg.MetricsPath)
	}
	withSidecars := 0
	for _, w := range m.Workloads {
		if !w.NoSidecar {
			withSidecars++
		}
	}
	if len(byPod) != withSidecars {
		t.Fatalf("%d targets for %d workloads with sidecars", len(byPod), withSidecars)
	}
	at := func(w string) []sample { return byPod[m.Workload(ns(w), w).Pod()] }
	cases := []struct {
		name   string
		pod    string
		match  map[string]string
		metric string
		want   float64
	}{
		{"the gateway sends every request to productpage", "istio-ingressgateway", map[string]string{telemetry.Reporter: "source"}, telemetry.RequestsTotal, 570},
		{"productpage receives them all", "productpage-v1", map[string]string{telemetry.Reporter: "destination"}, telemetry.RequestsTotal, 570},
		{"reviews-v2 gets a third and fails them all", "reviews-v2", map[string]string{telemetry.Reporter: "destination", telemetry.ResponseCode: "500"}, telemetry.RequestsTotal, 190},
		{"ratings is called by reviews v2 and v3", "ratings-v1", map[string]string{telemetry.Reporter: "destination"}, telemetry.RequestsTotal, 380},
		{"mongodb gets a connection per ratings request", "mongodb-v1", map[string]string{telemetry.Reporter: "destination"}, telemetry.TCPConnectionsOpenedTotal, 380},
		{"the report job serves its share of the load", "reports-v1", map[string]string{telemetry.Reporter: "destination"}, telemetry.RequestsTotal, 30},
		// The archive has no sidecar: its reads are the caller's reports
		// alone, with no destination workload and no mTLS.
		{"the report job reads the archive once a report, as its own sidecar reports", "reports-v1",
			map[string]string{telemetry.Reporter: "source", telemetry.DestinationService: "archive.bookinfo.svc.cluster.local", telemetry.DestinationWorkload: "unknown"}, telemetry.RequestsTotal, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sum(at(tc.pod), tc.metric, tc.match); got < tc.want-1 || got > tc.want+1 {
				t.Errorf("%v, want %v", got, tc.want)
			}
		})
	}
}

func ns(workload string) string {
	switch workload {
	case "istio-ingressgateway":
		return "istio-system"
	case "reports-v1":
		return "batch"
	}
	return "bookinfo"
}
