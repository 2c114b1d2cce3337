package validate

import (
	"fmt"
	"sort"
	"strings"

	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlens/meshlens/inventory"
)

// routeDest is one destination of a route, wherever it is in the spec.
type routeDest struct {
	path   string // spec/http[0]/route[1]
	dest   *apinetworking.Destination
	weight int32
	single bool // the only destination of its route
}

func routeDests(vs *apinetworking.VirtualService) [][]routeDest {
	var tcp, tls [][]*apinetworking.RouteDestination
	var httpDests [][]weighted
	for _, r := range vs.Http {
		var list []weighted
		for _, d := range r.Route {
			list = append(list, d)
		}
		httpDests = append(httpDests, list)
	}
	for _, r := range vs.Tcp {
		tcp = append(tcp, r.Route)
	}
	for _, r := range vs.Tls {
		tls = append(tls, r.Route)
	}
	out := destsOf("http", httpDests)
	out = append(out, destsOf("tcp", asWeighted(tcp))...)
	out = append(out, destsOf("tls", asWeighted(tls))...)
	return out
}

// weighted is a route destination of any protocol.
type weighted interface {
	GetDestination() *apinetworking.Destination
	GetWeight() int32
}

func asWeighted(routes [][]*apinetworking.RouteDestination) [][]weighted {
	out := make([][]weighted, len(routes))
	for i, r := range routes {
		for _, d := range r {
			out[i] = append(out[i], d)
		}
	}
	return out
}

func destsOf(protocol string, routes [][]weighted) [][]routeDest {
	var out [][]routeDest
	for i, r := range routes {
		var list []routeDest
		for j, d := range r {
			if d != nil && d.GetDestination() != nil {
				list = append(list, routeDest{fmt.Sprintf("spec/%s[%d]/route[%d]", protocol, i, j), d.GetDestination(), d.GetWeight(), len(r) == 1})
			}
		}
		out = append(out, list)
	}
	return out
}

// subsetIndex maps a host's FQDN to its DestinationRules, each with its
// subsets and the namespaces it is exported to.
type subsetIndex map[string][]indexedRule

type indexedRule struct {
	name    string
	subsets map[string]bool
	visible []string
}

// lookup tells whether a rule visible from ns defines subset for host, and
// names the rules visible from ns for the host.
func (idx subsetIndex) lookup(host, subset, ns string) (bool, []string) {
	var names []string
	for _, r := range idx[host] {
		if !visibleFrom(r.visible, ns) {
			continue
		}
		names = append(names, r.name)
		if r.subsets[subset] {
			return true, names
		}
	}
	return false, names
}

func (v *validation) subsets() subsetIndex {
	idx := subsetIndex{}
	for _, o := range v.snap.Of("DestinationRule") {
		dr := o.Typed.(*networkingv1.DestinationRule)
		host := v.registry.fqdn(dr.Spec.Host, o.Namespace)
		r := indexedRule{name: o.Namespace + "/" + o.Name, subsets: map[string]bool{}, visible: visibility(dr.Spec.ExportTo, o.Namespace)}
		for _, s := range dr.Spec.Subsets {
			if s != nil {
				r.subsets[s.Name] = true
			}
		}
		idx[host] = append(idx[host], r)
	}
	return idx
}

func (v *validation) virtualServices() {
	gateways := map[string]bool{}
	for _, o := range v.snap.Of("Gateway") {
		gateways[o.Namespace+"/"+o.Name] = true
	}
	subsets := v.subsets()
	// host + gateways -> the VirtualServices routing it there (KIA1106)
	byHost := map[string][]*inventory.Object{}
	for _, o := range v.snap.Of("VirtualService") {
		vs := &o.Typed.(*networkingv1.VirtualService).Spec
		v.gatewayRefs(o, vs.Gateways, "spec/gateways", gateways)
		for i, r := range vs.Http {
			for j, m := range r.Match {
				if m != nil {
					v.gatewayRefs(o, m.Gateways, fmt.Sprintf("spec/http[%d]/match[%d]/gateways", i, j), gateways)
				}
			}
		}
		scope := append([]string(nil), vs.Gateways...)
		if len(scope) == 0 {
			scope = []string{"mesh"}
		}
		sort.Strings(scope)
		for _, h := range vs.Hosts {
			key := v.registry.fqdn(h, o.Namespace) + " via " + strings.Join(scope, ",")
			byHost[key] = append(byHost[key], o)
		}
		for _, list := range routeDests(vs) {
			// host|subset -> the destinations of this route sending there (KIA1105)
			repeated := map[string][]routeDest{}
			var keys []string
			for _, rd := range list {
				host := rd.dest.Host
				if host == "" {
					continue
				}
				if !v.registry.exists(host, o.Namespace) {
					v.add(KIA1101, o, rd.path+"/destination/host", "host %q not found", host)
				}
				fqdn := v.registry.fqdn(host, o.Namespace)
				if s := rd.dest.Subset; s != "" {
					if found, rules := subsets.lookup(fqdn, s, o.Namespace); !found {
						if len(rules) > 0 {
							v.add(KIA1107, o, rd.path+"/destination/subset", "subset %q not found in DestinationRule %s", s, strings.Join(rules, ", "))
						} else {
							v.add(KIA1107, o, rd.path+"/destination/subset", "subset %q: no DestinationRule defines subsets for %s", s, host)
						}
					}
				}
				key := fqdn + "|" + rd.dest.Subset
				if repeated[key] == nil {
					keys = append(keys, key)
				}
				repeated[key] = append(repeated[key], rd)
				if rd.single && rd.weight > 0 && rd.weight < 100 {
					v.add(KIA1104, o, rd.path+"/weight", "weight %d on the only destination", rd.weight)
				}
			}
			for _, key := range keys {
				if dests := repeated[key]; len(dests) > 1 {
					host, subset, _ := strings.Cut(key, "|")
					for _, rd := range dests {
						v.add(KIA1105, o, rd.path+"/host", "%d destinations of this route send to %s subset %q", len(dests), host, subset)
					}
				}
			}
		}
	}
	for key, objs := range byHost {
		if len(objs) < 2 {
			continue
		}
		for _, o := range objs {
			v.add(KIA1106, o, "spec/hosts", "%s is also routed by %s", key, others(objs, o))
		}
	}
}

func others(objs []*inventory.Object, self *inventory.Object) string {
	var names []string
	for _, o := range objs {
		if o != self {
			names = append(names, o.Namespace+"/"+o.Name)
		}
	}
	return strings.Join(names, ", ")
}

// gatewayRefs checks gateway references: "mesh", "name", "ns/name", and
// the old "name.ns" form (KIA1108).
func (v *validation) gatewayRefs(o *inventory.Object, refs []string, path string, gateways map[string]bool) {
	for i, ref := range refs {
		if ref == "mesh" || ref == "" {
			continue
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		ns, name := splitRef(ref, o.Namespace)
		if !strings.Contains(ref, "/") && strings.Contains(ref, ".") {
			parts := strings.SplitN(ref, ".", 2)
			name, ns = parts[0], strings.SplitN(parts[1], ".", 2)[0]
			v.add(KIA1108, o, p, "write %s/%s", ns, name)
		}
		if !gateways[ns+"/"+name] {
			v.add(KIA1102, o, p, "gateway %s/%s not found", ns, name)
		}
	}
}
