package validate

import (
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlens/meshlens/inventory"
)

// ByService returns, per service ("namespace/name"), the worst severity of
// the findings on the service itself and on the VirtualServices and
// DestinationRules whose hosts are that service: what a graph shows on the
// service's node.
func ByService(s *inventory.Snapshot, findings []Finding, o Options) map[string]Severity {
	o = o.withDefaults()
	reg := newRegistry(s, o.ClusterDomain)
	objects := map[string]*inventory.Object{}
	for _, obj := range s.Objects {
		objects[inventory.KindKey(obj.Group, obj.Kind)+"/"+obj.Namespace+"/"+obj.Name] = obj
	}
	out := map[string]Severity{}
	worst := func(key string, sev Severity) {
		if sev.Rank() > out[key].Rank() {
			out[key] = sev
		}
	}
	for _, f := range findings {
		obj := objects[inventory.KindKey(f.Group, f.Kind)+"/"+f.Namespace+"/"+f.Name]
		if obj == nil {
			continue
		}
		var hosts []string
		switch t := obj.Typed.(type) {
		case *networkingv1.VirtualService:
			hosts = t.Spec.Hosts
		case *networkingv1.DestinationRule:
			hosts = []string{t.Spec.Host}
		default:
			if f.Kind == "Service" {
				worst(f.Namespace+"/"+f.Name, f.Severity)
			}
			continue
		}
		for _, h := range hosts {
			if svc := reg.service(reg.fqdn(h, obj.Namespace)); svc != nil {
				worst(svc.Namespace+"/"+svc.Name, f.Severity)
			}
		}
	}
	return out
}
