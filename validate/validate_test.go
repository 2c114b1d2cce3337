package validate

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

func bookinfo(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// run validates bookinfo plus extra YAML documents.
func run(t *testing.T, extra string) []Finding {
	t.Helper()
	objects, errs := inventory.Parse("bookinfo.yaml", []byte(bookinfo(t)+"\n---\n"+extra))
	if len(errs) > 0 {
		t.Fatalf("fixture does not load: %v", errs)
	}
	return Run(inventory.NewSnapshot(objects), Options{})
}

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s %s/%s %s:%d %s (%s)", f.Code, f.Kind, f.Namespace, f.Name, f.Path, f.Line, f.Detail, f.Severity)
	}
	return b.String()
}

func TestBookinfoIsClean(t *testing.T) {
	if fs := run(t, ""); len(fs) > 0 {
		t.Errorf("bookinfo as shipped has findings:%s", describe(fs))
	}
}

// want is a finding expected on an object: code, object name, path.
type want struct{ code, name, path string }

func TestChecks(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		wants []want
	}{
		{"KIA1101 a route to a host that does not exist", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ghost, namespace: bookinfo}
spec:
  hosts: [ghost]
  http:
    - route:
        - destination: {host: ghost}`, []want{{"KIA1101", "ghost", "spec/http[0]/route[0]/destination/host"}}},
		{"no KIA1101 for a ServiceEntry host", `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: ext, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  tls:
    - match: [{sniHosts: [api.example.com], port: 443}]
      route:
        - destination: {host: api.example.com}`, nil},
		{"KIA1101 for a ServiceEntry host exported elsewhere only", `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: istio-system}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ext, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  tcp:
    - route:
        - destination: {host: api.example.com}`, []want{{"KIA1101", "ext", "spec/tcp[0]/route[0]/destination/host"}}},
		{"KIA1102 a gateway that does not exist", `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: gw, namespace: bookinfo}
spec:
  hosts: [details]
  gateways: [nowhere, istio-system/also-nowhere, mesh]
  http:
    - route:
        - destination: {host: details, subset: v1}`, []want{{"KIA1102", "gw", "spec/gateways[0]"}, {"KIA1102", "gw", "spec/gateways[1]"}}},
		{"KIA1108 and no KIA1102 for the old name.namespace form", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: old, namespace: default}
spec:
  hosts: [details.bookinfo.svc.cluster.local]
  gateways: [bookinfo-gateway.bookinfo]
  http:
    - route:
        - destination: {host: details.bookinfo.svc.cluster.local, subset: v1}`, []want{{"KIA1108", "old", "spec/gateways[0]"}}},
		{"KIA1104 one destination with a weight under 100", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: w, namespace: bookinfo}
spec:
  hosts: [w.example]
  http:
    - route:
        - destination: {host: details, subset: v1}
          weight: 40`, []want{{"KIA1104", "w", "spec/http[0]/route[0]/weight"}}},
		{"KIA1105 on every destination of a route that repeats a host and subset", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: twice, namespace: bookinfo}
spec:
  hosts: [twice.example]
  http:
    - route:
        - destination: {host: reviews, subset: v1}
          weight: 50
        - destination: {host: reviews, subset: v1}
          weight: 50`, []want{{"KIA1105", "twice", "spec/http[0]/route[0]/host"}, {"KIA1105", "twice", "spec/http[0]/route[1]/host"}}},
		{"KIA1105 for a host repeated without subsets", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: twice, namespace: bookinfo}
spec:
  hosts: [twice.example]
  tcp:
    - route:
        - destination: {host: details}
          weight: 50
        - destination: {host: details.bookinfo.svc.cluster.local}
          weight: 50`, []want{{"KIA1105", "twice", "spec/tcp[0]/route[0]/host"}, {"KIA1105", "twice", "spec/tcp[0]/route[1]/host"}}},
		{"KIA0601 a ServiceEntry port named for another protocol", `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 80, name: web, protocol: HTTP}, {number: 5432, name: db, protocol: TCP}, {number: 8080, name: http-, protocol: HTTP}]`,
			[]want{{"KIA0601", "ext", "spec/ports[1]/name"}, {"KIA0601", "ext", "spec/ports[3]/name"}}},
		{"no KIA0202 for wildcard DestinationRule hosts, even with no service under them", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mesh-wide, namespace: istio-system}
spec: {host: "*.local", trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: empty-ns, namespace: bookinfo}
spec: {host: "*.empty.svc.cluster.local"}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: external, namespace: bookinfo}
spec: {host: "*.example.org"}`, nil},
		{"KIA1106 two VirtualServices for one host", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details-too, namespace: bookinfo}
spec:
  hosts: [details.bookinfo.svc.cluster.local]
  http:
    - route:
        - destination: {host: details, subset: v1}`, []want{{"KIA1106", "details", "spec/hosts"}, {"KIA1106", "details-too", "spec/hosts"}}},
		{"KIA1107 a subset no DestinationRule defines", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v4, namespace: bookinfo}
spec:
  hosts: [v4.example]
  http:
    - route:
        - destination: {host: reviews, subset: v4}`, []want{{"KIA1107", "v4", "spec/http[0]/route[0]/destination/subset"}}},
		{"KIA1107 a subset whose only rule is not exported to the VirtualService's namespace", `
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: private-details, namespace: bookinfo}
spec:
  host: details
  exportTo: ["."]
  subsets: [{name: canary, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: from-afar, namespace: other}
spec:
  hosts: [afar.example]
  http:
    - route:
        - destination: {host: details.bookinfo.svc.cluster.local, subset: canary}`, []want{{"KIA1107", "from-afar", "spec/http[0]/route[0]/destination/subset"}}},
		{"KIA0202 alone for a rule for a missing host: its subsets are not checked", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: nohost, namespace: bookinfo}
spec:
  host: nothere
  subsets:
    - name: v1`, []want{{"KIA0202", "nohost", "spec/host"}}},
		{"KIA0203 subset labels that select no pod", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details-v9, namespace: bookinfo}
spec:
  host: details
  subsets:
    - name: v9
      labels: {version: v9}`, []want{{"KIA0203", "details-v9", "spec/subsets[0]"}}},
		{"KIA0201 two rules for the same host and subset", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings-again, namespace: bookinfo}
spec:
  host: ratings.bookinfo.svc.cluster.local
  subsets:
    - name: v1
      labels: {version: v1}`, []want{{"KIA0201", "ratings", "spec/host"}, {"KIA0201", "ratings-again", "spec/host"}}},
		{"KIA0301 and KIA0302 a second gateway on the same host and port, and one selecting nothing", `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: second, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers:
    - port: {number: 8080, name: http, protocol: HTTP}
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: lonely, namespace: bookinfo}
spec:
  selector: {istio: egressgateway}
  servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: [lonely.example.com]`, []want{{"KIA0301", "bookinfo-gateway", "spec/servers[0]/hosts[0]"}, {"KIA0301", "second", "spec/servers[0]/hosts[0]"}, {"KIA0302", "lonely", "spec/selector"}}},
		{"KIA0601 KIA0602 KIA0701 bad port names, appProtocol and a port nobody exposes", `
apiVersion: v1
kind: Service
metadata: {name: ports, namespace: bookinfo}
spec:
  selector: {app: details}
  ports:
    - {name: web, port: 8000, targetPort: 9080}
    - {name: http-metrics, port: 9100}
    - {name: x, port: 9080, appProtocol: carrier-pigeon}`, []want{{"KIA0601", "ports", "spec/ports[0]/name"}, {"KIA0701", "ports", "spec/ports[1]"}, {"KIA0602", "ports", "spec/ports[2]/appProtocol"}}},
		{"KIA1004 and KIA1006 a global sidecar with a selector, egress to a missing host", `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  workloadSelector:
    labels: {istio: ingressgateway}
  egress:
    - hosts: ["./*", "bookinfo/nothere.bookinfo.svc.cluster.local", "istio-system/*"]`, []want{{"KIA1006", "default", "spec/workloadSelector"}, {"KIA1004", "default", "spec/egress[0]/hosts[1]"}}},
		{"KIA0101 KIA0102 KIA0104 KIA0106 an authorization policy naming what does not exist", `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: bookinfo}
spec:
  selector:
    matchLabels: {app: details}
  rules:
    - from:
        - source:
            namespaces: [bookinfo, nowhere]
            principals: [cluster.local/ns/bookinfo/sa/bookinfo-productpage, cluster.local/ns/bookinfo/sa/ghost]
      to:
        - operation:
            methods: [GET, FETCH, /bookinfo.Details/Get]
            hosts: [details, nothere.example.com]`, []want{{"KIA0101", "ap", "spec/rules[0]/from[0]/source/namespaces[1]"}, {"KIA0106", "ap", "spec/rules[0]/from[0]/source/principals[1]"}, {"KIA0102", "ap", "spec/rules[0]/to[0]/operation/methods[1]"}, {"KIA0104", "ap", "spec/rules[0]/to[0]/operation/hosts[1]"}}},
		{"KIA0002 KIA0003 KIA0004 selectors that clash or match nothing", `
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: another-default, namespace: bookinfo}
spec:
  mtls: {mode: PERMISSIVE}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s1, namespace: bookinfo}
spec:
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s2, namespace: bookinfo}
spec:
  workloadSelector: {labels: {app: reviews, version: v2}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: nothing}}`, []want{{"KIA0002", "another-default", "spec"}, {"KIA0002", "default", "spec"}, {"KIA0003", "s1", "spec/workloadSelector"}, {"KIA0003", "s2", "spec/workloadSelector"}, {"KIA0004", "jwt", "spec/selector"}}},
		{"KIA0005 export to a namespace that does not exist", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: exported, namespace: bookinfo}
spec:
  host: details.bookinfo.svc.cluster.local
  exportTo: [".", nowhere]`, []want{{"KIA0201", "details", "spec/host"}, {"KIA0201", "exported", "spec/host"}, {"KIA0005", "exported", "spec/exportTo[1]"}}},
		{"KIA1211 and KIA1212 service entries sharing a host and port", `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: bookinfo}
spec:
  hosts: [db.example.com, api.example.com]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: bookinfo}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: c, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  ports: [{number: 5432, name: http, protocol: HTTP}]`, []want{{"KIA1212", "a", "spec/ports[0]"}, {"KIA1211", "a", "spec/ports[0]"}, {"KIA1211", "b", "spec/ports[0]"}, {"KIA1212", "c", "spec/ports[0]"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertFindings(t, run(t, tc.yaml), tc.wants)
		})
	}
}

// assertFindings checks that got holds exactly the wanted findings, each
// with a file and line.
func assertFindings(t *testing.T, got []Finding, wants []want) {
	t.Helper()
	matched := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, f := range got {
			if !matched[i] && f.Code == w.code && f.Name == w.name && f.Path == w.path {
				matched[i], found = true, true
				if f.Line == 0 || f.File == "" {
					t.Errorf("%s on %s has no file:line", f.Code, f.Name)
				}
				break
			}
		}
		if !found {
			t.Errorf("missing %s on %s at %s; got:%s", w.code, w.name, w.path, describe(got))
		}
	}
	for i, f := range got {
		if !matched[i] {
			t.Errorf("unexpected finding:%s", describe([]Finding{f}))
		}
	}
}
