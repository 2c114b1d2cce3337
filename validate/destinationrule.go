package validate

import (
	"fmt"
	"strings"

	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlens/meshlens/inventory"
)

func (v *validation) destinationRules() {
	// host -> the rules for it and their subsets (KIA0201)
	byHost := map[string][]*inventory.Object{}
	subsetsOf := map[*inventory.Object]map[string]bool{}
	// Which subsets routes use matters only for a subset that selects
	// nothing, which is rare: the index is built on first need.
	var referencedIndex map[string]bool
	referenced := func(key string) bool {
		if referencedIndex == nil {
			referencedIndex = v.referencedSubsets()
		}
		return referencedIndex[key]
	}
	for _, o := range v.snap.Of("DestinationRule") {
		dr := &o.Typed.(*networkingv1.DestinationRule).Spec
		if dr.Host == "" {
			continue
		}
		fqdn := v.registry.fqdn(dr.Host, o.Namespace)
		// A wildcard host is never missing: it covers whatever matches it.
		wildcard := strings.HasPrefix(dr.Host, "*")
		// Rules in different namespaces coexist: a client's own namespace wins.
		byHost[o.Namespace+"|"+fqdn] = append(byHost[o.Namespace+"|"+fqdn], o)
		subsetsOf[o] = map[string]bool{}
		for _, s := range dr.Subsets {
			if s != nil {
				subsetsOf[o][s.Name] = true
			}
		}
		if !wildcard && !v.registry.exists(dr.Host, o.Namespace) {
			sev := KIA0202.Severity
			if v.opts.OutboundAllowAny {
				sev = Warning
			}
			v.addAs(sev, KIA0202, o, "spec/host", "host %q not found", dr.Host)
			continue
		}
		v.subsetLabels(o, dr, fqdn, wildcard, referenced)
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

// subsetLabels checks that each subset's labels select a workload behind
// the host (KIA0203) and that each subset has labels (KIA0209). Kiali
// lowers KIA0203 to unknown for a subset no route uses, and KIA0209 to
// unknown when another subset of the rule selects workloads.
func (v *validation) subsetLabels(o *inventory.Object, dr *apinetworking.DestinationRule, fqdn string, wildcard bool, referenced func(string) bool) {
	svc := v.registry.service(fqdn)
	var backends []*inventory.Workload
	if svc != nil {
		backends = v.snap.ServiceWorkloads(svc)
	}
	matched := false
	var unlabelled []int
	for i, s := range dr.Subsets {
		if s == nil {
			continue
		}
		if len(s.Labels) == 0 {
			unlabelled = append(unlabelled, i)
			continue
		}
		sel := labels.SelectorFromSet(s.Labels)
		if wildcard || v.selectsBackend(sel, svc, backends) {
			matched = true
			continue
		}
		path := fmt.Sprintf("spec/subsets[%d]", i)
		if referenced(fqdn + "|" + s.Name) {
			v.add(KIA0203, o, path, "no workload behind %s has labels %s (subset %q)", dr.Host, sel, s.Name)
		} else {
			v.addAs(Unknown, KIA0203, o, path, "no workload behind %s has labels %s (subset %q, which no route uses)", dr.Host, sel, s.Name)
		}
	}
	for _, i := range unlabelled {
		sev := KIA0209.Severity
		if matched {
			sev = Unknown
		}
		v.addAs(sev, KIA0209, o, fmt.Sprintf("spec/subsets[%d]", i), "subset %q has no labels", dr.Subsets[i].Name)
	}
}

// selectsBackend tells whether sel selects a workload behind a Kubernetes
// service or, for other hosts, an endpoint of a ServiceEntry.
func (v *validation) selectsBackend(sel labels.Selector, svc *inventory.Service, backends []*inventory.Workload) bool {
	if svc != nil {
		for _, w := range backends {
			if sel.Matches(labels.Set(w.Labels)) {
				return true
			}
		}
		return false
	}
	for _, se := range v.snap.Of("ServiceEntry") {
		for _, ep := range se.Typed.(*networkingv1.ServiceEntry).Spec.Endpoints {
			if ep != nil && sel.Matches(labels.Set(ep.Labels)) {
				return true
			}
		}
	}
	return false
}

// referencedSubsets lists the host|subset pairs that some route of some
// VirtualService sends traffic to, hosts as FQDNs.
func (v *validation) referencedSubsets() map[string]bool {
	out := map[string]bool{}
	for _, o := range v.snap.Of("VirtualService") {
		for _, list := range routeDests(&o.Typed.(*networkingv1.VirtualService).Spec) {
			for _, rd := range list {
				if rd.dest.Subset != "" {
					out[v.registry.fqdn(rd.dest.Host, o.Namespace)+"|"+rd.dest.Subset] = true
				}
			}
		}
	}
	return out
}
