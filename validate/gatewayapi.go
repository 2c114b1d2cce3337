package validate

import (
	"fmt"
	"slices"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/meshlens/meshlens/inventory"
)

// The Kubernetes Gateway API's kinds, as Snapshot.Of names them.
var (
	gatewayKind        = inventory.KindKey(inventory.GatewayAPIGroup, "Gateway")
	httpRouteKind      = inventory.KindKey(inventory.GatewayAPIGroup, "HTTPRoute")
	grpcRouteKind      = inventory.KindKey(inventory.GatewayAPIGroup, "GRPCRoute")
	referenceGrantKind = inventory.KindKey(inventory.GatewayAPIGroup, "ReferenceGrant")
)

// gatewayAPI runs the Gateway API checks: gateways (KIA1501-KIA1504),
// routes (KIA1401, KIA1402) and reference grants (KIA1601).
func (v *validation) gatewayAPI() {
	gateways := map[string]*gatewayv1.Gateway{}
	var gwObjects []*inventory.Object
	for _, o := range v.snap.Of(gatewayKind) {
		gateways[o.Namespace+"/"+o.Name] = o.Typed.(*gatewayv1.Gateway)
		gwObjects = append(gwObjects, o)
	}
	v.k8sGateways(gwObjects)
	grants := v.snap.Of(referenceGrantKind)
	for _, kind := range []string{httpRouteKind, grpcRouteKind} {
		for _, o := range v.snap.Of(kind) {
			parents, backends := routeRefs(o)
			v.routeParents(o, parents, gateways)
			for k, rule := range backends {
				for i, b := range rule {
					v.routeBackend(o, o.Kind, b, fmt.Sprintf("spec/rules[%d]/backendRefs[%d]/name", k, i), grants)
				}
			}
		}
	}
	for _, o := range grants {
		for i, from := range o.Typed.(*gatewayv1beta1.ReferenceGrant).Spec.From {
			if !v.snap.HasNamespace(string(from.Namespace)) {
				v.add(KIA1601, o, fmt.Sprintf("spec/from[%d]/namespace", i), "namespace %q not found", from.Namespace)
			}
		}
	}
}

// routeRefs returns a route's parents and, rule by rule, its backends.
func routeRefs(o *inventory.Object) ([]gatewayv1.ParentReference, [][]gatewayv1.BackendObjectReference) {
	var backends [][]gatewayv1.BackendObjectReference
	switch r := o.Typed.(type) {
	case *gatewayv1.HTTPRoute:
		for _, rule := range r.Spec.Rules {
			var refs []gatewayv1.BackendObjectReference
			for _, b := range rule.BackendRefs {
				refs = append(refs, b.BackendObjectReference)
			}
			backends = append(backends, refs)
		}
		return r.Spec.ParentRefs, backends
	case *gatewayv1.GRPCRoute:
		for _, rule := range r.Spec.Rules {
			var refs []gatewayv1.BackendObjectReference
			for _, b := range rule.BackendRefs {
				refs = append(refs, b.BackendObjectReference)
			}
			backends = append(backends, refs)
		}
		return r.Spec.ParentRefs, backends
	}
	return nil, nil
}

// k8sGateways checks gateways against each other: a listener whose
// hostname, port and protocol another gateway also has (KIA1501), an
// address another gateway also has (KIA1502), two listeners of one gateway
// alike (KIA1503), and the gateway's class (KIA1504).
func (v *validation) k8sGateways(objects []*inventory.Object) {
	type listenerKey struct {
		host     string
		port     gatewayv1.PortNumber
		protocol gatewayv1.ProtocolType
	}
	listeners := map[listenerKey][]*inventory.Object{}
	addresses := map[string][]*inventory.Object{}
	for _, o := range objects {
		gw := o.Typed.(*gatewayv1.Gateway)
		for _, l := range gw.Spec.Listeners {
			if l.Hostname != nil {
				k := listenerKey{string(*l.Hostname), l.Port, l.Protocol}
				listeners[k] = appendOnce(listeners[k], o)
			}
		}
		for _, a := range gw.Spec.Addresses {
			if a.Type != nil {
				k := string(*a.Type) + "|" + a.Value
				addresses[k] = appendOnce(addresses[k], o)
			}
		}
	}
	for _, o := range objects {
		gw := o.Typed.(*gatewayv1.Gateway)
		if !slices.Contains(v.opts.GatewayClasses, string(gw.Spec.GatewayClassName)) {
			v.add(KIA1504, o, "spec/gatewayClassName", "class %q is not one of %s", gw.Spec.GatewayClassName, strings.Join(v.opts.GatewayClasses, ", "))
		}
		for _, a := range gw.Spec.Addresses {
			if a.Type == nil {
				continue
			}
			if same := addresses[string(*a.Type)+"|"+a.Value]; len(same) > 1 {
				v.add(KIA1502, o, "spec/addresses/value", "address %s (%s) is also claimed by %s", a.Value, *a.Type, others(same, o))
			}
		}
		alike := map[int]bool{}
		for i, l := range gw.Spec.Listeners {
			if l.Hostname == nil {
				continue
			}
			if same := listeners[listenerKey{string(*l.Hostname), l.Port, l.Protocol}]; len(same) > 1 {
				v.add(KIA1501, o, fmt.Sprintf("spec/listeners[%d]/hostname", i), "%s port %d %s is also served by %s", *l.Hostname, l.Port, l.Protocol, others(same, o))
			}
			for j, m := range gw.Spec.Listeners {
				if j != i && m.Name != l.Name && m.Hostname != nil && *m.Hostname == *l.Hostname && m.Port == l.Port && m.Protocol == l.Protocol {
					alike[j] = true
				}
			}
		}
		for j := range gw.Spec.Listeners {
			if alike[j] {
				l := gw.Spec.Listeners[j]
				v.add(KIA1503, o, fmt.Sprintf("spec/listeners[%d]/name", j), "listener %s has the hostname, port and protocol of another listener (%s:%d %s)", l.Name, *l.Hostname, l.Port, l.Protocol)
			}
		}
	}
}

func appendOnce(objs []*inventory.Object, o *inventory.Object) []*inventory.Object {
	if slices.Contains(objs, o) {
		return objs
	}
	return append(objs, o)
}

// routeParents checks that the gateways a route attaches to exist and
// accept routes from its namespace (KIA1401).
func (v *validation) routeParents(o *inventory.Object, refs []gatewayv1.ParentReference, gateways map[string]*gatewayv1.Gateway) {
	for i, ref := range refs {
		// The API server defaults a parent to a Gateway of the Gateway API.
		if ref.Name == "" || (ref.Kind != nil && *ref.Kind != "Gateway") || (ref.Group != nil && *ref.Group != inventory.GatewayAPIGroup) {
			continue
		}
		ns := o.Namespace
		if ref.Namespace != nil && *ref.Namespace != "" {
			ns = string(*ref.Namespace)
		}
		path := fmt.Sprintf("spec/parentRefs[%d]/name/%s", i, ref.Name)
		gw := gateways[ns+"/"+string(ref.Name)]
		switch {
		case gw == nil:
			v.add(KIA1401, o, path, "gateway %s/%s not found", ns, ref.Name)
		case ns != o.Namespace && !v.acceptsRoutesFrom(gw, o.Namespace):
			v.add(KIA1401, o, path, "gateway %s/%s accepts no routes from namespace %s", ns, ref.Name, o.Namespace)
		}
	}
}

// acceptsRoutesFrom tells whether a listener of gw takes routes from
// namespace ns: from All, or from a Selector matching ns's labels.
func (v *validation) acceptsRoutesFrom(gw *gatewayv1.Gateway, ns string) bool {
	for _, l := range gw.Spec.Listeners {
		if l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil || l.AllowedRoutes.Namespaces.From == nil {
			continue
		}
		switch *l.AllowedRoutes.Namespaces.From {
		case gatewayv1.NamespacesFromAll:
			return true
		case gatewayv1.NamespacesFromSelector:
			if sel := l.AllowedRoutes.Namespaces.Selector; sel != nil && inventory.Selects(sel.MatchLabels, v.snap.NamespaceLabels(ns)) {
				return true
			}
		}
	}
	return false
}

// routeBackend checks that a route's Service backend exists, and that a
// ReferenceGrant of the backend's namespace lets the route's namespace
// refer to it (KIA1402). A backend name is a name, never a host.
func (v *validation) routeBackend(o *inventory.Object, routeKind string, ref gatewayv1.BackendObjectReference, path string, grants []*inventory.Object) {
	// The API server defaults a backend to a core Service.
	if (ref.Kind != nil && *ref.Kind != "Service") || (ref.Group != nil && *ref.Group != "") {
		return
	}
	ns := o.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	name := string(ref.Name)
	switch {
	case strings.Contains(name, "."):
		v.add(KIA1402, o, path, "backend %q is a host name; give the Service's name (and its namespace apart)", name)
	case v.registry.service(name+"."+ns+".svc."+v.opts.ClusterDomain) == nil:
		v.add(KIA1402, o, path, "service %s/%s not found", ns, name)
	case ns != o.Namespace && !granted(grants, o.Namespace, routeKind, ns, name):
		v.add(KIA1402, o, path, "no ReferenceGrant in %s lets %ss of %s refer to service %s", ns, routeKind, o.Namespace, name)
	}
}

// granted tells whether a ReferenceGrant in namespace to lets routeKind
// objects of namespace from refer to the Service name.
func granted(grants []*inventory.Object, from, routeKind, to, name string) bool {
	for _, o := range grants {
		if o.Namespace != to {
			continue
		}
		g := o.Typed.(*gatewayv1beta1.ReferenceGrant)
		fromOK := slices.ContainsFunc(g.Spec.From, func(f gatewayv1beta1.ReferenceGrantFrom) bool {
			return string(f.Group) == inventory.GatewayAPIGroup && string(f.Kind) == routeKind && string(f.Namespace) == from
		})
		toOK := slices.ContainsFunc(g.Spec.To, func(t gatewayv1beta1.ReferenceGrantTo) bool {
			return t.Group == "" && t.Kind == "Service" && (t.Name == nil || *t.Name == "" || string(*t.Name) == name)
		})
		if fromOK && toOK {
			return true
		}
	}
	return false
}
