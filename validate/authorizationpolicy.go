package validate

import (
	"fmt"
	"regexp"
	"strings"

	apisecurity "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/meshlens/meshlens/inventory"
)

var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// grpcMethod is a fully-qualified gRPC method: /package.Service/Method.
var grpcMethod = regexp.MustCompile(`^/[A-Za-z_][\w.]*\.[A-Za-z_]\w*/[A-Za-z_]\w*$`)

func (v *validation) authorizationPolicies() {
	principals := v.principals()
	for _, o := range v.snap.Of("AuthorizationPolicy") {
		ap := &o.Typed.(*securityv1.AuthorizationPolicy).Spec
		eachSource(ap, func(path string, src *apisecurity.Source) {
			for k, ns := range src.Namespaces {
				if !strings.Contains(ns, "*") && !v.snap.HasNamespace(ns) {
					v.add(KIA0101, o, fmt.Sprintf("%s/namespaces[%d]", path, k), "namespace %q not found", ns)
				}
			}
			for k, p := range src.Principals {
				v.checkPrincipal(principals, o, fmt.Sprintf("%s/principals[%d]", path, k), p)
			}
		})
		for i, rule := range ap.Rules {
			if rule == nil {
				continue
			}
			for j, to := range rule.To {
				if to == nil || to.Operation == nil {
					continue
				}
				for k, m := range to.Operation.Methods {
					if !httpMethods[m] && !grpcMethod.MatchString(m) {
						v.add(KIA0102, o, fmt.Sprintf("spec/rules[%d]/to[%d]/operation/methods[%d]", i, j, k), "method %q", m)
					}
				}
				for k, h := range to.Operation.Hosts {
					if !strings.Contains(h, "*") && !v.registry.exists(h, o.Namespace) {
						v.add(KIA0104, o, fmt.Sprintf("spec/rules[%d]/to[%d]/operation/hosts[%d]", i, j, k), "host %q not found", h)
					}
				}
			}
		}
	}
}

// eachSource calls f with every source of a policy's rules and its path
// (spec/rules[i]/from[j]/source).
func eachSource(ap *apisecurity.AuthorizationPolicy, f func(path string, src *apisecurity.Source)) {
	for i, rule := range ap.Rules {
		if rule == nil {
			continue
		}
		for j, from := range rule.From {
			if from != nil && from.Source != nil {
				f(fmt.Sprintf("spec/rules[%d]/from[%d]/source", i, j), from.Source)
			}
		}
	}
}

// principalIndex holds the principals of the mesh's service accounts: this
// cluster's under each trust domain, and the other clusters'.
type principalIndex struct {
	local, remote []string
	exact         map[string]bool
	trustDomains  map[string]bool
}

func (v *validation) principals() *principalIndex {
	accounts := map[string]bool{}
	for _, o := range v.snap.Of("ServiceAccount") {
		accounts["/ns/"+o.Namespace+"/sa/"+o.Name] = true
	}
	for _, w := range v.snap.Workloads {
		accounts["/ns/"+w.Namespace+"/sa/"+w.ServiceAccount] = true
	}
	idx := &principalIndex{exact: map[string]bool{}, trustDomains: map[string]bool{}, remote: v.opts.RemotePrincipals}
	for _, td := range v.opts.TrustDomains {
		idx.trustDomains[td] = true
		for a := range accounts {
			idx.local = append(idx.local, td+a)
			idx.exact[td+a] = true
		}
	}
	return idx
}

// checkPrincipal tells, as Kiali does, whether a principal names a service
// account of this cluster (KIA0106 if not), of a foreign trust domain
// (KIA0108) or of another cluster of the mesh (KIA0107). "*" matches all,
// and a leading or trailing "*" matches a prefix or suffix.
func (v *validation) checkPrincipal(idx *principalIndex, o *inventory.Object, path, p string) {
	if p == "*" || idx.exact[p] || (strings.Contains(p, "*") && matchesAny(p, idx.local)) {
		return
	}
	if td, rest, ok := strings.Cut(p, "/"); ok && strings.HasPrefix(rest, "ns/") && !strings.Contains(p, "*") && !idx.trustDomains[td] {
		v.add(KIA0108, o, path, "principal %q is in trust domain %s; the mesh's are %s", p, td, strings.Join(v.opts.TrustDomains, ", "))
		return
	}
	if matchesAny(p, idx.remote) {
		v.add(KIA0107, o, path, "principal %q is a service account of another cluster", p)
		return
	}
	v.add(KIA0106, o, path, "no service account is principal %q", p)
}

// matchesAny tells whether pattern (maybe with a leading or trailing "*")
// matches one of principals.
func matchesAny(pattern string, principals []string) bool {
	prefix, suffix := strings.HasSuffix(pattern, "*"), strings.HasPrefix(pattern, "*")
	core := strings.Trim(pattern, "*")
	for _, p := range principals {
		switch {
		case prefix && suffix && strings.Contains(p, core),
			prefix && !suffix && strings.HasPrefix(p, core),
			suffix && !prefix && strings.HasSuffix(p, core),
			!prefix && !suffix && p == pattern:
			return true
		}
	}
	return false
}

// uncoveredWorkloads flags workloads that no AuthorizationPolicy of their
// namespace or of the root namespace applies to (KIA1301), when asked.
func (v *validation) uncoveredWorkloads() {
	if !v.opts.UncoveredWorkloads {
		return
	}
	type policy struct {
		ns       string
		selector map[string]string
	}
	var policies []policy
	for _, o := range v.snap.Of("AuthorizationPolicy") {
		sel, _, _ := selectorOf(o)
		policies = append(policies, policy{o.Namespace, sel})
	}
	for _, w := range v.snap.Workloads {
		covered := false
		for _, p := range policies {
			if (p.ns == v.opts.RootNamespace || p.ns == w.Namespace) && inventory.Selects(p.selector, w.Labels) {
				covered = true
				break
			}
		}
		if !covered {
			v.add(KIA1301, w.Object, "workload", "no AuthorizationPolicy in %s or %s applies to %s", w.Namespace, v.opts.RootNamespace, w.Name)
		}
	}
}
