package validate

import (
	"fmt"

	apisecurity "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlens/meshlens/inventory"
)

// Whether a workload receives mutual TLS, as Kiali decides it before it
// flags an AuthorizationPolicy that needs a peer identity (KIA0105): the
// server side (PeerAuthentication) and the client side (DestinationRule,
// or auto mTLS) must both say so, the namespace's settings first, then the
// mesh's, a workload's own PeerAuthentication before either.
type mtlsStatus int

const (
	mtlsPartly mtlsStatus = iota // configured, but not both sides agree
	mtlsEnabled
	mtlsNotEnabled // nothing configured
	mtlsDisabled
)

// tlsSides is what the server and client sides say at one level, and the
// status they make together.
type tlsSides struct {
	dr, pa string
	status mtlsStatus
	set    bool // the level was evaluated (the mesh always is)
}

// sides combines a client and a server mode. PERMISSIVE servers count as
// accepting mTLS, as Kiali counts them for policies.
func (c *mtlsConfig) sides(dr, pa string) tlsSides {
	clientMutual := dr == "ISTIO_MUTUAL" || dr == "MUTUAL" || (dr == "" && c.auto)
	clientPlain := dr == "DISABLE" || (dr == "" && c.auto)
	s := tlsSides{dr: dr, pa: pa, status: mtlsPartly, set: true}
	switch {
	case enablesMTLS(pa) && clientMutual:
		s.status = mtlsEnabled
	case pa == "DISABLE" && clientPlain:
		s.status = mtlsDisabled
	case pa == "" && dr == "":
		s.status = mtlsNotEnabled
	}
	return s
}

func (s tlsSides) decided() bool { return s.status == mtlsEnabled || s.status == mtlsDisabled }

// combine is the status of a namespace under the mesh: the namespace's
// when it decides, its partial settings completed by the mesh's, or the
// mesh's.
func (c *mtlsConfig) combine(ns, mesh tlsSides) mtlsStatus {
	switch {
	case ns.set && ns.decided():
		return ns.status
	case ns.set && ns.status == mtlsPartly:
		dr, pa := ns.dr, ns.pa
		if dr == "" {
			dr = mesh.dr
		}
		if pa == "" {
			pa = mesh.pa
		}
		return c.combine(tlsSides{}, c.sides(dr, pa))
	case mesh.decided():
		return mesh.status
	case mesh.pa == "" && mesh.dr == "":
		return mtlsNotEnabled
	case (mesh.pa == "DISABLE" && mesh.dr == "") || (mesh.dr == "DISABLE" && mesh.pa == ""):
		return mtlsDisabled
	case c.auto && ((mesh.pa == "STRICT" || mesh.pa == "PERMISSIVE") && mesh.dr == "" ||
		(mesh.dr == "ISTIO_MUTUAL" || mesh.dr == "MUTUAL") && mesh.pa == ""):
		// Auto mTLS supplies the side that is not configured.
		return mtlsEnabled
	}
	return mtlsPartly
}

// levelSides reads the first server mode among pas and the first client
// mode for host, as the level's settings.
func (c *mtlsConfig) levelSides(pas []*securityv1.PeerAuthentication, host string) tlsSides {
	var dr, pa string
	for _, r := range c.drs {
		if dr = drModeFor(r, host); dr != "" {
			break
		}
	}
	for _, p := range pas {
		if pa = paWideMode(p); pa != "" {
			break
		}
	}
	return c.sides(dr, pa)
}

// namespaceReceivesMTLS tells whether workloads of ns receive mTLS by the
// namespace's and the mesh's settings.
func (c *mtlsConfig) namespaceReceivesMTLS(ns string) bool {
	if c.mesh == nil {
		mesh := c.levelSides(c.meshPAs, meshWideHost)
		mesh.status = c.combine(tlsSides{}, mesh)
		c.mesh = &mesh
	}
	s := c.combine(c.levelSides(c.pasIn[ns], c.nsHost(ns)), *c.mesh)
	if s == mtlsNotEnabled && c.auto {
		return true // auto mTLS with nothing configured: both sides are mesh proxies
	}
	return s == mtlsEnabled
}

// workloadStatus is what a workload-level PeerAuthentication of ns that
// selects workloads labelled l says; a PERMISSIVE one asks the
// DestinationRules of the services it selects.
func (v *validation) workloadStatus(c *mtlsConfig, ns string, l labels.Set) mtlsStatus {
	for _, pa := range c.pasIn[ns] {
		if pa.Spec.Selector == nil {
			continue
		}
		sel := labels.SelectorFromSet(pa.Spec.Selector.MatchLabels)
		if !sel.Matches(l) {
			continue
		}
		switch paMode(pa) {
		case "STRICT":
			return mtlsEnabled
		case "DISABLE":
			return mtlsDisabled
		case "PERMISSIVE":
			return v.servicesClientTLS(c, sel)
		}
	}
	return mtlsNotEnabled
}

// servicesClientTLS is what the DestinationRules of the services whose
// labels match sel make clients send.
func (v *validation) servicesClientTLS(c *mtlsConfig, sel labels.Selector) mtlsStatus {
	if len(c.drs) == 0 {
		return mtlsNotEnabled
	}
	for _, svc := range v.snap.Services {
		if !sel.Matches(labels.Set(svc.Object.Typed.(*corev1.Service).Labels)) {
			continue
		}
		fqdn := svc.Name + "." + svc.Namespace + c.nsHostSuffix
		for i, dr := range c.drs {
			if v.registry.fqdn(dr.Spec.Host, c.drObjects[i].Namespace) != fqdn {
				continue
			}
			switch drTLSMode(dr) {
			case "ISTIO_MUTUAL", "MUTUAL":
				return mtlsEnabled
			case "DISABLE":
				return mtlsDisabled
			}
		}
	}
	return mtlsNotEnabled
}

// authorizationNeedsMTLS flags each field of a policy that only mTLS can
// fill (source principals and namespaces, their negations, and conditions
// on them or on the SNI) when the workloads it applies to do not receive
// mTLS (KIA0105).
func (v *validation) authorizationNeedsMTLS(c *mtlsConfig, o *inventory.Object, ap *securityv1.AuthorizationPolicy) {
	paths := needsMTLS(&ap.Spec)
	if len(paths) == 0 {
		return
	}
	receives := func() bool {
		l := labels.Set{}
		if ap.Spec.Selector != nil {
			if ap.Spec.Selector.MatchLabels == nil {
				return c.namespaceReceivesMTLS(o.Namespace)
			}
			l = ap.Spec.Selector.MatchLabels
		}
		switch v.workloadStatus(c, o.Namespace, l) {
		case mtlsEnabled:
			return true
		case mtlsDisabled:
			return false
		}
		return c.namespaceReceivesMTLS(o.Namespace)
	}
	if receives() {
		return
	}
	for _, p := range paths {
		v.add(KIA0105, o, p, "the workloads of this policy in %s do not receive mTLS, so the peer's identity is unknown", o.Namespace)
	}
}

// needsMTLS lists the paths of a policy's fields that need a peer identity.
func needsMTLS(ap *apisecurity.AuthorizationPolicy) []string {
	var paths []string
	eachSource(ap, func(path string, s *apisecurity.Source) {
		for _, f := range []struct {
			name string
			set  bool
		}{{"principals", len(s.Principals) > 0}, {"notPrincipals", len(s.NotPrincipals) > 0},
			{"namespaces", len(s.Namespaces) > 0}, {"notNamespaces", len(s.NotNamespaces) > 0}} {
			if f.set {
				paths = append(paths, path+"/"+f.name)
			}
		}
	})
	for i, rule := range ap.Rules {
		for k, w := range rule.GetWhen() {
			switch w.GetKey() {
			case "source.namespace", "source.principal", "connection.sni":
				paths = append(paths, fmt.Sprintf("spec/rules[%d]/when[%d]", i, k))
			}
		}
	}
	return paths
}
