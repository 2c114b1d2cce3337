// Package graph builds the mesh's traffic graph from Istio telemetry, the
// way Kiali's graph does: a few PromQL results become a traffic map, small
// appenders each add one kind of fact (response time, mTLS, service
// entries...), and encoders write it as Cytoscape JSON, DOT, Mermaid or a
// table. Attributes are typed fields, not maps of anything.
package graph

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/promclient"
)

// Type is the kind of graph: what a node stands for.
type Type string

// Graph types, with Kiali's names.
const (
	TypeApp          Type = "app"
	TypeVersionedApp Type = "versionedApp"
	TypeWorkload     Type = "workload"
	TypeService      Type = "service"
)

// ParseType reads a graph type.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case TypeApp, TypeVersionedApp, TypeWorkload, TypeService:
		return t, nil
	}
	return "", fmt.Errorf("%w: graph type %q; use app, versionedApp, workload or service", ErrBadRequest, promclient.Cut(s))
}

// ErrBadRequest wraps every error caused by the caller's options; the
// console answers it with 400.
var ErrBadRequest = errors.New("invalid parameter")

// NodeKind is what a node is, Kiali's nodeType.
type NodeKind string

// Node kinds.
const (
	KindApp      NodeKind = "app"
	KindWorkload NodeKind = "workload"
	KindService  NodeKind = "service"
	KindUnknown  NodeKind = "unknown"
	KindBox      NodeKind = "box"
)

// Special destinations Istio reports by name.
const (
	PassthroughCluster = "PassthroughCluster"
	BlackHoleCluster   = "BlackHoleCluster"
)

// Node is one vertex: an app, a version of it, a workload, a service, the
// unknown source, or a box grouping others.
type Node struct {
	ID        string
	Kind      NodeKind
	Cluster   string
	Namespace string
	Workload  string
	App       string
	Version   string
	Service   string
	// DestServices are the services through which the node was reached.
	DestServices []ServiceName
	// Traffic in and out, summed over the node's edges.
	In, Out Rates

	IsRoot    bool
	IsOutside bool
	// IsIdle: the node runs (inventory) but carried no traffic.
	IsIdle bool
	// HasMissingSidecar: the workload runs without an Istio proxy.
	HasMissingSidecar bool
	// Validation is the worst severity of the Istio config findings about
	// the node's service ("error", "warning", "unknown"), or empty.
	Validation string
	// Health is the health of the node's app, workload or service (the
	// health appender), or nil.
	Health         *health.Entity
	IsServiceEntry *ServiceEntry
	// Box is the box kind ("app", "namespace", "cluster") of a box node;
	// Parent the ID of the box around a node.
	Box    string
	Parent string
	// Compare is how the node moved against an earlier graph, when compared.
	Compare *Delta
}

// ServiceName names a service.
type ServiceName struct {
	Cluster   string
	Namespace string
	Name      string
}

// ServiceEntry marks a node that stands for hosts outside the mesh.
type ServiceEntry struct {
	Location string // MESH_EXTERNAL or MESH_INTERNAL
	Hosts    []string
}

// Edge is the traffic from one node to another over one protocol.
type Edge struct {
	ID       string
	Source   *Node
	Dest     *Node
	Protocol string // http, grpc, tcp
	Rates    Rates
	// Responses are request rates by response code, then by flags and by
	// host.
	Responses Responses

	// ResponseTime in milliseconds; HasResponseTime tells whether it was computed.
	ResponseTime    float64
	HasResponseTime bool
	// Throughput in bytes per second.
	Throughput    float64
	HasThroughput bool
	// MTLS is the share (0 to 100) of the edge's traffic that used mutual TLS.
	MTLS            float64
	HasMTLS         bool
	SourcePrincipal string
	DestPrincipal   string

	// HealthStatus is the edge's health (the health appender), or empty.
	HealthStatus string
	// Compare is how the edge moved against an earlier graph, when compared.
	Compare *Delta

	// durationSum and durationCount accumulate the average response time.
	durationSum, durationCount float64
	// codes are the request rates by code as health names them (grpc-status
	// for gRPC, "-" without a response).
	codes Shares
}

// Responses are an edge's traffic by response code. An edge has a few
// codes, each a flag or two and a host or two: slices, not a map each,
// for the tens of thousands of edges of a large graph.
type Responses []Response

// Response is the traffic of one response code on an edge.
type Response struct {
	Code  string
	Flags Shares
	Hosts Shares
}

// of is the response of code, added when missing; valid until the next
// call.
func (rs *Responses) of(code string) *Response {
	for i := range *rs {
		if (*rs)[i].Code == code {
			return &(*rs)[i]
		}
	}
	*rs = append(*rs, Response{Code: code})
	return &(*rs)[len(*rs)-1]
}

// add counts value requests with flags to host.
func (r *Response) add(flags, host string, value float64) {
	r.Flags.add(flags, value)
	r.Hosts.add(host, value)
}

// Shares add up values by key, in a slice: there are one or two keys.
type Shares []Share

// Share is the value of one key.
type Share struct {
	Key   string
	Value float64
}

func (s *Shares) add(key string, v float64) {
	for i := range *s {
		if (*s)[i].Key == key {
			(*s)[i].Value += v
			return
		}
	}
	*s = append(*s, Share{key, v})
}

// Rates are request (or, for TCP, byte) rates per second.
type Rates struct {
	HTTP, HTTP3xx, HTTP4xx, HTTP5xx, HTTPNoResponse float64
	GRPC, GRPCErr, GRPCNoResponse                   float64
	TCP                                             float64
}

func (r *Rates) add(o Rates) {
	r.HTTP += o.HTTP
	r.HTTP3xx += o.HTTP3xx
	r.HTTP4xx += o.HTTP4xx
	r.HTTP5xx += o.HTTP5xx
	r.HTTPNoResponse += o.HTTPNoResponse
	r.GRPC += o.GRPC
	r.GRPCErr += o.GRPCErr
	r.GRPCNoResponse += o.GRPCNoResponse
	r.TCP += o.TCP
}

// Graph is a built traffic graph.
type Graph struct {
	Type      Type
	Timestamp time.Time
	// Duration is the rate window the graph was computed over; it can be
	// longer than asked for (see Warnings).
	Duration time.Duration
	// Queries is how many PromQL queries building the graph took.
	Queries  int
	Warnings []string
	// ComparedTo is the time of the graph this one was compared with, or zero.
	ComparedTo time.Time

	nodes map[string]*Node
	edges map[string]*Edge
}

func newGraph(t Type) *Graph {
	return &Graph{Type: t, nodes: map[string]*Node{}, edges: map[string]*Edge{}}
}

// Nodes returns the nodes in the order people read them: by namespace,
// then name, then kind.
func (g *Graph) Nodes() []*Node {
	out := make([]*Node, 0, len(g.nodes))
	for _, n := range g.nodes {
		out = append(out, n)
	}
	return sortNodes(out)
}

// sortNodes sorts nodes by namespace, label, kind and ID, each node's label
// computed once rather than in every comparison.
func sortNodes(nodes []*Node) []*Node {
	type labelled struct {
		n     *Node
		label string
	}
	ls := make([]labelled, len(nodes))
	for i, n := range nodes {
		ls[i] = labelled{n, n.Label()}
	}
	slices.SortFunc(ls, func(a, b labelled) int {
		if c := strings.Compare(a.n.Namespace, b.n.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.label, b.label); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.n.Kind), string(b.n.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.n.ID, b.n.ID)
	})
	for i, l := range ls {
		nodes[i] = l.n
	}
	return nodes
}

// Edges returns the edges sorted by source, destination (in the order of
// Nodes) and protocol.
func (g *Graph) Edges() []*Edge { return g.edgesAlong(g.Nodes()) }

// edgesAlong sorts the edges by their ends' places in nodes, as Nodes
// returned them, and by protocol: comparing places, not nodes, keeps
// sorting twenty thousand edges cheap, and nodes sorted once serve both.
func (g *Graph) edgesAlong(nodes []*Node) []*Edge {
	place := placesOf(nodes)
	// An edge's ends are the graph's nodes; were one not, it still gets
	// its own place.
	var more []*Node
	for _, e := range g.edges {
		for _, n := range [2]*Node{e.Source, e.Dest} {
			if _, ok := place[n]; !ok {
				more = append(more, n)
				place[n] = -1
			}
		}
	}
	if len(more) > 0 {
		place = placesOf(sortNodes(append(slices.Clone(nodes), more...)))
	}
	type placed struct {
		e        *Edge
		src, dst int
	}
	ps := make([]placed, 0, len(g.edges))
	for _, e := range g.edges {
		ps = append(ps, placed{e, place[e.Source], place[e.Dest]})
	}
	slices.SortFunc(ps, func(a, b placed) int {
		if c := cmp.Compare(a.src, b.src); c != 0 {
			return c
		}
		if c := cmp.Compare(a.dst, b.dst); c != 0 {
			return c
		}
		return strings.Compare(a.e.Protocol, b.e.Protocol)
	})
	out := make([]*Edge, len(ps))
	for i, p := range ps {
		out[i] = p.e
	}
	return out
}

func placesOf(nodes []*Node) map[*Node]int {
	place := make(map[*Node]int, len(nodes))
	for i, n := range nodes {
		place[n] = i
	}
	return place
}

// MarkValidations sets each service node's Validation from severities by
// "namespace/name" of service.
func (g *Graph) MarkValidations(byService map[string]string) {
	for _, n := range g.nodes {
		if n.Kind == KindService {
			n.Validation = byService[n.Namespace+"/"+n.Service]
		}
	}
}
