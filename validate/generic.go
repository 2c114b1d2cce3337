package validate

import (
	"fmt"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlens/meshlens/inventory"
)

// selectorOf returns an object's workload selector and its path, for the
// kinds that select workloads.
func selectorOf(o *inventory.Object) (map[string]string, string, bool) {
	switch t := o.Typed.(type) {
	case *networkingv1.Sidecar:
		if t.Spec.WorkloadSelector != nil {
			return t.Spec.WorkloadSelector.Labels, "spec/workloadSelector", true
		}
		return nil, "", true
	case *securityv1.PeerAuthentication:
		if t.Spec.Selector != nil {
			return t.Spec.Selector.MatchLabels, "spec/selector", true
		}
		return nil, "", true
	case *securityv1.RequestAuthentication:
		if t.Spec.Selector != nil {
			return t.Spec.Selector.MatchLabels, "spec/selector", true
		}
		return nil, "", true
	case *securityv1.AuthorizationPolicy:
		if t.Spec.Selector != nil {
			return t.Spec.Selector.MatchLabels, "spec/selector", true
		}
		return nil, "", true
	}
	return nil, "", false
}

// selectors checks the workload selectors: KIA0004 (matches nothing),
// KIA0002 (several selector-less of a kind in a namespace), KIA0003
// (several of a kind select one workload). Authorization policies add up,
// so only the first check applies to them.
func (v *validation) selectors() {
	for _, kind := range []string{"Sidecar", "PeerAuthentication", "RequestAuthentication", "AuthorizationPolicy"} {
		selectorless := map[string][]*inventory.Object{}
		selecting := map[*inventory.Workload][]*inventory.Object{}
		paths := map[*inventory.Object]string{}
		for _, o := range v.snap.Of(kind) {
			sel, path, _ := selectorOf(o)
			if len(sel) == 0 {
				selectorless[o.Namespace] = append(selectorless[o.Namespace], o)
				continue
			}
			paths[o] = path
			matched := v.snap.WorkloadsIn(o.Namespace, sel)
			if len(matched) == 0 {
				v.add(KIA0004, o, path, "no workload in %s has labels %s", o.Namespace, labels.SelectorFromSet(sel))
			}
			for _, w := range matched {
				selecting[w] = append(selecting[w], o)
			}
		}
		if kind == "AuthorizationPolicy" {
			continue
		}
		for _, objs := range selectorless {
			if len(objs) < 2 {
				continue
			}
			for _, o := range objs {
				v.add(KIA0002, o, "spec", "%s also applies to all of %s", others(objs, o), o.Namespace)
			}
		}
		flagged := map[*inventory.Object]bool{}
		for w, objs := range selecting {
			if len(objs) < 2 {
				continue
			}
			for _, o := range objs {
				if !flagged[o] {
					flagged[o] = true
					v.add(KIA0003, o, paths[o], "workload %s is also selected by %s", w.Name, others(objs, o))
				}
			}
		}
	}
}

// exportTo checks that exported-to namespaces exist (KIA0005).
func (v *validation) exportTo() {
	for _, kind := range []string{"VirtualService", "DestinationRule", "ServiceEntry"} {
		for _, o := range v.snap.Of(kind) {
			var export []string
			switch t := o.Typed.(type) {
			case *networkingv1.VirtualService:
				export = t.Spec.ExportTo
			case *networkingv1.DestinationRule:
				export = t.Spec.ExportTo
			case *networkingv1.ServiceEntry:
				export = t.Spec.ExportTo
			}
			for i, ns := range export {
				if ns == "." || ns == "*" || ns == "~" || strings.Contains(ns, "*") {
					continue
				}
				if !v.snap.HasNamespace(ns) {
					v.add(KIA0005, o, fmt.Sprintf("spec/exportTo[%d]", i), "namespace %q not found", ns)
				}
			}
		}
	}
}
