package validate

import (
	"maps"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlens/meshlens/inventory"
)

// workloadGroups checks that a WorkloadGroup's service account exists in
// its namespace (KIA1701) and that no two WorkloadGroups of a namespace
// give their workloads the same labels (KIA1702).
func (v *validation) workloadGroups() {
	accounts := map[string]bool{}
	for _, o := range v.snap.Of("ServiceAccount") {
		accounts[o.Namespace+"/"+o.Name] = true
	}
	for _, w := range v.snap.Workloads {
		accounts[w.Namespace+"/"+w.ServiceAccount] = true
	}
	sameLabels := map[string][]*inventory.Object{} // namespace|labels -> groups
	var keys []string
	for _, o := range v.snap.Of("WorkloadGroup") {
		wg := &o.Typed.(*networkingv1.WorkloadGroup).Spec
		if sa := wg.GetTemplate().GetServiceAccount(); sa != "" && !accounts[o.Namespace+"/"+sa] {
			v.add(KIA1701, o, "spec/template/serviceAccount", "service account %s/%s not found", o.Namespace, sa)
		}
		if wg.Metadata == nil {
			continue
		}
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(wg.Metadata.Labels)) {
			b.WriteString(k + "=" + wg.Metadata.Labels[k] + ",")
		}
		key := o.Namespace + "|" + b.String()
		if sameLabels[key] == nil {
			keys = append(keys, key)
		}
		sameLabels[key] = append(sameLabels[key], o)
	}
	for _, key := range keys {
		if groups := sameLabels[key]; len(groups) > 1 {
			for _, o := range groups {
				v.add(KIA1702, o, "spec/metadata/labels", "%s gives its workloads the same labels", others(groups, o))
			}
		}
	}
}
