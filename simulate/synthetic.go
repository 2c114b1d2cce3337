package simulate

import (
	"fmt"
	"math/rand/v2"

	"github.com/meshlens/meshlens/telemetry"
)

// SyntheticOptions shape a synthetic mesh.
type SyntheticOptions struct {
	// Services is the number of in-mesh services (apps). Every fourth app
	// has two versions, so there are Services + Services/4 workloads.
	Services int
	// Namespaces spreads the services; default one per 80 services.
	Namespaces int
	// Layers of the call graph: each layer calls the next ones. Default 8.
	Layers int
	// Seed makes the mesh reproducible: the same seed, the same mesh.
	Seed uint64
}

// Synthetic builds a layered random mesh: an ingress gateway in front of
// the first layer, each service calling two to four services of deeper
// layers (most in its own namespace), over HTTP, gRPC and TCP (TCP services
// are leaves, like databases), a few calls to external ServiceEntry hosts,
// and some traffic from clients outside the mesh straight to services.
func Synthetic(o SyntheticOptions) (*Mesh, error) {
	if o.Services < 1 {
		return nil, fmt.Errorf("a synthetic mesh needs at least one service, got %d", o.Services)
	}
	if o.Namespaces <= 0 {
		o.Namespaces = max(1, o.Services/80)
	}
	if o.Namespaces > o.Services {
		o.Namespaces = o.Services
	}
	if o.Layers <= 0 {
		o.Layers = 8
	}
	o.Layers = min(o.Layers, o.Services)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d6573686c656e73))

	m := &Mesh{}
	m.Namespaces = append(m.Namespaces, Namespace{Name: "istio-system", MTLS: true})
	for i := range o.Namespaces {
		// Every fifth namespace runs without mutual TLS.
		m.Namespaces = append(m.Namespaces, Namespace{Name: fmt.Sprintf("mesh-%02d", i), MTLS: i%5 != 4})
	}
	layers := make([][]*Service, o.Layers)
	for i := range o.Services {
		layer := i * o.Layers / o.Services
		ns := m.Namespaces[1+i%o.Namespaces].Name
		protocol := telemetry.ProtocolHTTP
		switch r := rng.Float64(); {
		case layer == 0:
		case r < 0.1:
			protocol = telemetry.ProtocolTCP
		case r < 0.3:
			protocol = telemetry.ProtocolGRPC
		}
		name := fmt.Sprintf("svc-%04d", i)
		port := 8080
		switch protocol {
		case telemetry.ProtocolGRPC:
			port = 9090
		case telemetry.ProtocolTCP:
			port = 5432
		}
		svc := &Service{Name: name, Namespace: ns, Port: port, Protocol: protocol, App: name}
		m.Services = append(m.Services, svc)
		layers[layer] = append(layers[layer], svc)
	}
	var external []*Service
	for i := range max(2, o.Services/100) {
		svc := &Service{Name: fmt.Sprintf("api-%02d.example.com", i), Namespace: m.Namespaces[1+i%o.Namespaces].Name,
			Port: 443, Protocol: telemetry.ProtocolHTTP, External: true}
		external = append(external, svc)
		m.Services = append(m.Services, svc)
	}

	for i, svc := range m.Services {
		if svc.External {
			continue
		}
		layer := i * o.Layers / o.Services
		var calls []Call
		if svc.Protocol != telemetry.ProtocolTCP && layer < o.Layers-1 {
			n := 2 + rng.IntN(3)
			seen := map[*Service]bool{}
			for range n {
				var dst *Service
				switch r := rng.Float64(); {
				case r < 0.05:
					dst = external[rng.IntN(len(external))]
				default:
					next := layers[layer+1+rng.IntN(min(2, o.Layers-1-layer))]
					dst = next[rng.IntN(len(next))]
					// Most calls stay in the caller's namespace when they can.
					if r < 0.75 {
						for range 4 {
							if dst.Namespace == svc.Namespace {
								break
							}
							dst = next[rng.IntN(len(next))]
						}
					}
				}
				if seen[dst] {
					continue
				}
				seen[dst] = true
				calls = append(calls, Call{Service: dst, Path: "/" + dst.Name})
			}
			for j := range calls {
				calls[j].Probability = min(1, 1.5/float64(len(calls)))
			}
		}
		versions := []string{"v1"}
		if i%4 == 3 {
			versions = append(versions, "v2")
		}
		for _, v := range versions {
			m.Workloads = append(m.Workloads, &Workload{
				Name: svc.Name + "-" + v, Namespace: svc.Namespace, App: svc.Name, Version: v,
				ServiceAccount: svc.Name, Calls: calls, ResponseBytes: 200 + rng.IntN(4000),
			})
		}
	}

	gateway := &Service{Name: "istio-ingressgateway", Namespace: "istio-system", Port: 80, Protocol: telemetry.ProtocolHTTP, App: "istio-ingressgateway"}
	m.Services = append(m.Services, gateway)
	var gwCalls []Call
	for _, svc := range layers[0] {
		gwCalls = append(gwCalls, Call{Service: svc, Path: "/" + svc.Name, Probability: min(1, 2/float64(len(layers[0])))})
	}
	m.Workloads = append(m.Workloads, &Workload{Name: "istio-ingressgateway", Namespace: "istio-system",
		App: "istio-ingressgateway", ServiceAccount: "istio-ingressgateway-service-account", Gateway: true, Calls: gwCalls})
	m.Entrypoints = append(m.Entrypoints, Entrypoint{Service: gateway, Path: "/", Weight: 0.8})
	// Clients outside the mesh calling a few first-layer services directly:
	// the unknown source.
	for i, svc := range layers[0] {
		if i >= 3 {
			break
		}
		m.Entrypoints = append(m.Entrypoints, Entrypoint{Service: svc, Path: "/" + svc.Name, Weight: 0.2 / float64(min(3, len(layers[0])))})
	}
	return m, m.Validate()
}
