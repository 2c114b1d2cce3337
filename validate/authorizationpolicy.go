package validate

import (
	"fmt"
	"regexp"
	"strings"

	apisecurity "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// grpcMethod is a fully-qualified gRPC method: /package.Service/Method.
var grpcMethod = regexp.MustCompile(`^/[A-Za-z_][\w.]*\.[A-Za-z_]\w*/[A-Za-z_]\w*$`)

func (v *validation) authorizationPolicies() {
	accounts := map[string]bool{}
	for _, o := range v.snap.Of("ServiceAccount") {
		accounts[o.Namespace+"/"+o.Name] = true
	}
	for _, w := range v.snap.Workloads {
		accounts[w.Namespace+"/"+w.ServiceAccount] = true
	}
	for _, o := range v.snap.Of("AuthorizationPolicy") {
		ap := &o.Typed.(*securityv1.AuthorizationPolicy).Spec
		eachSource(ap, func(path string, src *apisecurity.Source) {
			for k, ns := range src.Namespaces {
				if !strings.Contains(ns, "*") && !v.snap.HasNamespace(ns) {
					v.add(KIA0101, o, fmt.Sprintf("%s/namespaces[%d]", path, k), "namespace %q not found", ns)
				}
			}
			for k, p := range src.Principals {
				// cluster.local/ns/<namespace>/sa/<account>
				parts := strings.Split(p, "/")
				if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" || strings.Contains(p, "*") {
					continue
				}
				if !accounts[parts[2]+"/"+parts[4]] {
					v.add(KIA0106, o, fmt.Sprintf("%s/principals[%d]", path, k), "service account %s/%s not found", parts[2], parts[4])
				}
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
