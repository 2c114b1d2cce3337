package graph

import (
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/telemetry"
)

// appendIdleNodes adds, for the namespaces asked, the services and
// workloads the inventory knows but the telemetry never saw, marked idle:
// Kiali's "idle nodes", to find what is deployed and unused.
func appendIdleNodes(b *builder, inv *inventory.Snapshot, namespaces []string) {
	asked := map[string]bool{}
	for _, ns := range namespaces {
		asked[ns] = true
	}
	frozen := b.frozen
	b.frozen = false
	defer func() { b.frozen = frozen }()
	existing := map[string]bool{}
	for id := range b.g.nodes {
		existing[id] = true
	}
	mark := func(n *Node) {
		if !existing[n.ID] {
			n.IsIdle = true
		}
	}
	for _, svc := range inv.Services {
		if !asked[svc.Namespace] {
			continue
		}
		if b.g.Type == TypeService || b.inject {
			mark(b.serviceNode(ServiceName{Cluster: telemetry.DefaultCluster, Namespace: svc.Namespace, Name: svc.Name}))
		}
	}
	if b.g.Type == TypeService {
		return
	}
	for _, w := range inv.Workloads {
		if !asked[w.Namespace] {
			continue
		}
		version := w.Version
		if version == "" {
			version = "latest"
		}
		app := w.App
		if app == "" {
			app = w.Name
		}
		mark(b.workloadNode(endpoint{cluster: telemetry.DefaultCluster, namespace: w.Namespace, workload: w.Name, app: app, version: version}))
	}
}

// appendSidecarsCheck flags workload and app nodes whose workloads run
// without an Istio proxy, per the inventory.
func appendSidecarsCheck(g *Graph, inv *inventory.Snapshot) {
	missing := map[string]bool{}
	for _, w := range inv.Workloads {
		if !w.Sidecar {
			missing[w.Namespace+"/"+w.Name] = true
		}
	}
	for _, n := range g.nodes {
		if n.Workload != "" && n.Workload != telemetry.Unknown && missing[n.Namespace+"/"+n.Workload] {
			n.HasMissingSidecar = true
		}
	}
}
