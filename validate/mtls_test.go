package validate

import (
	"strings"
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

const mtlsBase = `apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart-v1, namespace: shop}
spec:
  template:
    metadata: {labels: {app: cart, version: v1}}
    spec:
      containers: [{name: cart, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{name: http, port: 8080}]
`

const (
	meshStrict     = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n"
	meshDisable    = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: DISABLE}}\n"
	shopStrict     = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: STRICT}}\n"
	shopDisable    = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: DISABLE}}\n"
	meshDRMutual   = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: mesh, namespace: istio-system}\nspec: {host: \"*.local\", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n"
	meshDRDisable  = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: mesh, namespace: istio-system}\nspec: {host: \"*.local\", trafficPolicy: {tls: {mode: DISABLE}}}\n"
	shopDRMutual   = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: shop, namespace: shop}\nspec: {host: \"*.shop.svc.cluster.local\", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n"
	shopDRDisable  = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: shop, namespace: shop}\nspec: {host: \"*.shop.svc.cluster.local\", trafficPolicy: {tls: {mode: DISABLE}}}\n"
	apPrincipals   = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: shop}\nspec:\n  rules:\n    - from: [{source: {principals: [cluster.local/ns/shop/sa/default]}}]\n"
	cartDRLocal    = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: cart, namespace: shop}\nspec: {host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n"
	meshPermissive = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: PERMISSIVE}}\n"
	shopPermissive = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: PERMISSIVE}}\n"
	cartPAStrict   = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: cart, namespace: shop}\nspec: {selector: {matchLabels: {app: cart}}, mtls: {mode: STRICT}}\n"
	cartPADisable  = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: cart, namespace: shop}\nspec: {selector: {matchLabels: {app: cart}}, mtls: {mode: DISABLE}}\n"
	apCart         = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap-cart, namespace: shop}\nspec:\n  selector: {matchLabels: {app: cart}}\n  rules:\n    - from: [{source: {namespaces: [shop]}}]\n"
	apEveryField   = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap-all, namespace: shop}\nspec:\n  rules:\n    - from: [{source: {notPrincipals: [cluster.local/ns/x/sa/y], notNamespaces: [x]}}]\n      when: [{key: source.principal, values: [a]}, {key: \"request.headers[x]\", values: [b]}, {key: connection.sni, values: [c]}]\n"
	cartDRNoTLS    = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: cart, namespace: shop}\nspec: {host: cart, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}\n"
	cartDRPortTLS  = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: cart, namespace: shop}\nspec: {host: cart, trafficPolicy: {portLevelSettings: [{port: {number: 8080}, tls: {mode: ISTIO_MUTUAL}}]}}\n"
	externalNoTLS  = "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: shop}\nspec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api, namespace: shop}\nspec: {host: api.example.com, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}\n"
)

// autoMTLS says which of Istio's auto-mTLS settings a row holds for.
type autoMTLS int

const (
	autoOn autoMTLS = iota + 1
	autoOff
	autoEither
)

// TestMTLSTruthTable states Kiali's answers for the mutual TLS family, row
// by row, for auto mTLS on (Istio's default) and off. Each row names the
// objects beside the mesh (namespace shop, service cart) and the findings
// Kiali gives; none other may appear.
func TestMTLSTruthTable(t *testing.T) {
	dr := "spec/trafficPolicy/tls/mode"
	pa := "spec/mtls"
	ap := "spec/rules[0]/from[0]/source/principals"
	cases := []struct {
		name  string
		yaml  string
		auto  autoMTLS
		wants []want
	}{
		// DestinationRules enabling mTLS need a PeerAuthentication accepting it, unless auto mTLS is on.
		{"KIA0205 a mesh-wide rule sending mTLS without a mesh PeerAuthentication, auto mTLS off", meshDRMutual, autoOff, []want{{"KIA0205", "mesh", dr}}},
		{"no KIA0205 with auto mTLS on", meshDRMutual, autoOn, nil},
		{"no KIA0205 with a STRICT mesh PeerAuthentication", meshDRMutual + meshStrict + apPrincipals, autoEither, nil},
		{"no KIA0205 with a PERMISSIVE mesh PeerAuthentication", meshDRMutual + meshPermissive, autoEither, nil},
		{"KIA0205 and KIA0506 a mesh rule sending mTLS to a mesh that disables it, auto mTLS off", meshDRMutual + meshDisable, autoOff, []want{{"KIA0205", "mesh", dr}, {"KIA0506", "default", pa}}},
		{"KIA0506 alone with auto mTLS on", meshDRMutual + meshDisable, autoOn, []want{{"KIA0506", "default", pa}}},
		{"KIA0206 a namespace rule sending mTLS without a PeerAuthentication, auto mTLS off", shopDRMutual, autoOff, []want{{"KIA0206", "shop", dr}}},
		{"no KIA0206 with auto mTLS on", shopDRMutual, autoOn, nil},
		{"no KIA0206 with a PERMISSIVE namespace PeerAuthentication", shopDRMutual + shopPermissive, autoEither, nil},
		{"no KIA0206 when the mesh PeerAuthentication is STRICT", shopDRMutual + meshStrict + meshDRMutual, autoEither, nil},
		{"a namespace rule for another namespace is not namespace-wide", strings.ReplaceAll(shopDRMutual, "namespace: shop", "namespace: istio-system"), autoOff, nil},
		// DestinationRules disabling TLS where the server side is STRICT: where the STRICT policy lives names the code.
		{"KIA0207 a namespace rule disabling TLS under a STRICT namespace policy", shopDRDisable + shopStrict, autoOn, []want{{"KIA0207", "shop", dr}}},
		{"KIA0207 and KIA0501 with auto mTLS off", shopDRDisable + shopStrict, autoOff, []want{{"KIA0207", "shop", dr}, {"KIA0501", "default", pa}}},
		{"KIA0208 a namespace rule disabling TLS under a STRICT mesh policy", shopDRDisable + meshStrict + meshDRMutual, autoEither, []want{{"KIA0208", "shop", dr}}},
		{"no KIA0208 when the namespace policy is PERMISSIVE", shopDRDisable + shopPermissive + meshStrict + meshDRMutual, autoEither, nil},
		{"no KIA0208 when the namespace policy disables mTLS too", shopDRDisable + shopDisable + meshStrict + meshDRMutual, autoEither, nil},
		{"a workload policy does not make a namespace rule wrong", shopDRDisable + cartPAStrict, autoEither, nil},
		{"KIA0208 a mesh rule disabling TLS under a STRICT mesh policy", meshDRDisable + meshStrict, autoOn, []want{{"KIA0208", "mesh", dr}}},
		{"KIA0208 and KIA0401 a mesh rule disabling TLS under a STRICT mesh policy, auto mTLS off", meshDRDisable + meshStrict, autoOff, []want{{"KIA0208", "mesh", dr}, {"KIA0401", "default", pa}}},
		{"a mesh rule disabling TLS is checked against the mesh policy only", meshDRDisable + shopStrict, autoOn, nil},
		// PeerAuthentications: STRICT needs a rule sending mTLS unless auto mTLS is on; DISABLE contradicts a rule sending it.
		{"KIA0401 a STRICT mesh without a mesh rule, auto mTLS off", meshStrict, autoOff, []want{{"KIA0401", "default", pa}}},
		{"no KIA0401 with auto mTLS on", meshStrict, autoOn, nil},
		{"no KIA0401 with a mesh rule sending mTLS", meshStrict + meshDRMutual, autoOff, nil},
		{"no KIA0506 for a mesh disabling mTLS without any rule", meshDisable, autoEither, nil},
		{"no KIA0506 with a mesh rule disabling TLS", meshDisable + meshDRDisable, autoEither, nil},
		{"KIA0501 a STRICT namespace without a rule, auto mTLS off", shopStrict, autoOff, []want{{"KIA0501", "default", pa}}},
		{"no KIA0501 with auto mTLS on", shopStrict, autoOn, nil},
		{"no KIA0501 with a mesh rule sending mTLS", shopStrict + meshDRMutual + meshStrict, autoOff, nil},
		{"no KIA0505 for a namespace disabling mTLS without any rule", shopDisable, autoOn, nil},
		{"KIA0505 a namespace disabling mTLS with a namespace rule sending it", shopDisable + shopDRMutual, autoOn, []want{{"KIA0505", "default", pa}}},
		{"KIA0505 and KIA0206 with auto mTLS off", shopDisable + shopDRMutual, autoOff, []want{{"KIA0505", "default", pa}, {"KIA0206", "shop", dr}}},
		{"KIA0505 a namespace disabling mTLS with a mesh rule sending it", shopDisable + meshDRMutual + meshStrict, autoEither, []want{{"KIA0505", "default", pa}}},
		{"no KIA0505 when the namespace rule disables TLS under a mesh rule sending it", shopDisable + shopDRDisable + meshDRMutual + meshStrict, autoEither, nil},
		{"no KIA0501 for a workload policy", cartPAStrict, autoOff, nil},
		// AuthorizationPolicies that need a peer identity (KIA0105), one finding per field.
		{"no KIA0105 with nothing configured and auto mTLS on", apPrincipals, autoOn, nil},
		{"KIA0105 with nothing configured and auto mTLS off", apPrincipals, autoOff, []want{{"KIA0105", "ap", ap}}},
		{"no KIA0105 under a STRICT mesh with auto mTLS on", apPrincipals + meshStrict, autoOn, nil},
		{"KIA0105 under a STRICT mesh without a rule, auto mTLS off", apPrincipals + meshStrict, autoOff, []want{{"KIA0105", "ap", ap}, {"KIA0401", "default", pa}}},
		{"no KIA0105 under a PERMISSIVE namespace with auto mTLS on", apPrincipals + shopPermissive, autoOn, nil},
		{"KIA0105 where a namespace rule disables TLS under a STRICT mesh", apPrincipals + shopDRDisable + meshStrict, autoOn, []want{{"KIA0105", "ap", ap}, {"KIA0208", "shop", dr}}},
		{"KIA0105 where the namespace disables mTLS", apPrincipals + shopDisable, autoOn, []want{{"KIA0105", "ap", ap}}},
		{"KIA0105 where the selected workload's policy disables mTLS", apCart + cartPADisable + meshStrict, autoOn, []want{{"KIA0105", "ap-cart", "spec/rules[0]/from[0]/source/namespaces"}}},
		{"no KIA0105 where the selected workload's policy is STRICT", apCart + cartPAStrict, autoOff, nil},
		{"KIA0105 once per field that needs mTLS", apEveryField, autoOff, []want{
			{"KIA0105", "ap-all", "spec/rules[0]/from[0]/source/notPrincipals"}, {"KIA0105", "ap-all", "spec/rules[0]/from[0]/source/notNamespaces"},
			{"KIA0105", "ap-all", "spec/rules[0]/when[0]"}, {"KIA0105", "ap-all", "spec/rules[0]/when[2]"}}},
		// A rule without TLS settings loses the wider rule's mTLS for its host (KIA0204, a warning).
		{"KIA0204 a host rule without TLS under a mesh rule sending mTLS, auto mTLS off", meshDRMutual + meshStrict + cartDRNoTLS, autoOff, []want{{"KIA0204", "cart", "spec/trafficPolicy"}}},
		{"no KIA0204 with auto mTLS on", meshDRMutual + meshStrict + cartDRNoTLS, autoOn, nil},
		{"KIA0204 a host rule without TLS under its namespace's rule sending mTLS, auto mTLS off", shopDRMutual + shopStrict + cartDRNoTLS, autoOff, []want{{"KIA0204", "cart", "spec/trafficPolicy"}}},
		{"no KIA0204 for a host rule that sets TLS", meshDRMutual + meshStrict + cartDRLocal, autoEither, nil},
		{"no KIA0204 for a host rule that sets TLS on a port", meshDRMutual + meshStrict + cartDRPortTLS, autoEither, nil},
		{"no KIA0204 for a host outside the namespace whose rule sends mTLS", shopDRMutual + shopStrict + externalNoTLS, autoOff, nil},
		{"no KIA0204 without a wider rule sending mTLS", cartDRNoTLS, autoEither, nil},
	}
	for _, tc := range cases {
		for _, auto := range []autoMTLS{autoOn, autoOff} {
			if tc.auto != autoEither && tc.auto != auto {
				continue
			}
			name := tc.name
			if tc.auto == autoEither {
				name += map[autoMTLS]string{autoOn: " (auto mTLS on)", autoOff: " (auto mTLS off)"}[auto]
			}
			t.Run(name, func(t *testing.T) {
				objects, errs := inventory.Parse("mtls.yaml", []byte(mtlsBase+tc.yaml))
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				assertFindings(t, Run(inventory.NewSnapshot(objects), Options{NoAutoMTLS: auto == autoOff}), tc.wants)
			})
		}
	}
}
