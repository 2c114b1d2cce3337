package validate

import (
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/meshlens/meshlens/inventory"
)

// The mutual TLS checks follow Kiali's truth table: which PeerAuthentication
// (server side) and DestinationRule (client side) settings contradict each
// other, at mesh, namespace and workload level, with Istio's auto mTLS on or
// off. Modes are Istio's enum names ("STRICT", "ISTIO_MUTUAL", ...), "" when
// the object does not say.

// meshWideHost is the DestinationRule host that sets the mesh's client TLS.
const meshWideHost = "*.local"

// paMode is a PeerAuthentication's mode ("UNSET" when mtls is present
// without a mode), whatever its selector.
func paMode(pa *securityv1.PeerAuthentication) string {
	if pa.Spec.Mtls == nil {
		return ""
	}
	return pa.Spec.Mtls.Mode.String()
}

// paWideMode is the mode of a PeerAuthentication that applies to a whole
// namespace (or, in the root namespace, the mesh): any selector, even an
// empty one, makes it a workload policy.
func paWideMode(pa *securityv1.PeerAuthentication) string {
	if pa.Spec.Selector != nil {
		return ""
	}
	return paMode(pa)
}

// enablesMTLS: STRICT and PERMISSIVE both accept mutual TLS.
func enablesMTLS(mode string) bool { return mode == "STRICT" || mode == "PERMISSIVE" }

// drTLSMode is a DestinationRule's top-level client TLS mode.
func drTLSMode(dr *networkingv1.DestinationRule) string {
	if tp := dr.Spec.TrafficPolicy; tp != nil && tp.Tls != nil {
		return tp.Tls.Mode.String()
	}
	return ""
}

// drModeFor is dr's TLS mode when its host is exactly host, else "".
func drModeFor(dr *networkingv1.DestinationRule, host string) string {
	if dr.Spec.Host == "" || dr.Spec.Host != host {
		return ""
	}
	return drTLSMode(dr)
}

// hasTLSSettings tells whether a DestinationRule sets client TLS at all,
// for the whole host or for one of its ports.
func hasTLSSettings(dr *networkingv1.DestinationRule) bool {
	tp := dr.Spec.TrafficPolicy
	if tp == nil {
		return false
	}
	if tp.Tls != nil {
		return true
	}
	for _, p := range tp.PortLevelSettings {
		if p != nil && p.Tls != nil {
			return true
		}
	}
	return false
}

// mtlsConfig is the mesh's mutual TLS configuration, indexed once per run.
type mtlsConfig struct {
	auto         bool
	nsHostSuffix string // ".svc.cluster.local"
	meshPAs      []*securityv1.PeerAuthentication
	pasIn        map[string][]*securityv1.PeerAuthentication
	drs          []*networkingv1.DestinationRule
	drObjects    []*inventory.Object
	mesh         *tlsSides // the mesh level's settings, read on first need
}

func (v *validation) mtlsConfig() *mtlsConfig {
	c := &mtlsConfig{auto: !v.opts.NoAutoMTLS, nsHostSuffix: ".svc." + v.opts.ClusterDomain,
		pasIn: map[string][]*securityv1.PeerAuthentication{}}
	for _, o := range v.snap.Of("PeerAuthentication") {
		pa := o.Typed.(*securityv1.PeerAuthentication)
		if o.Namespace == v.opts.RootNamespace {
			c.meshPAs = append(c.meshPAs, pa)
		}
		c.pasIn[o.Namespace] = append(c.pasIn[o.Namespace], pa)
	}
	for _, o := range v.snap.Of("DestinationRule") {
		c.drs = append(c.drs, o.Typed.(*networkingv1.DestinationRule))
		c.drObjects = append(c.drObjects, o)
	}
	return c
}

// nsHost is the DestinationRule host that sets namespace ns's client TLS.
func (c *mtlsConfig) nsHost(ns string) string { return "*." + ns + c.nsHostSuffix }

// anyPA tells whether one of pas, taken as namespace- or mesh-wide, has a
// mode for which ok holds.
func anyPA(pas []*securityv1.PeerAuthentication, ok func(string) bool) bool {
	for _, pa := range pas {
		if ok(paWideMode(pa)) {
			return true
		}
	}
	return false
}

func isMode(want ...string) func(string) bool {
	return func(m string) bool {
		for _, w := range want {
			if m == w {
				return true
			}
		}
		return false
	}
}

// anyDR tells whether a DestinationRule for host has a mode for which ok holds.
func (c *mtlsConfig) anyDR(host string, ok func(string) bool) bool {
	for _, dr := range c.drs {
		if ok(drModeFor(dr, host)) {
			return true
		}
	}
	return false
}

// mtls runs the mutual TLS family: KIA0204-KIA0208 on DestinationRules,
// KIA0401, KIA0501, KIA0505, KIA0506 on PeerAuthentications and KIA0105 on
// AuthorizationPolicies.
func (v *validation) mtls() {
	c := v.mtlsConfig()
	for i, o := range c.drObjects {
		v.destinationRuleTLS(c, o, c.drs[i])
	}
	v.overriddenTLS(c)
	for _, o := range v.snap.Of("PeerAuthentication") {
		v.peerAuthenticationTLS(c, o, o.Typed.(*securityv1.PeerAuthentication))
	}
	for _, o := range v.snap.Of("AuthorizationPolicy") {
		v.authorizationNeedsMTLS(c, o, o.Typed.(*securityv1.AuthorizationPolicy))
	}
}

const drTLSPath = "spec/trafficPolicy/tls/mode"

// destinationRuleTLS checks a namespace- or mesh-wide DestinationRule
// against the PeerAuthentications that receive its traffic.
func (v *validation) destinationRuleTLS(c *mtlsConfig, o *inventory.Object, dr *networkingv1.DestinationRule) {
	ns := o.Namespace
	switch nsMode := drModeFor(dr, c.nsHost(ns)); nsMode {
	case "DISABLE":
		// The namespace's own policy decides; without one that says
		// anything, a STRICT mesh policy does.
		nsDisabled := false
		for _, pa := range c.pasIn[ns] {
			switch paWideMode(pa) {
			case "STRICT":
				v.add(KIA0207, o, drTLSPath, "the PeerAuthentication of %s is STRICT, so clients that do not send mTLS are refused", ns)
				return
			case "PERMISSIVE":
				return
			case "DISABLE":
				nsDisabled = true
			}
		}
		if !nsDisabled && anyPA(c.meshPAs, isMode("STRICT")) {
			v.add(KIA0208, o, drTLSPath, "the mesh-wide PeerAuthentication in %s is STRICT, so clients that do not send mTLS are refused", v.opts.RootNamespace)
		}
	case "ISTIO_MUTUAL":
		// With auto mTLS, Istio encrypts without a PeerAuthentication.
		if !c.auto && !anyPA(c.pasIn[ns], enablesMTLS) && !anyPA(c.meshPAs, enablesMTLS) {
			v.add(KIA0206, o, drTLSPath, "no PeerAuthentication in %s or %s accepts mTLS", ns, v.opts.RootNamespace)
		}
	}
	switch drModeFor(dr, meshWideHost) {
	case "DISABLE":
		if anyPA(c.meshPAs, isMode("STRICT")) {
			v.add(KIA0208, o, drTLSPath, "the mesh-wide PeerAuthentication in %s is STRICT, so clients that do not send mTLS are refused", v.opts.RootNamespace)
		}
	case "ISTIO_MUTUAL":
		if !c.auto && !anyPA(c.meshPAs, enablesMTLS) {
			v.add(KIA0205, o, drTLSPath, "no PeerAuthentication in %s accepts mTLS mesh-wide", v.opts.RootNamespace)
		}
	}
}

// peerAuthenticationTLS checks a namespace- or mesh-wide PeerAuthentication
// against the DestinationRules that set its clients' TLS.
func (v *validation) peerAuthenticationTLS(c *mtlsConfig, o *inventory.Object, pa *securityv1.PeerAuthentication) {
	const path = "spec/mtls"
	mutual := isMode("ISTIO_MUTUAL", "MUTUAL")
	mode := paWideMode(pa)
	if o.Namespace == v.opts.RootNamespace {
		switch {
		case mode == "DISABLE" && c.anyDR(meshWideHost, mutual):
			v.add(KIA0506, o, path, "a DestinationRule for %s makes clients send mTLS mesh-wide", meshWideHost)
		case mode == "STRICT" && !c.auto && !c.anyDR(meshWideHost, isMode("ISTIO_MUTUAL")):
			v.add(KIA0401, o, path, "no DestinationRule for %s sets ISTIO_MUTUAL, and auto mTLS is off", meshWideHost)
		}
		return
	}
	nsHost := c.nsHost(o.Namespace)
	switch mode {
	case "DISABLE":
		// The namespace's own DestinationRule decides; without one, a
		// mesh-wide rule sending mTLS contradicts the policy.
		meshMutual := false
		for _, dr := range c.drs {
			switch m := drModeFor(dr, nsHost); {
			case mutual(m):
				v.add(KIA0505, o, path, "DestinationRule %s/%s makes clients send mTLS to %s", dr.Namespace, dr.Name, o.Namespace)
				return
			case m == "DISABLE":
				return
			}
			meshMutual = meshMutual || mutual(drModeFor(dr, meshWideHost))
		}
		if meshMutual {
			v.add(KIA0505, o, path, "a DestinationRule for %s makes clients send mTLS to %s", meshWideHost, o.Namespace)
		}
	case "STRICT":
		istioMutual := isMode("ISTIO_MUTUAL")
		if !c.auto && !c.anyDR(nsHost, istioMutual) && !c.anyDR(meshWideHost, istioMutual) {
			v.add(KIA0501, o, path, "no DestinationRule for %s or %s sets ISTIO_MUTUAL, and auto mTLS is off", nsHost, meshWideHost)
		}
	}
}

// overriddenTLS flags DestinationRules without any TLS settings for a host
// whose namespace (or the whole mesh) gets ISTIO_MUTUAL from a wider rule:
// Istio applies the most specific rule alone, so the wider rule's mTLS is
// lost for that host (KIA0204). With auto mTLS the client side follows the
// server by itself, so Kiali says nothing.
func (v *validation) overriddenTLS(c *mtlsConfig) {
	if c.auto {
		return
	}
	var wide []*inventory.Object // mesh- or namespace-wide rules sending mTLS
	for i, o := range c.drObjects {
		dr := c.drs[i]
		if drModeFor(dr, meshWideHost) == "ISTIO_MUTUAL" || drModeFor(dr, c.nsHost(o.Namespace)) == "ISTIO_MUTUAL" {
			wide = append(wide, o)
		}
	}
	if len(wide) == 0 {
		return
	}
	for i, o := range c.drObjects {
		dr := c.drs[i]
		if hasTLSSettings(dr) {
			continue
		}
		fqdn := v.registry.fqdn(dr.Spec.Host, o.Namespace)
		hostNS := v.hostNamespace(fqdn)
		var overridden []*inventory.Object
		for _, w := range wide {
			h := w.Typed.(*networkingv1.DestinationRule).Spec.Host
			if h == meshWideHost || (hostNS != "" && h == c.nsHost(hostNS)) {
				overridden = append(overridden, w)
			}
		}
		for j, other := range c.drObjects {
			h := c.drs[j].Spec.Host
			if other == o || drTLSMode(c.drs[j]) != "ISTIO_MUTUAL" || slices.Contains(overridden, other) {
				continue
			}
			if (hostNS != "" && h == c.nsHost(hostNS)) || h == fqdn {
				overridden = append(overridden, other)
			}
		}
		if len(overridden) > 0 {
			v.add(KIA0204, o, "spec/trafficPolicy", "no TLS settings for %s, which %s sets to ISTIO_MUTUAL", dr.Spec.Host, others(overridden, o))
		}
	}
}

// hostNamespace is the Kubernetes namespace of a service FQDN
// (name.namespace.svc.<domain>, or *.namespace.svc.<domain>), else "".
func (v *validation) hostNamespace(fqdn string) string {
	suffix := ".svc." + v.opts.ClusterDomain
	if !strings.HasSuffix(fqdn, suffix) {
		return ""
	}
	parts := strings.Split(strings.TrimSuffix(fqdn, suffix), ".")
	if len(parts) != 2 {
		return ""
	}
	return parts[1]
}
