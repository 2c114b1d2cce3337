package graph

import (
	"strings"
	"testing"
)

func TestEdgesAreInTheOrderOfTheirEnds(t *testing.T) {
	g := newGraph(TypeWorkload)
	node := func(ns, workload string) *Node {
		n := &Node{ID: ns + "/" + workload, Kind: KindWorkload, Namespace: ns, Workload: workload}
		g.nodes[n.ID] = n
		return n
	}
	a, b, c := node("ns2", "a"), node("ns1", "b"), node("ns1", "c")
	// Not among the graph's nodes: it still takes its place by namespace and name.
	stray := &Node{ID: "ns1/bb", Kind: KindWorkload, Namespace: "ns1", Workload: "bb"}
	for _, e := range []*Edge{
		{ID: "a-b-tcp", Source: a, Dest: b, Protocol: "tcp"},
		{ID: "a-b-http", Source: a, Dest: b, Protocol: "http"},
		{ID: "c-a", Source: c, Dest: a, Protocol: "http"},
		{ID: "b-c", Source: b, Dest: c, Protocol: "http"},
		{ID: "stray-a", Source: stray, Dest: a, Protocol: "http"},
		{ID: "b-a", Source: b, Dest: a, Protocol: "grpc"},
	} {
		g.edges[e.ID] = e
	}
	var ids []string
	for _, e := range g.Edges() {
		ids = append(ids, e.ID)
	}
	if got, want := strings.Join(ids, " "), "b-c b-a stray-a c-a a-b-http a-b-tcp"; got != want {
		t.Errorf("edges in order %s, want %s", got, want)
	}
	var labels []string
	for _, n := range g.Nodes() {
		labels = append(labels, n.Namespace+":"+n.Label())
	}
	if got, want := strings.Join(labels, " "), "ns1:b ns1:c ns2:a"; got != want {
		t.Errorf("nodes in order %s, want %s", got, want)
	}
}
