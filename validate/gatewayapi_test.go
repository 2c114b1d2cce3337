package validate

import (
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

// Gateway API objects beside bookinfo: a shared gateway in istio-system
// taking routes from namespaces labelled istio-injection=enabled (bookinfo
// is), and one in bookinfo taking routes from its own namespace only.
const gatewayAPIBase = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: istio-system}
spec:
  gatewayClassName: istio
  listeners:
    - name: http
      hostname: "bookinfo.example.com"
      port: 80
      protocol: HTTP
      allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {istio-injection: enabled}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: private, namespace: istio-system}
spec:
  gatewayClassName: istio
  listeners:
    - {name: http, hostname: "private.example.com", port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: productpage, namespace: bookinfo}
spec:
  parentRefs: [{name: shared, namespace: istio-system}]
  rules:
    - backendRefs: [{name: productpage, port: 9080}]
`

func TestGatewayAPI(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		opts  Options
		wants []want
	}{
		{"a route to a shared gateway and a service of its namespace is clean", "", Options{}, nil},
		{"KIA1504 a gateway class Istio does not serve", `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other, namespace: bookinfo}
spec:
  gatewayClassName: nginx
  listeners: [{name: http, port: 8080, protocol: HTTP}]`, Options{}, []want{{"KIA1504", "other", "spec/gatewayClassName"}}},
		{"no KIA1504 for a class the mesh is told it serves", `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other, namespace: bookinfo}
spec:
  gatewayClassName: nginx
  listeners: [{name: http, port: 8080, protocol: HTTP}]`, Options{GatewayClasses: []string{"istio", "nginx"}}, nil},
		{"KIA1501 two gateways serving one hostname, port and protocol", `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: again, namespace: bookinfo}
spec:
  gatewayClassName: istio
  listeners: [{name: web, hostname: "bookinfo.example.com", port: 80, protocol: HTTP}, {name: tls, hostname: "bookinfo.example.com", port: 443, protocol: HTTPS}]`, Options{},
			[]want{{"KIA1501", "again", "spec/listeners[0]/hostname"}, {"KIA1501", "shared", "spec/listeners[0]/hostname"}}},
		{"KIA1502 two gateways claiming one address", `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: a, namespace: bookinfo}
spec:
  gatewayClassName: istio
  addresses: [{type: IPAddress, value: 10.0.0.1}]
  listeners: [{name: web, port: 8081, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: b, namespace: bookinfo}
spec:
  gatewayClassName: istio
  addresses: [{type: IPAddress, value: 10.0.0.1}]
  listeners: [{name: web, port: 8082, protocol: HTTP}]`, Options{}, []want{{"KIA1502", "a", "spec/addresses/value"}, {"KIA1502", "b", "spec/addresses/value"}}},
		{"KIA1503 on both listeners of a gateway that are alike", `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: twice, namespace: bookinfo}
spec:
  gatewayClassName: istio
  listeners: [{name: one, hostname: "twice.example.com", port: 80, protocol: HTTP}, {name: two, hostname: "twice.example.com", port: 80, protocol: HTTP}]`, Options{},
			[]want{{"KIA1503", "twice", "spec/listeners[0]/name"}, {"KIA1503", "twice", "spec/listeners[1]/name"}}},
		{"KIA1401 a route to a missing gateway and to one that takes routes from its own namespace only", `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: lost, namespace: bookinfo}
spec:
  parentRefs: [{name: nowhere}, {name: private, namespace: istio-system}, {name: shared, namespace: istio-system}]
  rules: [{backendRefs: [{name: reviews, port: 9080}]}]`, Options{},
			[]want{{"KIA1401", "lost", "spec/parentRefs[0]/name/nowhere"}, {"KIA1401", "lost", "spec/parentRefs[1]/name/private"}}},
		{"KIA1402 a missing service, a host name as a backend, and another namespace's service without a grant", `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backends, namespace: bookinfo}
spec:
  parentRefs: [{name: shared, namespace: istio-system}]
  rules:
    - backendRefs: [{name: nothere, port: 80}, {name: reviews.bookinfo.svc.cluster.local, port: 9080}]
    - backendRefs: [{name: istio-ingressgateway, namespace: istio-system, port: 80}]`, Options{},
			[]want{{"KIA1402", "backends", "spec/rules[0]/backendRefs[0]/name"}, {"KIA1402", "backends", "spec/rules[0]/backendRefs[1]/name"}, {"KIA1402", "backends", "spec/rules[1]/backendRefs[0]/name"}}},
		{"no KIA1402 for another namespace's service a ReferenceGrant opens", `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: granted, namespace: bookinfo}
spec:
  parentRefs: [{name: shared, namespace: istio-system}]
  rules: [{backendRefs: [{name: istio-ingressgateway, namespace: istio-system, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-bookinfo, namespace: istio-system}
spec:
  from: [{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: bookinfo}]
  to: [{group: "", kind: Service}]`, Options{}, nil},
		{"KIA1402 when the grant is for another kind of route", `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: granted, namespace: bookinfo}
spec:
  parentRefs: [{name: shared, namespace: istio-system}]
  rules: [{backendRefs: [{name: istio-ingressgateway, namespace: istio-system, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-bookinfo, namespace: istio-system}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: bookinfo}]
  to: [{group: "", kind: Service}]`, Options{}, []want{{"KIA1402", "granted", "spec/rules[0]/backendRefs[0]/name"}}},
		{"KIA1601 a grant from a namespace that does not exist", `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-ghosts, namespace: istio-system}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ghosts}, {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: bookinfo}]
  to: [{group: "", kind: Service}]`, Options{}, []want{{"KIA1601", "from-ghosts", "spec/from[0]/namespace"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objects, errs := inventory.Parse("gateway-api.yaml", []byte(bookinfo(t)+"\n---\n"+gatewayAPIBase+"---\n"+tc.yaml))
			if len(errs) > 0 {
				t.Fatalf("fixture does not load: %v", errs)
			}
			assertFindings(t, Run(inventory.NewSnapshot(objects), tc.opts), tc.wants)
		})
	}
}

// An Istio Gateway and a Gateway API Gateway of one name are two objects.
func TestGatewayAPIGatewayIsNotIstiosGateway(t *testing.T) {
	objects, errs := inventory.Parse("gw.yaml", []byte(bookinfo(t)+"\n---\n"+`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  gatewayClassName: nginx
  listeners: [{name: http, port: 8080, protocol: HTTP}]`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	snap := inventory.NewSnapshot(objects)
	if len(snap.Of("Gateway")) != 1 || len(snap.Of(gatewayKind)) != 1 {
		t.Fatalf("%d Istio gateways, %d Gateway API gateways", len(snap.Of("Gateway")), len(snap.Of(gatewayKind)))
	}
	fs := Run(snap, Options{})
	assertFindings(t, fs, []want{{"KIA1504", "bookinfo-gateway", "spec/gatewayClassName"}})
	if fs[0].Group != inventory.GatewayAPIGroup {
		t.Errorf("finding's group %q", fs[0].Group)
	}
}
