package validate

import (
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

// TestKialiSeverities checks the severities Kiali gives by context, so that
// --fail-on gates what a Kiali user expects.
func TestKialiSeverities(t *testing.T) {
	cases := []struct {
		name, yaml, code, object string
		severity                 Severity
	}{
		{"KIA0203 on a subset a route uses is an error", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details-v9, namespace: bookinfo}
spec:
  host: details
  subsets: [{name: v9, labels: {version: v9}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: canary, namespace: bookinfo}
spec:
  hosts: [canary.example]
  http: [{route: [{destination: {host: details, subset: v9}}]}]`, "KIA0203", "details-v9", Error},
		{"KIA0203 on a subset no route uses is unknown", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details-v9, namespace: bookinfo}
spec:
  host: details
  subsets: [{name: v9, labels: {version: v9}}]`, "KIA0203", "details-v9", Unknown},
		{"KIA0209 beside a subset that selects workloads is unknown", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details-all, namespace: other}
spec:
  host: details.bookinfo.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: all}]`, "KIA0209", "details-all", Unknown},
		{"KIA0209 where no subset selects workloads is a warning", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details-all, namespace: other}
spec:
  host: details.bookinfo.svc.cluster.local
  subsets: [{name: all}]`, "KIA0209", "details-all", Warning},
		{"KIA1212 is a warning", `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: bookinfo}
spec: {hosts: [db.example.com], ports: [{number: 5432, name: tcp, protocol: TCP}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: bookinfo}
spec: {hosts: [db.example.com], ports: [{number: 5432, name: http, protocol: HTTP}]}`, "KIA1212", "b", Warning},
		{"KIA1108 is unknown", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: old, namespace: bookinfo}
spec:
  hosts: [old.example]
  gateways: [bookinfo-gateway.bookinfo]
  http: [{route: [{destination: {host: details, subset: v1}}]}]`, "KIA1108", "old", Unknown},
	}
	cases = append(cases, struct {
		name, yaml, code, object string
		severity                 Severity
	}{"KIA0202 is an error", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ext, namespace: bookinfo}\nspec: {host: api.example.com}", "KIA0202", "ext", Error})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			found := false
			for _, f := range run(t, tc.yaml) {
				if f.Code == tc.code && f.Name == tc.object {
					found = true
					if f.Severity != tc.severity {
						t.Errorf("%s on %s is %s, want %s", f.Code, f.Name, f.Severity, tc.severity)
					}
				}
			}
			if !found {
				t.Errorf("no %s on %s", tc.code, tc.object)
			}
		})
	}
}

func TestKIA0202IsAWarningWhenTheMeshAllowsAnyOutbound(t *testing.T) {
	objects, errs := inventory.Parse("dr.yaml", []byte("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ext, namespace: shop}\nspec: {host: api.example.com}\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	fs := Run(inventory.NewSnapshot(objects), Options{OutboundAllowAny: true})
	if len(fs) != 1 || fs[0].Code != "KIA0202" || fs[0].Severity != Warning {
		t.Errorf("findings:%s", describe(fs))
	}
}
