package validate

import (
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlens/meshlens/inventory"
)

// registry is the service registry as Istio sees it: Kubernetes services
// by FQDN and ServiceEntry hosts with their exportTo visibility.
type registry struct {
	domain   string
	snap     *inventory.Snapshot
	services map[string]*inventory.Service
	// entries maps a ServiceEntry host to the namespaces it is visible
	// from ("*": everywhere); wildcard hosts ("*.example.com") are apart,
	// so that an exact lookup stays one map access.
	entries   map[string][]string
	wildcards map[string][]string
}

func newRegistry(s *inventory.Snapshot, domain string) *registry {
	r := &registry{domain: domain, snap: s, services: map[string]*inventory.Service{}, entries: map[string][]string{}, wildcards: map[string][]string{}}
	for _, svc := range s.Services {
		r.services[svc.Name+"."+svc.Namespace+".svc."+domain] = svc
	}
	for _, o := range s.Of("ServiceEntry") {
		se := o.Typed.(*networkingv1.ServiceEntry)
		visible := visibility(se.Spec.ExportTo, o.Namespace)
		for _, h := range se.Spec.Hosts {
			if strings.HasPrefix(h, "*") {
				r.wildcards[h] = append(r.wildcards[h], visible...)
			} else {
				r.entries[h] = append(r.entries[h], visible...)
			}
		}
	}
	return r
}

// visibility turns exportTo into the namespaces that see an object.
func visibility(exportTo []string, own string) []string {
	if len(exportTo) == 0 {
		return []string{"*"}
	}
	var out []string
	for _, e := range exportTo {
		if e == "." {
			e = own
		}
		out = append(out, e)
	}
	return out
}

// fqdn resolves host as Istio does for an object in namespace ns: a short
// name is a service of ns; "name.namespace" a service of that namespace
// when it exists; anything else is taken as written.
func (r *registry) fqdn(host, ns string) string {
	if strings.HasPrefix(host, "*") {
		return host
	}
	parts := strings.Split(host, ".")
	switch {
	case len(parts) == 1:
		return host + "." + ns + ".svc." + r.domain
	case len(parts) == 2 && r.snap.HasNamespace(parts[1]):
		return host + ".svc." + r.domain
	case len(parts) == 3 && parts[2] == "svc":
		return host + "." + r.domain
	}
	return host
}

// service returns the Kubernetes service behind an FQDN, or nil.
func (r *registry) service(fqdn string) *inventory.Service { return r.services[fqdn] }

// exists tells whether host, as written in an object of namespace ns, is
// in the registry as seen from ns.
func (r *registry) exists(host, ns string) bool {
	f := r.fqdn(host, ns)
	if r.services[f] != nil {
		return true
	}
	if strings.HasPrefix(f, "*.") {
		// A wildcard host exists when any known host falls under it.
		suffix := f[1:]
		for h := range r.services {
			if strings.HasSuffix(h, suffix) {
				return true
			}
		}
	}
	if visible, ok := r.entries[f]; ok && visibleFrom(visible, ns) {
		return true
	}
	for h, visible := range r.wildcards {
		if hostMatches(h, f) && visibleFrom(visible, ns) {
			return true
		}
	}
	return false
}

// hostMatches tells whether pattern (maybe "*.example.com") covers host.
func hostMatches(pattern, host string) bool {
	if pattern == host || pattern == "*" {
		return true
	}
	if strings.HasPrefix(pattern, "*.") {
		return strings.HasSuffix(host, pattern[1:])
	}
	return false
}

func visibleFrom(visible []string, ns string) bool {
	for _, v := range visible {
		if v == "*" || v == ns {
			return true
		}
	}
	return false
}
