// Package simulate runs an Istio service mesh on loopback: real HTTP, gRPC-
// like and TCP services whose simulated sidecars serve Istio's standard
// metrics on /stats/prometheus, a load generator, and fault knobs. It also
// builds large synthetic meshes and can emit their metrics without running
// their servers, for benchmarks.
package simulate

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/meshlens/meshlens/telemetry"
)

// Cluster is the name sidecars report in source_cluster and destination_cluster.
const Cluster = telemetry.DefaultCluster

// TrustDomain is the SPIFFE trust domain of the simulated mesh.
const TrustDomain = "cluster.local"

// Mesh is a mesh's topology: what runs where and who calls whom.
type Mesh struct {
	Namespaces []Namespace
	Services   []*Service
	Workloads  []*Workload
	// Entrypoints are where the load generator sends traffic from outside the mesh.
	Entrypoints []Entrypoint
	// manifests, when set, are the mesh's shipped configuration (see Manifests).
	manifests []byte
}

// Namespace is a Kubernetes namespace of the mesh.
type Namespace struct {
	Name string
	// MTLS: workloads here accept mutual TLS only (a STRICT PeerAuthentication).
	MTLS bool
}

// Service is a Kubernetes Service, or with External an outside host
// registered by a ServiceEntry.
type Service struct {
	Name      string
	Namespace string
	Port      int
	Protocol  string // telemetry.ProtocolHTTP, ProtocolGRPC or ProtocolTCP
	// App selects the workloads behind the service by their app label.
	App string
	// External marks a ServiceEntry host: Name is the host, and nothing
	// behind it has a sidecar.
	External bool
	// Retries is the route's retry policy (a VirtualService's
	// http[].retries), which callers' sidecars apply.
	Retries RetryPolicy
}

// RetryPolicy is how many times a caller's sidecar retries a call, and on
// what, as a VirtualService's retries say it.
type RetryPolicy struct {
	// Attempts is the number of retries after the first try.
	Attempts int
	// On5xx retries answers 500-599 and calls that got no answer
	// (retryOn 5xx); else only gateway errors 502-504 and connection
	// failures (retryOn gateway-error / connect-failure).
	On5xx bool
}

// retries tells whether an answer (code, Envoy's flags) is retried.
func (r RetryPolicy) retries(code int, flags string) bool {
	switch {
	case r.Attempts == 0:
		return false
	case flags == "UF" || flags == "UC":
		return true
	case r.On5xx:
		return code >= 500 && code <= 599
	}
	return code >= 502 && code <= 504
}

// Host is the name callers use, and what Istio reports as destination_service.
func (s *Service) Host() string {
	if s.External {
		return s.Name
	}
	return fmt.Sprintf("%s.%s.svc.%s", s.Name, s.Namespace, TrustDomain)
}

// Workload is a Deployment: one pod of one version of an app.
type Workload struct {
	Name           string
	Namespace      string
	App            string
	Version        string // empty for workloads without a version label
	ServiceAccount string
	// Gateway: an Istio ingress gateway, which reports only outbound traffic
	// (reporter="source") and answers with what its route answered.
	Gateway bool
	// NoSidecar: the pod runs without an Istio proxy, so it reports nothing.
	NoSidecar bool
	// Calls are made for every request the workload serves, each with its probability.
	Calls []Call
	// ResponseBytes is the size of a successful answer's body.
	ResponseBytes int
}

// Call is one downstream call a workload makes while serving a request.
type Call struct {
	Service *Service
	Path    string
	// Probability that the call is made for a given request; 0 means always.
	Probability float64
}

// Entrypoint is a service the load generator calls from outside the mesh.
type Entrypoint struct {
	Service *Service
	Path    string
	// Weight is the share of the load sent here, relative to the other entrypoints.
	Weight float64
}

// Key identifies a workload across namespaces.
func (w *Workload) Key() string { return w.Namespace + "/" + w.Name }

// Pod is the name of the workload's single pod, stable across runs
// (Deployment name, ReplicaSet hash, pod suffix, as Kubernetes names them).
func (w *Workload) Pod() string {
	return fmt.Sprintf("%s-%s-%s", w.Name, podHash(w.Key()+"/replicaset", 10), podHash(w.Key()+"/pod", 5))
}

func podHash(seed string, n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	h := fnv.New64a()
	h.Write([]byte(seed))
	sum := h.Sum64()
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[sum%uint64(len(alphabet))]
		sum /= uint64(len(alphabet))
	}
	return string(b)
}

func (w *Workload) peer(mesh *Mesh) peer {
	version := w.Version
	revision := w.Version
	if version == "" {
		version = telemetry.Unknown
		revision = "latest"
	}
	return peer{
		Workload:          w.Name,
		Namespace:         w.Namespace,
		Principal:         fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", TrustDomain, w.Namespace, w.ServiceAccount),
		App:               w.App,
		Version:           version,
		CanonicalService:  w.App,
		CanonicalRevision: revision,
		Cluster:           Cluster,
	}
}

// MTLS tells whether workloads in namespace ns require mutual TLS.
func (m *Mesh) MTLS(ns string) bool {
	for _, n := range m.Namespaces {
		if n.Name == ns {
			return n.MTLS
		}
	}
	return false
}

// Backends are the workloads behind s, in a stable order.
func (m *Mesh) Backends(s *Service) []*Workload {
	if s.External {
		return nil
	}
	var out []*Workload
	for _, w := range m.Workloads {
		if w.Namespace == s.Namespace && w.App == s.App {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ServiceOf is the in-mesh service in front of w, or nil.
func (m *Mesh) ServiceOf(w *Workload) *Service {
	for _, svc := range m.Services {
		if !svc.External && svc.Namespace == w.Namespace && svc.App == w.App {
			return svc
		}
	}
	return nil
}

// mutualTLS tells whether traffic from src to dst (nil: outside the mesh,
// or an external host) is mutual TLS: both have a sidecar and the
// destination's namespace asks for it.
func (m *Mesh) mutualTLS(src, dst *Workload) bool {
	return src != nil && dst != nil && !src.NoSidecar && !dst.NoSidecar && m.MTLS(dst.Namespace)
}

// Workload finds a workload by namespace and name.
func (m *Mesh) Workload(namespace, name string) *Workload {
	for _, w := range m.Workloads {
		if w.Namespace == namespace && w.Name == name {
			return w
		}
	}
	return nil
}

// Validate checks that every call and entrypoint names a service of the mesh
// and that names are unique.
func (m *Mesh) Validate() error {
	services := map[*Service]bool{}
	for _, s := range m.Services {
		services[s] = true
	}
	seen := map[string]bool{}
	for _, w := range m.Workloads {
		if seen[w.Key()] {
			return fmt.Errorf("workload %s is defined twice", w.Key())
		}
		seen[w.Key()] = true
		for _, c := range w.Calls {
			if !services[c.Service] {
				return fmt.Errorf("workload %s calls a service that is not in the mesh", w.Key())
			}
		}
	}
	for _, e := range m.Entrypoints {
		if !services[e.Service] {
			return fmt.Errorf("entrypoint %s is not a service of the mesh", e.Service.Host())
		}
	}
	return nil
}

// Bookinfo is Istio's sample application as Istio ships it: the ingress
// gateway in istio-system in front of productpage, which calls details and
// reviews (v1, v2, v3, round robin); reviews v2 and v3 call ratings, which
// reads from a MongoDB-like TCP service. Beside it, a report job in
// namespace batch (called by the load generator, 5 % of the load) reads
// bookinfo's archive, which runs without a sidecar: calls only their
// caller reports, from a namespace a graph of bookinfo does not ask for.
func Bookinfo() *Mesh {
	const ns = "bookinfo"
	svc := func(name string, port int, protocol string) *Service {
		return &Service{Name: name, Namespace: ns, Port: port, Protocol: protocol, App: name}
	}
	gatewaySvc := &Service{Name: "istio-ingressgateway", Namespace: "istio-system", Port: 80, Protocol: telemetry.ProtocolHTTP, App: "istio-ingressgateway"}
	productpage := svc("productpage", 9080, telemetry.ProtocolHTTP)
	details := svc("details", 9080, telemetry.ProtocolHTTP)
	reviews := svc("reviews", 9080, telemetry.ProtocolHTTP)
	ratings := svc("ratings", 9080, telemetry.ProtocolHTTP)
	mongodb := svc("mongodb", 27017, telemetry.ProtocolTCP)
	archive := svc("archive", 9080, telemetry.ProtocolHTTP)
	reports := &Service{Name: "reports", Namespace: "batch", Port: 8080, Protocol: telemetry.ProtocolHTTP, App: "reports"}

	wl := func(app, version string, size int, calls ...Call) *Workload {
		return &Workload{Name: app + "-" + version, Namespace: ns, App: app, Version: version,
			ServiceAccount: "bookinfo-" + app, ResponseBytes: size, Calls: calls}
	}
	toRatings := Call{Service: ratings, Path: "/ratings/0"}
	mesh := &Mesh{
		Namespaces: []Namespace{{Name: "istio-system", MTLS: true}, {Name: ns, MTLS: true}, {Name: "batch"}},
		Services:   []*Service{gatewaySvc, productpage, details, reviews, ratings, mongodb, archive, reports},
		Workloads: []*Workload{
			{Name: "istio-ingressgateway", Namespace: "istio-system", App: "istio-ingressgateway",
				ServiceAccount: "istio-ingressgateway-service-account", Gateway: true,
				Calls: []Call{{Service: productpage}}},
			wl("productpage", "v1", 5183, Call{Service: details, Path: "/details/0"}, Call{Service: reviews, Path: "/reviews/0"}),
			wl("details", "v1", 178),
			wl("reviews", "v1", 358),
			wl("reviews", "v2", 449, toRatings),
			wl("reviews", "v3", 449, toRatings),
			wl("ratings", "v1", 48, Call{Service: mongodb}),
			wl("mongodb", "v1", 96),
			{Name: "archive-v1", Namespace: ns, App: "archive", Version: "v1", ServiceAccount: "bookinfo-archive", ResponseBytes: 2048, NoSidecar: true},
			{Name: "reports-v1", Namespace: "batch", App: "reports", Version: "v1", ServiceAccount: "batch-reports", ResponseBytes: 812,
				Calls: []Call{{Service: archive, Path: "/archive/ratings"}}},
		},
		Entrypoints: []Entrypoint{{Service: gatewaySvc, Path: "/productpage", Weight: 0.95}, {Service: reports, Path: "/reports/daily", Weight: 0.05}},
		manifests:   bookinfoManifests,
	}
	// The retry policies are the manifests': the callers honour what the
	// console is shown.
	for host, policy := range retryPolicies(bookinfoManifests) {
		for _, s := range mesh.Services {
			if s.Name == host {
				s.Retries = policy
			}
		}
	}
	return mesh
}
