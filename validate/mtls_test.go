package validate

import (
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
	meshStrict      = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n"
	meshDisable     = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: DISABLE}}\n"
	shopStrict      = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: STRICT}}\n"
	shopDisable     = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: DISABLE}}\n"
	meshDRMutual    = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: mesh, namespace: istio-system}\nspec: {host: \"*.local\", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n"
	meshDRDisable   = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: mesh, namespace: istio-system}\nspec: {host: \"*.local\", trafficPolicy: {tls: {mode: DISABLE}}}\n"
	shopDRMutual    = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: shop, namespace: shop}\nspec: {host: \"*.shop.svc.cluster.local\", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n"
	shopDRDisable   = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: shop, namespace: shop}\nspec: {host: \"*.shop.svc.cluster.local\", trafficPolicy: {tls: {mode: DISABLE}}}\n"
	apPrincipals    = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: shop}\nspec:\n  rules:\n    - from: [{source: {principals: [cluster.local/ns/shop/sa/default]}}]\n"
	cartDRLocal     = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: cart, namespace: shop}\nspec: {host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n"
	cartDRElsewhere = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: cart-from-afar, namespace: istio-system}\nspec: {host: cart.shop.svc.cluster.local, trafficPolicy: {tls: {mode: DISABLE}}}\n"
)

func TestMTLS(t *testing.T) {
	cases := []struct {
		name       string
		yaml       string
		noAutoMTLS bool
		wants      []want
	}{
		{"strict everywhere with matching rules is clean", meshStrict + meshDRMutual + apPrincipals, true, nil},
		{"KIA0205 a mesh-wide rule enabling mTLS without a mesh PeerAuthentication", meshDRMutual, false, []want{{"KIA0205", "mesh", "spec/trafficPolicy/tls/mode"}}},
		{"KIA0206 a namespace rule enabling mTLS that no PeerAuthentication backs", shopDRMutual, false, []want{{"KIA0206", "shop", "spec/trafficPolicy/tls/mode"}}},
		{"no KIA0206 when the mesh PeerAuthentication enables mTLS", meshStrict + shopDRMutual, false, nil},
		{"KIA0207 a namespace rule disabling TLS where mTLS is strict", shopStrict + shopDRDisable, false, []want{{"KIA0207", "shop", "spec/trafficPolicy/tls/mode"}}},
		{"KIA0208 a mesh rule disabling TLS where the mesh is strict", meshStrict + meshDRDisable, false, []want{{"KIA0208", "mesh", "spec/trafficPolicy/tls/mode"}}},
		{"KIA0401 a strict mesh without a mesh rule, auto mTLS off", meshStrict, true, []want{{"KIA0401", "default", "spec/mtls"}}},
		{"no KIA0401 with auto mTLS on", meshStrict, false, nil},
		{"KIA0501 a strict namespace without a rule, auto mTLS off", shopStrict, true, []want{{"KIA0501", "default", "spec/mtls"}}},
		{"KIA0505 a namespace disabling mTLS without a rule, auto mTLS off", shopDisable, true, []want{{"KIA0505", "default", "spec/mtls"}}},
		{"KIA0506 a mesh disabling mTLS without a rule, auto mTLS off", meshDisable, true, []want{{"KIA0506", "default", "spec/mtls"}}},
		{"no KIA0506 with a rule disabling TLS", meshDisable + meshDRDisable, true, nil},
		{"KIA0105 principals where nothing requires mTLS", apPrincipals, false, []want{{"KIA0105", "ap", "spec/rules[0]/from[0]/source/principals"}}},
		{"KIA0204 TLS for a host set from another namespace, overridden locally", cartDRLocal + cartDRElsewhere + meshStrict, false, []want{{"KIA0204", "cart-from-afar", "spec/trafficPolicy/tls"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objects, errs := inventory.Parse("mtls.yaml", []byte(mtlsBase+tc.yaml))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			assertFindings(t, Run(inventory.NewSnapshot(objects), Options{NoAutoMTLS: tc.noAutoMTLS}), tc.wants)
		})
	}
}
