package validate

import (
	"fmt"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlens/meshlens/inventory"
)

func (v *validation) destinationRules() {
	// host -> the rules for it and their subsets (KIA0201)
	byHost := map[string][]*inventory.Object{}
	subsetsOf := map[*inventory.Object]map[string]bool{}
	for _, o := range v.snap.Of("DestinationRule") {
		dr := &o.Typed.(*networkingv1.DestinationRule).Spec
		if dr.Host == "" {
			continue
		}
		fqdn := v.registry.fqdn(dr.Host, o.Namespace)
		if !v.registry.exists(dr.Host, o.Namespace) {
			v.add(KIA0202, o, "spec/host", "host %q not found", dr.Host)
		}
		svc := v.registry.service(fqdn)
		var backends []*inventory.Workload
		if svc != nil {
			backends = v.snap.ServiceWorkloads(svc)
		}
		// Rules in different namespaces coexist: a client's own namespace wins.
		byHost[o.Namespace+"|"+fqdn] = append(byHost[o.Namespace+"|"+fqdn], o)
		subsetsOf[o] = map[string]bool{}
		for i, s := range dr.Subsets {
			if s == nil {
				continue
			}
			path := fmt.Sprintf("spec/subsets[%d]", i)
			subsetsOf[o][s.Name] = true
			if len(s.Labels) == 0 {
				v.add(KIA0209, o, path, "subset %q has no labels", s.Name)
				continue
			}
			if svc == nil {
				continue // not a Kubernetes service: no pods to look at
			}
			sel := labels.SelectorFromSet(s.Labels)
			found := false
			for _, w := range backends {
				found = found || sel.Matches(labels.Set(w.Labels))
			}
			if !found {
				v.add(KIA0203, o, path+"/labels", "no workload of service %s has labels %s (subset %q)", svc.Name, sel, s.Name)
			}
		}
	}
	// Two rules for one host clash when one covers the whole host (no
	// subsets) or both define a subset of the same name.
	for host, objs := range byHost {
		for _, o := range objs {
			var clashes []*inventory.Object
			for _, other := range objs {
				if other != o && overlap(subsetsOf[o], subsetsOf[other]) {
					clashes = append(clashes, other)
				}
			}
			if len(clashes) > 0 {
				v.add(KIA0201, o, "spec/host", "%s is also configured by %s", host[strings.IndexByte(host, '|')+1:], others(append(clashes, o), o))
			}
		}
	}
}

func overlap(a, b map[string]bool) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for k := range a {
		if b[k] {
			return true
		}
	}
	return false
}
