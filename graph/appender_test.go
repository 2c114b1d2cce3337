package graph

import (
	"math"
	"testing"

	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/telemetry"
)

// fineRow is a destination-reported row from app a's v1 to one version of
// app b through service b.
func fineRow(version string, value float64) row {
	return row{
		reporter: telemetry.ReporterDestination,
		src:      endpoint{cluster: "c", namespace: "ns", workload: "a-v1", app: "a", version: "v1"},
		dst:      endpoint{cluster: "c", namespace: "ns", workload: "b-" + version, app: "b", version: version},
		service:  ServiceName{Cluster: "c", Namespace: "ns", Name: "b"}, host: "b.ns.svc.cluster.local",
		protocol: telemetry.ProtocolHTTP, code: "200", flags: "-", value: value,
	}
}

func buildFrom(typ Type, inject bool, requests []row) *builder {
	b := &builder{g: newGraph(typ), inject: inject}
	b.addRequests(requests)
	b.frozen = true
	b.g.sumNodes()
	return b
}

func TestAppenders(t *testing.T) {
	requests := []row{fineRow("v1", 3), fineRow("v2", 1)}
	t.Run("response time of an app edge is the quantiles weighted by request rate", func(t *testing.T) {
		b := buildFrom(TypeApp, false, requests)
		appendQuantile(b, []row{fineRow("v1", 10), fineRow("v2", 50)})
		e := b.g.Edges()
		if len(e) != 1 || !e[0].HasResponseTime || math.Abs(e[0].ResponseTime-20) > 1e-9 {
			t.Fatalf("edges %+v", e)
		}
	})
	t.Run("response time of each versioned edge is its own", func(t *testing.T) {
		b := buildFrom(TypeVersionedApp, false, requests)
		appendQuantile(b, []row{fineRow("v1", 10), fineRow("v2", 50)})
		got := map[string]float64{}
		for _, e := range b.g.Edges() {
			got[e.Dest.Label()] = e.ResponseTime
		}
		if got["b v1"] != 10 || got["b v2"] != 50 {
			t.Errorf("%v", got)
		}
	})
	t.Run("a quantile for an edge without traffic adds nothing", func(t *testing.T) {
		b := buildFrom(TypeWorkload, false, requests)
		appendQuantile(b, []row{fineRow("v3", 99)})
		for _, e := range b.g.Edges() {
			if e.HasResponseTime {
				t.Errorf("%s got a response time", e.Dest.Label())
			}
		}
		if len(b.g.Nodes()) != 3 {
			t.Errorf("%d nodes: an appender created one", len(b.g.Nodes()))
		}
	})
	t.Run("mTLS share counts only mutual_tls traffic", func(t *testing.T) {
		b := buildFrom(TypeApp, false, requests)
		secure, plain := fineRow("v1", 3), fineRow("v2", 1)
		secure.policy, plain.policy = telemetry.SecurityMutualTLS, telemetry.SecurityNone
		secure.srcPrincipal, secure.dstPrincipal = "spiffe://cluster.local/ns/ns/sa/a", "spiffe://cluster.local/ns/ns/sa/b"
		appendSecurity(b, []row{secure, plain}, nil)
		e := b.g.Edges()[0]
		if e.MTLS != 75 || e.SourcePrincipal != "spiffe://cluster.local/ns/ns/sa/a" {
			t.Errorf("mTLS %v, principals %q %q", e.MTLS, e.SourcePrincipal, e.DestPrincipal)
		}
	})
	t.Run("throughput adds the byte rates of the parts", func(t *testing.T) {
		b := buildFrom(TypeApp, true, requests)
		appendThroughput(b, []row{fineRow("v1", 100), fineRow("v2", 50)})
		for _, e := range b.g.Edges() {
			want := 150.0
			if e.Source.Kind == KindService {
				want = 150 // the service edge to app b carries both versions
			}
			if e.Throughput != want {
				t.Errorf("%s -> %s: %v", e.Source.Label(), e.Dest.Label(), e.Throughput)
			}
		}
	})
	t.Run("external hosts become service entries, PassthroughCluster does not", func(t *testing.T) {
		ext, pass := fineRow("v1", 1), fineRow("v1", 1)
		ext.dst.workload, ext.service, ext.host = telemetry.Unknown, ServiceName{Cluster: "c", Namespace: "ns", Name: "api.example.com"}, "api.example.com"
		pass.dst.workload, pass.service, pass.host = telemetry.Unknown, ServiceName{Cluster: "c", Namespace: "ns", Name: PassthroughCluster}, PassthroughCluster
		b := buildFrom(TypeWorkload, false, []row{ext, pass})
		appendServiceEntries(b.g, nil)
		for _, n := range b.g.Nodes() {
			switch n.Service {
			case "api.example.com":
				if n.IsServiceEntry == nil || n.IsServiceEntry.Location != "MESH_EXTERNAL" {
					t.Errorf("external host not a service entry")
				}
			case PassthroughCluster:
				if n.IsServiceEntry != nil {
					t.Errorf("PassthroughCluster marked a service entry")
				}
			}
		}
	})
	t.Run("roots and outside nodes are flagged", func(t *testing.T) {
		b := buildFrom(TypeWorkload, false, requests)
		markRootsAndOutside(b.g, []string{"other"})
		for _, n := range b.g.Nodes() {
			if n.IsRoot != (n.Workload == "a-v1") || !n.IsOutside {
				t.Errorf("%s: root %v outside %v", n.Label(), n.IsRoot, n.IsOutside)
			}
		}
	})
	t.Run("the unknown source is one node", func(t *testing.T) {
		r1, r2 := fineRow("v1", 1), fineRow("v2", 1)
		r1.src, r2.src = endpoint{workload: telemetry.Unknown}, endpoint{workload: telemetry.Unknown}
		b := buildFrom(TypeWorkload, false, []row{r1, r2})
		unknown := 0
		for _, n := range b.g.Nodes() {
			if n.Kind == KindUnknown {
				unknown++
			}
		}
		if unknown != 1 {
			t.Errorf("%d unknown nodes", unknown)
		}
	})
}

const idleInventory = `apiVersion: v1
kind: Namespace
metadata: {name: ns, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: a-v1, namespace: ns}
spec: {template: {metadata: {labels: {app: a, version: v1}}, spec: {containers: [{name: a}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b-v1, namespace: ns}
spec: {template: {metadata: {labels: {app: b, version: v1}}, spec: {containers: [{name: b}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: c-v1, namespace: ns}
spec:
  template:
    metadata:
      labels: {app: c, version: v1}
      annotations: {sidecar.istio.io/inject: "false"}
    spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: ns}
spec: {selector: {app: c}, ports: [{name: http, port: 80}]}
`

func TestInventoryAppenders(t *testing.T) {
	objects, errs := inventory.Parse("inv.yaml", []byte(idleInventory))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	inv := inventory.NewSnapshot(objects)
	requests := []row{fineRow("v1", 1)}
	for _, r := range []*row{&requests[0]} {
		r.src.cluster, r.dst.cluster, r.service.Cluster = telemetry.DefaultCluster, telemetry.DefaultCluster, telemetry.DefaultCluster
	}
	t.Run("idle nodes are what runs without traffic", func(t *testing.T) {
		b := buildFrom(TypeVersionedApp, true, requests)
		appendIdleNodes(b, inv, []string{"ns"})
		idle := map[string]bool{}
		for _, n := range b.g.Nodes() {
			if n.IsIdle {
				idle[n.Label()] = true
			}
		}
		if len(idle) != 2 || !idle["c v1"] || !idle["c"] {
			t.Errorf("idle nodes %v, want the c service and c v1", idle)
		}
	})
	t.Run("a workload without a sidecar is flagged", func(t *testing.T) {
		b := buildFrom(TypeWorkload, false, requests)
		appendIdleNodes(b, inv, []string{"ns"})
		appendSidecarsCheck(b.g, inv)
		for _, n := range b.g.Nodes() {
			if n.HasMissingSidecar != (n.Workload == "c-v1") {
				t.Errorf("%s: missing sidecar %v", n.Label(), n.HasMissingSidecar)
			}
		}
	})
}

func TestServiceEntriesFoldFromInventory(t *testing.T) {
	objects, errs := inventory.Parse("se.yaml", []byte(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments-apis, namespace: ns}
spec:
  hosts: [api-1.pay.example, "*.cards.example"]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	external := func(host string, value float64) row {
		r := fineRow("v1", value)
		r.dst.workload, r.service, r.host = telemetry.Unknown, ServiceName{Cluster: "c", Namespace: "ns", Name: host}, host
		return r
	}
	b := buildFrom(TypeWorkload, false, []row{external("api-1.pay.example", 2), external("eu.cards.example", 3), external("other.example.org", 1)})
	appendServiceEntries(b.g, inventory.NewSnapshot(objects))
	var entries []*Node
	for _, n := range b.g.Nodes() {
		if n.IsServiceEntry != nil {
			entries = append(entries, n)
		}
	}
	if len(entries) != 2 {
		t.Fatalf("%d service entry nodes, want the folded payments-apis and other.example.org", len(entries))
	}
	for _, n := range entries {
		switch n.Service {
		case "payments-apis":
			if len(n.IsServiceEntry.Hosts) != 2 || n.In.HTTP != 5 {
				t.Errorf("payments-apis: hosts %v, %v requests/s in, want 2 hosts and 5", n.IsServiceEntry.Hosts, n.In.HTTP)
			}
		case "other.example.org":
		default:
			t.Errorf("unexpected entry node %s", n.Service)
		}
	}
	if len(b.g.Edges()) != 2 {
		t.Errorf("%d edges, want 2 (the two hosts of payments-apis merged)", len(b.g.Edges()))
	}
}
