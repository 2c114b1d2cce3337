package validate

import (
	"strings"

	apinetworking "istio.io/api/networking/v1alpha3"
	apisecurity "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/meshlens/meshlens/inventory"
)

// mtlsMode is what an object says about mutual TLS.
type mtlsMode int

const (
	mtlsUnset mtlsMode = iota
	mtlsDisable
	mtlsPermissive
	mtlsStrict // PeerAuthentication STRICT, or DestinationRule ISTIO_MUTUAL
)

// mtlsState is the mesh's mutual TLS configuration: mesh-wide and
// namespace-wide PeerAuthentications and DestinationRules.
type mtlsState struct {
	meshPA, meshDR *inventory.Object
	meshPAMode     mtlsMode
	meshDRMode     mtlsMode
	nsPA, nsDR     map[string]*inventory.Object
	nsPAMode       map[string]mtlsMode
	nsDRMode       map[string]mtlsMode
}

func paMode(pa *securityv1.PeerAuthentication) mtlsMode {
	if pa.Spec.Mtls == nil {
		return mtlsUnset
	}
	switch pa.Spec.Mtls.Mode {
	case apisecurity.PeerAuthentication_MutualTLS_DISABLE:
		return mtlsDisable
	case apisecurity.PeerAuthentication_MutualTLS_PERMISSIVE:
		return mtlsPermissive
	case apisecurity.PeerAuthentication_MutualTLS_STRICT:
		return mtlsStrict
	}
	return mtlsUnset
}

func drMode(dr *networkingv1.DestinationRule) mtlsMode {
	tp := dr.Spec.TrafficPolicy
	if tp == nil || tp.Tls == nil {
		return mtlsUnset
	}
	switch tp.Tls.Mode {
	case apinetworking.ClientTLSSettings_ISTIO_MUTUAL:
		return mtlsStrict
	case apinetworking.ClientTLSSettings_DISABLE:
		return mtlsDisable
	}
	return mtlsUnset
}

func (v *validation) mtlsState() *mtlsState {
	s := &mtlsState{nsPA: map[string]*inventory.Object{}, nsDR: map[string]*inventory.Object{},
		nsPAMode: map[string]mtlsMode{}, nsDRMode: map[string]mtlsMode{}}
	for _, o := range v.snap.Of("PeerAuthentication") {
		pa := o.Typed.(*securityv1.PeerAuthentication)
		if pa.Spec.Selector != nil && len(pa.Spec.Selector.MatchLabels) > 0 {
			continue
		}
		if o.Namespace == v.opts.RootNamespace {
			s.meshPA, s.meshPAMode = o, paMode(pa)
		} else {
			s.nsPA[o.Namespace], s.nsPAMode[o.Namespace] = o, paMode(pa)
		}
	}
	for _, o := range v.snap.Of("DestinationRule") {
		dr := o.Typed.(*networkingv1.DestinationRule)
		switch h := dr.Spec.Host; {
		case h == "*.local" || h == "*."+v.opts.ClusterDomain:
			s.meshDR, s.meshDRMode = o, drMode(dr)
		case strings.HasPrefix(h, "*.") && strings.HasSuffix(h, ".svc."+v.opts.ClusterDomain):
			ns := strings.TrimSuffix(strings.TrimPrefix(h, "*."), ".svc."+v.opts.ClusterDomain)
			s.nsDR[ns], s.nsDRMode[ns] = o, drMode(dr)
		}
	}
	return s
}

// strictIn tells whether workloads in ns require mutual TLS.
func (s *mtlsState) strictIn(ns string) bool {
	if m := s.nsPAMode[ns]; m != mtlsUnset {
		return m == mtlsStrict
	}
	return s.meshPAMode == mtlsStrict
}

// mtls runs the mutual TLS checks: DestinationRules and
// PeerAuthentications must agree (KIA0205-KIA0208 always; KIA0401,
// KIA0501, KIA0505, KIA0506 only without auto mTLS, which otherwise makes
// the client side follow the server side), and policies that need a
// peer identity need mTLS (KIA0105).
func (v *validation) mtls() {
	s := v.mtlsState()
	const tlsPath = "spec/trafficPolicy/tls/mode"
	if s.meshDR != nil {
		switch {
		case s.meshDRMode == mtlsStrict && (s.meshPA == nil || s.meshPAMode == mtlsDisable):
			v.add(KIA0205, s.meshDR, tlsPath, "no PeerAuthentication in %s enables mTLS for the mesh", v.opts.RootNamespace)
		case s.meshDRMode == mtlsDisable && s.meshPAMode == mtlsStrict:
			v.add(KIA0208, s.meshDR, tlsPath, "PeerAuthentication %s/%s is STRICT", s.meshPA.Namespace, s.meshPA.Name)
		}
	}
	for ns, dr := range s.nsDR {
		switch mode := s.nsDRMode[ns]; {
		case mode == mtlsStrict && s.nsPA[ns] == nil && (s.meshPA == nil || s.meshPAMode == mtlsDisable):
			v.add(KIA0206, dr, tlsPath, "no PeerAuthentication enables mTLS in %s", ns)
		case mode == mtlsStrict && s.nsPAMode[ns] == mtlsDisable:
			v.add(KIA0206, dr, tlsPath, "the PeerAuthentication of %s disables mTLS", ns)
		case mode == mtlsDisable && s.strictIn(ns):
			v.add(KIA0207, dr, tlsPath, "mTLS is STRICT in %s", ns)
		}
	}
	if v.opts.NoAutoMTLS {
		if s.meshPA != nil {
			switch {
			case s.meshPAMode == mtlsStrict && s.meshDRMode != mtlsStrict:
				v.add(KIA0401, s.meshPA, "spec/mtls", "no DestinationRule for *.local sets ISTIO_MUTUAL")
			case s.meshPAMode == mtlsDisable && s.meshDRMode != mtlsDisable:
				v.add(KIA0506, s.meshPA, "spec/mtls", "no DestinationRule for *.local disables TLS")
			}
		}
		for ns, pa := range s.nsPA {
			client := s.nsDRMode[ns]
			if client == mtlsUnset {
				client = s.meshDRMode
			}
			switch mode := s.nsPAMode[ns]; {
			case mode == mtlsStrict && client != mtlsStrict:
				v.add(KIA0501, pa, "spec/mtls", "no DestinationRule for *.%s.svc.%s or *.local sets ISTIO_MUTUAL", ns, v.opts.ClusterDomain)
			case mode == mtlsDisable && client != mtlsDisable:
				v.add(KIA0505, pa, "spec/mtls", "no DestinationRule for *.%s.svc.%s disables TLS", ns, v.opts.ClusterDomain)
			}
		}
	}
	for _, o := range v.snap.Of("AuthorizationPolicy") {
		if s.strictIn(o.Namespace) || s.nsDRMode[o.Namespace] == mtlsStrict || s.meshDRMode == mtlsStrict {
			continue
		}
		eachSource(&o.Typed.(*securityv1.AuthorizationPolicy).Spec, func(path string, src *apisecurity.Source) {
			if len(src.Principals) > 0 {
				v.add(KIA0105, o, path+"/principals", "principals are known only over mTLS, which %s does not require", o.Namespace)
			}
			if len(src.Namespaces) > 0 {
				v.add(KIA0105, o, path+"/namespaces", "source namespaces are known only over mTLS, which %s does not require", o.Namespace)
			}
		})
	}
}

// overriddenTLS flags TLS settings in a DestinationRule outside its host's
// namespace when a rule in the host's namespace sets TLS for the same host:
// that one wins for the host's own namespace (KIA0204).
func (v *validation) overriddenTLS() {
	local := map[string]bool{}
	for _, o := range v.snap.Of("DestinationRule") {
		dr := o.Typed.(*networkingv1.DestinationRule)
		if svc := v.registry.service(v.registry.fqdn(dr.Spec.Host, o.Namespace)); svc != nil && svc.Namespace == o.Namespace && drMode(dr) != mtlsUnset {
			local[svc.Namespace+"/"+svc.Name] = true
		}
	}
	for _, o := range v.snap.Of("DestinationRule") {
		dr := o.Typed.(*networkingv1.DestinationRule)
		svc := v.registry.service(v.registry.fqdn(dr.Spec.Host, o.Namespace))
		if svc != nil && svc.Namespace != o.Namespace && drMode(dr) != mtlsUnset && local[svc.Namespace+"/"+svc.Name] {
			v.add(KIA0204, o, "spec/trafficPolicy/tls", "DestinationRule in %s for %s sets TLS too", svc.Namespace, dr.Spec.Host)
		}
	}
}
