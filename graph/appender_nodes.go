package graph

import (
	"strings"

	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlens/meshlens/inventory"
)

// appendServiceEntries marks service nodes that stand for ServiceEntry
// hosts. With an inventory, the hosts of one ServiceEntry fold into one node
// named after it, with the entry's location; without one, any host outside
// the cluster's domain is taken for an external entry of its own.
func appendServiceEntries(g *Graph, inv *inventory.Snapshot) {
	if inv != nil {
		for _, o := range inv.Of("ServiceEntry") {
			se := o.Typed.(*networkingv1.ServiceEntry)
			var matched []*Node
			for _, n := range g.Nodes() {
				if n.Kind != KindService || n.IsServiceEntry != nil {
					continue
				}
				for _, h := range se.Spec.Hosts {
					if hostCovers(h, n.Service) {
						matched = append(matched, n)
						break
					}
				}
			}
			if len(matched) == 0 {
				continue
			}
			location := "MESH_EXTERNAL"
			if se.Spec.Location == apinetworking.ServiceEntry_MESH_INTERNAL {
				location = "MESH_INTERNAL"
			}
			keep := matched[0]
			keep.IsServiceEntry = &ServiceEntry{Location: location, Hosts: append([]string(nil), se.Spec.Hosts...)}
			keep.Service, keep.Namespace = o.Name, o.Namespace
			for _, other := range matched[1:] {
				g.mergeInto(other, keep)
			}
		}
	}
	for _, n := range g.nodes {
		if n.Kind != KindService || n.Service == PassthroughCluster || n.Service == BlackHoleCluster {
			continue
		}
		if n.IsServiceEntry == nil && strings.Contains(n.Service, ".") && !strings.HasSuffix(n.Service, ".svc.cluster.local") {
			n.IsServiceEntry = &ServiceEntry{Location: "MESH_EXTERNAL", Hosts: []string{n.Service}}
		}
	}
}

// removeDeadNodes drops edges without traffic, then nodes left without edges.
func removeDeadNodes(g *Graph) {
	for id, e := range g.edges {
		r := e.Rates
		if r.HTTP+r.GRPC+r.TCP <= 0 {
			delete(g.edges, id)
		}
	}
	linked := map[*Node]bool{}
	for _, e := range g.edges {
		linked[e.Source], linked[e.Dest] = true, true
	}
	for id, n := range g.nodes {
		if !linked[n] && n.Kind != KindBox {
			delete(g.nodes, id)
		}
	}
	g.sumNodes()
}

// markRootsAndOutside flags nodes nothing calls (roots) and nodes outside
// the namespaces asked for.
func markRootsAndOutside(g *Graph, namespaces []string) {
	in := map[*Node]bool{}
	for _, e := range g.edges {
		in[e.Dest] = true
	}
	asked := map[string]bool{}
	for _, ns := range namespaces {
		asked[ns] = true
	}
	for _, n := range g.nodes {
		n.IsRoot = !in[n]
		n.IsOutside = n.Kind != KindUnknown && !asked[n.Namespace]
	}
}

// rows are the rows of traffic into or out of the focus, as Kiali's node
// graph queries them: with service nodes, a workload's graph shows its
// callers through its service and its callees behind theirs (productpage-v1
// -> reviews -> reviews-v2 -> ratings -> ratings-v1), and only the traffic
// that involves it. Without a focus, every row.
func (f *Focus) rows(rows []row) []row {
	if f == nil {
		return rows
	}
	out := rows[:0:0]
	for _, r := range rows {
		if f.involves(r) {
			out = append(out, r)
		}
	}
	return out
}

func (f *Focus) involves(r row) bool {
	is := func(e endpoint) bool {
		if e.namespace != f.Namespace {
			return false
		}
		if f.Kind == "applications" {
			return e.app == f.Name
		}
		return e.workload == f.Name
	}
	if f.Kind == "services" {
		return r.service.Namespace == f.Namespace && r.service.Name == f.Name
	}
	return is(r.src) || is(r.dst)
}

// focus keeps, of a node graph, the nodes some edge still reaches: idle
// nodes and the like that the appenders added around it go.
func focus(g *Graph) {
	keep := map[*Node]bool{}
	for _, e := range g.edges {
		keep[e.Source], keep[e.Dest] = true, true
	}
	for id, n := range g.nodes {
		if !keep[n] {
			delete(g.nodes, id)
		}
	}
	g.sumNodes()
}

// addBoxes groups nodes into app, namespace and cluster boxes, innermost first.
func addBoxes(g *Graph, by []string) {
	want := map[string]bool{}
	for _, b := range by {
		want[b] = true
	}
	box := func(kind, key string, fill func(*Node)) *Node {
		id := nodeID("box|" + kind + "|" + key)
		if n, ok := g.nodes[id]; ok {
			return n
		}
		n := &Node{ID: id, Kind: KindBox, Box: kind}
		fill(n)
		g.nodes[id] = n
		return n
	}
	members := g.Nodes()
	if want["app"] && (g.Type == TypeApp || g.Type == TypeVersionedApp) {
		for _, n := range members {
			if n.Kind == KindApp && n.Parent == "" {
				b := box("app", n.Cluster+"|"+n.Namespace+"|"+n.App, func(b *Node) { b.Cluster, b.Namespace, b.App = n.Cluster, n.Namespace, n.App })
				n.Parent = b.ID
			}
		}
	}
	if want["namespace"] {
		for _, n := range g.Nodes() {
			if n.Parent == "" && n.Kind != KindUnknown && !(n.Kind == KindBox && n.Box != "app") {
				b := box("namespace", n.Cluster+"|"+n.Namespace, func(b *Node) { b.Cluster, b.Namespace = n.Cluster, n.Namespace })
				n.Parent = b.ID
			}
		}
	}
	if want["cluster"] {
		for _, n := range g.Nodes() {
			if n.Parent == "" && n.Kind != KindUnknown && !(n.Kind == KindBox && n.Box == "cluster") {
				b := box("cluster", n.Cluster, func(b *Node) { b.Cluster = n.Cluster })
				n.Parent = b.ID
			}
		}
	}
}

// hostCovers tells whether a ServiceEntry host (maybe "*.example.com") covers host.
func hostCovers(pattern, host string) bool {
	if pattern == host {
		return true
	}
	return strings.HasPrefix(pattern, "*.") && strings.HasSuffix(host, pattern[1:])
}

// mergeInto moves every edge of from to to, adding up edges that meet, and
// drops from.
func (g *Graph) mergeInto(from, to *Node) {
	for id, e := range g.edges {
		if e.Source != from && e.Dest != from {
			continue
		}
		delete(g.edges, id)
		src, dst := e.Source, e.Dest
		if src == from {
			src = to
		}
		if dst == from {
			dst = to
		}
		key := nodeID(src.ID + ">" + dst.ID + ">" + e.Protocol)
		into, ok := g.edges[key]
		if !ok {
			e.ID, e.Source, e.Dest = key, src, dst
			g.edges[key] = e
			continue
		}
		into.Rates.add(e.Rates)
		for _, r := range e.Responses {
			have := into.Responses.of(r.Code)
			for _, f := range r.Flags {
				have.Flags.add(f.Key, f.Value)
			}
			for _, h := range r.Hosts {
				have.Hosts.add(h.Key, h.Value)
			}
		}
		into.Throughput += e.Throughput
		into.HasThroughput = into.HasThroughput || e.HasThroughput
	}
	delete(g.nodes, from.ID)
	g.sumNodes()
}
