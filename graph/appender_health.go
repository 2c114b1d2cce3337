package graph

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/telemetry"
)

// appendHealth puts on every node the health of its app, workload or
// service, as the health API answers it over the graph's window, and on
// every request edge the health of its requests against the caller's
// outbound and the destination's inbound tolerances. It takes the health
// queries of each kind of node the graph draws (at most three kinds), run
// at once; a failure leaves the graph without health and says so.
func (b *Builder) appendHealth(ctx context.Context, g *Graph, o Options, window time.Duration) int {
	type ref struct {
		kind      health.Kind
		namespace string
		name      string
	}
	refOf := func(n *Node) (ref, bool) {
		var r ref
		switch n.Kind {
		case KindWorkload:
			r = ref{health.Workload, n.Namespace, n.Workload}
		case KindApp:
			r = ref{health.App, n.Namespace, n.App}
		case KindService:
			r = ref{health.Service, n.Namespace, n.Service}
		default:
			return r, false
		}
		return r, r.namespace != "" && !isUnknown(r.namespace) && !isUnknown(r.name)
	}
	namespaces := map[health.Kind][]string{}
	for _, n := range g.nodes {
		if r, ok := refOf(n); ok && !slices.Contains(namespaces[r.kind], r.namespace) {
			namespaces[r.kind] = append(namespaces[r.kind], r.namespace)
		}
	}
	answers := map[health.Kind]*health.Answer{}
	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	checker := health.NewChecker(b.querier, b.health)
	for kind, ns := range namespaces {
		eg.Go(func() error {
			a, err := checker.Check(ectx, health.Options{Namespaces: ns, Kind: kind, RateInterval: window, QueryTime: o.QueryTime, Inventory: o.Inventory})
			if err != nil {
				return fmt.Errorf("%s health: %w", kind, err)
			}
			mu.Lock()
			answers[kind] = a
			mu.Unlock()
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		g.Warnings = append(g.Warnings, fmt.Sprintf("no health on this graph: %v", err))
		return 0
	}
	queries := 0
	for _, a := range answers {
		queries += len(a.Queries)
	}
	for _, n := range g.nodes {
		if r, ok := refOf(n); ok {
			n.Health = answers[r.kind].Entities[r.namespace][r.name]
		}
	}
	endpoint := func(n *Node) health.Endpoint {
		r, _ := refOf(n)
		e := health.Endpoint{Namespace: r.namespace, Kind: r.kind, Name: r.name}
		if n.Health != nil {
			e.Annotation = n.Health.Requests.HealthAnnotations[health.AnnotationRate]
		}
		return e
	}
	for _, e := range g.edges {
		if e.Protocol != telemetry.ProtocolHTTP && e.Protocol != telemetry.ProtocolGRPC || len(e.codes) == 0 {
			continue
		}
		codes := make(map[string]float64, len(e.codes))
		for _, c := range e.codes {
			codes[c.Key] += c.Value
		}
		e.HealthStatus = string(b.health.EdgeVerdict(e.Protocol, codes, endpoint(e.Source), endpoint(e.Dest)).Status)
	}
	return queries
}
