package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

// manyObjects is n namespaces of bookinfo-like configuration: per namespace
// 10 apps, each a Deployment, a Service, a VirtualService and a
// DestinationRule, plus a Gateway, a PeerAuthentication, a Sidecar, an
// AuthorizationPolicy, a ServiceEntry, a ServiceAccount and the Namespace:
// 47 objects a namespace.
func manyObjects(namespaces int) []byte {
	var b strings.Builder
	doc := func(format string, args ...any) { fmt.Fprintf(&b, "---\n"+format+"\n", args...) }
	for n := range namespaces {
		ns := fmt.Sprintf("ns-%03d", n)
		doc("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}", ns)
		doc("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: %s}", ns)
		doc("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: %s}\nspec:\n  selector: {app: app-0}\n  servers:\n    - port: {number: 80, name: http, protocol: HTTP}\n      hosts: [%s.example.com]", ns, ns)
		doc("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: %s}\nspec:\n  mtls: {mode: STRICT}", ns)
		doc("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: %s}\nspec:\n  egress:\n    - hosts: [\"./*\", \"istio-system/*\"]", ns)
		doc("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow, namespace: %s}\nspec:\n  selector: {matchLabels: {app: app-1}}\n  rules:\n    - from: [{source: {namespaces: [%s]}}]\n      to: [{operation: {methods: [GET]}}]", ns, ns)
		doc("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: %s}\nspec:\n  hosts: [api.%s.example.com]\n  ports: [{number: 443, name: https, protocol: HTTPS}]", ns, ns)
		for a := range 10 {
			app := fmt.Sprintf("app-%d", a)
			doc("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s-v1, namespace: %s}\nspec:\n  template:\n    metadata:\n      labels: {app: %s, version: v1}\n    spec:\n      serviceAccountName: app\n      containers: [{name: c, ports: [{containerPort: 8080}]}]", app, ns, app)
			doc("apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\nspec:\n  selector: {app: %s}\n  ports: [{name: http, port: 8080}]", app, ns, app)
			doc("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: %s, namespace: %s}\nspec:\n  host: %s\n  subsets: [{name: v1, labels: {version: v1}}]", app, ns, app)
			doc("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: %s, namespace: %s}\nspec:\n  hosts: [%s]\n  http:\n    - route:\n        - destination: {host: %s, subset: v1}\n        - destination: {host: app-%d.%s.svc.cluster.local, subset: v1}", app, ns, app, app, (a+1)%10, ns)
		}
	}
	return []byte(b.String())
}

func TestManyObjectsAreClean(t *testing.T) {
	objects, errs := inventory.Parse("many.yaml", manyObjects(3))
	if len(errs) > 0 || len(objects) != 3*47 {
		t.Fatalf("%d objects, errors %v", len(objects), errs)
	}
	if fs := Run(inventory.NewSnapshot(objects), Options{}); len(fs) > 0 {
		t.Errorf("findings:%s", describe(fs))
	}
}

// BenchmarkValidate5000 checks about 5,000 objects in 100 namespaces
// (already loaded); BenchmarkLoadAndValidate5000 includes reading the YAML.
func BenchmarkValidate5000(b *testing.B) {
	objects, _ := inventory.Parse("many.yaml", manyObjects(107))
	snap := inventory.NewSnapshot(objects)
	b.ReportMetric(float64(len(objects)), "objects")
	for b.Loop() {
		Run(snap, Options{})
	}
}

func BenchmarkLoadAndValidate5000(b *testing.B) {
	y := manyObjects(107)
	b.SetBytes(int64(len(y)))
	for b.Loop() {
		objects, _ := inventory.Parse("many.yaml", y)
		Run(inventory.NewSnapshot(objects), Options{})
	}
}
