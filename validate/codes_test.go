package validate

import (
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

// TestPrincipalsWorkloadGroupsSidecarsAndCoverage covers the codes Kiali
// added beside the classic ones: principals of foreign trust domains
// (KIA0108) and of other clusters (KIA0107), the ambiguous outbound policy
// of a Sidecar (KIA1007), workloads no policy covers (KIA1301, when asked)
// and WorkloadGroups (KIA1701, KIA1702). Each case is bookinfo plus the
// objects shown.
func TestPrincipalsWorkloadGroupsSidecarsAndCoverage(t *testing.T) {
	principals := func(ps string) string {
		return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: bookinfo}\nspec:\n  selector: {matchLabels: {app: reviews}}\n  rules: [{from: [{source: {principals: " + ps + "}}]}]\n"
	}
	const path = "spec/rules[0]/from[0]/source/principals"
	cases := []struct {
		name  string
		yaml  string
		opts  Options
		wants []want
	}{
		{"a principal of this cluster's trust domain and service accounts is clean",
			principals(`["cluster.local/ns/bookinfo/sa/bookinfo-productpage", "*", "cluster.local/ns/bookinfo/sa/bookinfo-*", "*/ns/bookinfo/sa/bookinfo-details"]`), Options{}, nil},
		{"KIA0106 a missing service account, and a principal without a trust domain",
			principals(`["cluster.local/ns/bookinfo/sa/nobody", "nobody", "*/ns/bookinfo/sa/nobody"]`), Options{},
			[]want{{"KIA0106", "ap", path + "[0]"}, {"KIA0106", "ap", path + "[1]"}, {"KIA0106", "ap", path + "[2]"}}},
		{"KIA0108 a principal of a foreign trust domain",
			principals(`["other.example.com/ns/bookinfo/sa/bookinfo-productpage"]`), Options{}, []want{{"KIA0108", "ap", path + "[0]"}}},
		{"a trust domain alias is the mesh's own",
			principals(`["east.example.com/ns/bookinfo/sa/bookinfo-productpage"]`), Options{TrustDomains: []string{"cluster.local", "east.example.com"}}, nil},
		{"KIA0106 for a missing account of a known alias",
			principals(`["east.example.com/ns/bookinfo/sa/nobody"]`), Options{TrustDomains: []string{"cluster.local", "east.example.com"}}, []want{{"KIA0106", "ap", path + "[0]"}}},
		{"KIA0107 a principal of another cluster of the mesh",
			principals(`["cluster.local/ns/bookinfo/sa/west-only"]`), Options{RemotePrincipals: []string{"cluster.local/ns/bookinfo/sa/west-only"}}, []want{{"KIA0107", "ap", path + "[0]"}}},
		{"KIA1007 a Sidecar's outbound policy without a mode", `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: egress, namespace: bookinfo}
spec:
  workloadSelector: {labels: {app: reviews}}
  outboundTrafficPolicy: {}`, Options{}, []want{{"KIA1007", "egress", "spec/outboundTrafficPolicy"}}},
		{"KIA1007 also for REGISTRY_ONLY written out, which Istio cannot tell from unset", `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: egress, namespace: bookinfo}
spec:
  workloadSelector: {labels: {app: reviews}}
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}`, Options{}, []want{{"KIA1007", "egress", "spec/outboundTrafficPolicy"}}},
		{"no KIA1007 for ALLOW_ANY", `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: egress, namespace: bookinfo}
spec:
  workloadSelector: {labels: {app: reviews}}
  outboundTrafficPolicy: {mode: ALLOW_ANY}`, Options{}, nil},
		{"no KIA1301 unless asked", "", Options{}, nil},
		{"KIA1301 on each workload no policy covers, when asked", `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-only, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: reviews}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: all, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}`, Options{UncoveredWorkloads: true}, []want{
			{"KIA1301", "productpage-v1", "workload"}, {"KIA1301", "details-v1", "workload"}, {"KIA1301", "ratings-v1", "workload"}, {"KIA1301", "mongodb-v1", "workload"},
			{"KIA1301", "archive-v1", "workload"}, {"KIA1301", "reports-v1", "workload"}}},
		{"no KIA1301 under a policy of the root namespace without a selector", `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh, namespace: istio-system}
spec: {}`, Options{UncoveredWorkloads: true}, nil},
		{"KIA1701 and KIA1702 WorkloadGroups with a missing account and the same labels", `
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vm1, namespace: bookinfo}
spec:
  metadata: {labels: {app: ratings-vm, version: v1}}
  template: {serviceAccount: bookinfo-ratings}
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vm2, namespace: bookinfo}
spec:
  metadata: {labels: {version: v1, app: ratings-vm}}
  template: {serviceAccount: nobody}
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vm3, namespace: bookinfo}
spec:
  metadata: {labels: {app: ratings-vm, version: v2}}
  template: {serviceAccount: bookinfo-ratings}`, Options{}, []want{
			{"KIA1701", "vm2", "spec/template/serviceAccount"}, {"KIA1702", "vm1", "spec/metadata/labels"}, {"KIA1702", "vm2", "spec/metadata/labels"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objects, errs := inventory.Parse("bookinfo.yaml", []byte(bookinfo(t)+"\n---\n"+tc.yaml))
			if len(errs) > 0 {
				t.Fatalf("fixture does not load: %v", errs)
			}
			assertFindings(t, Run(inventory.NewSnapshot(objects), tc.opts), tc.wants)
		})
	}
}
