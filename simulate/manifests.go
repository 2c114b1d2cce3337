package simulate

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// bookinfoManifests is bookinfo's Kubernetes and Istio configuration:
// what the simulated bookinfo would be deployed with.
//
//go:embed bookinfo.yaml
var bookinfoManifests []byte

// Manifests returns the mesh's Kubernetes configuration as YAML: for
// bookinfo, its shipped manifests (Gateway, VirtualServices,
// DestinationRules with subsets, PeerAuthentication); for a synthetic
// mesh, its Namespaces, Deployments and Services.
func (m *Mesh) Manifests() []byte {
	if m.manifests != nil {
		return m.manifests
	}
	var b strings.Builder
	doc := func(format string, args ...any) { fmt.Fprintf(&b, "---\n"+format+"\n", args...) }
	for _, ns := range m.Namespaces {
		injection := "enabled"
		doc("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {istio-injection: %s}", ns.Name, injection)
	}
	for _, w := range m.Workloads {
		labels := fmt.Sprintf("app: %s", w.App)
		if w.Version != "" {
			labels += ", version: " + w.Version
		}
		inject := ""
		if w.NoSidecar {
			inject = "\n      annotations: {sidecar.istio.io/inject: \"false\"}"
		}
		port := 8080
		if svc := m.ServiceOf(w); svc != nil {
			port = svc.Port
		}
		doc("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, namespace: %s}\nspec:\n  selector:\n    matchLabels: {%s}\n  template:\n    metadata:\n      labels: {%s}%s\n    spec:\n      serviceAccountName: %s\n      containers:\n        - name: %s\n          ports: [{containerPort: %d}]",
			w.Name, w.Namespace, labels, labels, inject, w.ServiceAccount, w.App, port)
	}
	for _, s := range m.Services {
		if s.External {
			doc("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: %s, namespace: %s}\nspec:\n  hosts: [%s]\n  location: MESH_EXTERNAL\n  ports: [{number: %d, name: tls, protocol: TLS}]\n  resolution: DNS",
				strings.ReplaceAll(s.Name, ".", "-"), s.Namespace, s.Name, s.Port)
			continue
		}
		doc("apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\nspec:\n  selector: {app: %s}\n  ports: [{name: %s, port: %d}]",
			s.Name, s.Namespace, s.App, s.Protocol, s.Port)
	}
	return []byte(b.String())
}

// retryPolicies are the retry policies of the VirtualServices in
// manifests, by the short host name they route (the first route with
// retries of each).
func retryPolicies(manifests []byte) map[string]RetryPolicy {
	out := map[string]RetryPolicy{}
	dec := yaml.NewDecoder(bytes.NewReader(manifests))
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Hosts []string `yaml:"hosts"`
				HTTP  []struct {
					Retries *struct {
						Attempts int    `yaml:"attempts"`
						RetryOn  string `yaml:"retryOn"`
					} `yaml:"retries"`
				} `yaml:"http"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				panic(fmt.Sprintf("simulate: the embedded manifests do not parse: %v", err))
			}
			return out
		}
		if doc.Kind != "VirtualService" {
			continue
		}
		for _, route := range doc.Spec.HTTP {
			if route.Retries == nil {
				continue
			}
			for _, h := range doc.Spec.Hosts {
				if _, seen := out[h]; !seen {
					out[h] = RetryPolicy{Attempts: route.Retries.Attempts, On5xx: strings.Contains(route.Retries.RetryOn, "5xx")}
				}
			}
			break
		}
	}
}
