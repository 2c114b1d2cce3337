package graph

import (
	"context"
	"slices"
	"time"
)

// An appender adds one kind of fact to a graph whose traffic is assembled:
// it marks, adds or removes nodes and edges, or puts facts on them. The
// appenders that read the graph's own traffic queries (response time,
// throughput, security) run during assembly instead, on the rows fetched
// with the requests; these run after it, in order.
type appender interface {
	// name is the appender's, as Kiali's appenders parameter takes it;
	// empty for the steps every graph takes.
	name() string
	// runs tells whether o asks for the appender.
	runs(o *Options) bool
	// append adds the appender's facts; an error fails the graph.
	append(ctx context.Context, a *assembled) error
}

// assembled is what appenders work on: the graph, its builder (for those
// that add nodes), the request and the window its rates cover.
type assembled struct {
	g   *Graph
	bld *builder
	o   *Options
	// namespaces are those asked (the focus's, for a focused graph).
	namespaces []string
	window     time.Duration
}

// finishing are the appenders run after assembly, in their order: nodes
// fold and go before roots are found, health is judged on what remains.
func (b *Builder) finishing() []appender {
	return []appender{serviceEntries{}, deadNodes{}, idleNodes{}, sidecarsCheck{}, rootsAndOutside{}, focusTrim{}, healthAppender{b}}
}

// runs tells whether an appender runs: named by the request, or by default
// when the request names none.
func (o *Options) runs(appender string) bool {
	if o.Appenders == nil {
		return slices.Contains(DefaultAppenders, appender)
	}
	return slices.Contains(o.Appenders, appender)
}

type serviceEntries struct{}

func (serviceEntries) name() string         { return AppendServiceEntry }
func (serviceEntries) runs(o *Options) bool { return o.runs(AppendServiceEntry) }
func (serviceEntries) append(_ context.Context, a *assembled) error {
	appendServiceEntries(a.g, a.o.Inventory)
	return nil
}

type deadNodes struct{}

func (deadNodes) name() string         { return AppendDeadNode }
func (deadNodes) runs(o *Options) bool { return o.runs(AppendDeadNode) }
func (deadNodes) append(_ context.Context, a *assembled) error {
	removeDeadNodes(a.g)
	return nil
}

// idleNodes needs an inventory; Kiali's idleNodes parameter asks for it
// too.
type idleNodes struct{}

func (idleNodes) name() string { return AppendIdleNode }
func (idleNodes) runs(o *Options) bool {
	return o.Inventory != nil && (o.IdleNodes || slices.Contains(o.Appenders, AppendIdleNode))
}
func (idleNodes) append(_ context.Context, a *assembled) error {
	appendIdleNodes(a.bld, a.o.Inventory, a.namespaces)
	return nil
}

type sidecarsCheck struct{}

func (sidecarsCheck) name() string         { return AppendSidecarsCheck }
func (sidecarsCheck) runs(o *Options) bool { return o.Inventory != nil && o.runs(AppendSidecarsCheck) }
func (sidecarsCheck) append(_ context.Context, a *assembled) error {
	appendSidecarsCheck(a.g, a.o.Inventory)
	return nil
}

// rootsAndOutside marks every graph's roots and the nodes outside the
// namespaces asked.
type rootsAndOutside struct{}

func (rootsAndOutside) name() string       { return "" }
func (rootsAndOutside) runs(*Options) bool { return true }
func (rootsAndOutside) append(_ context.Context, a *assembled) error {
	markRootsAndOutside(a.g, a.namespaces)
	return nil
}

// focusTrim keeps, of a focused graph, what the focus reaches.
type focusTrim struct{}

func (focusTrim) name() string         { return "" }
func (focusTrim) runs(o *Options) bool { return o.Focus != nil }
func (focusTrim) append(_ context.Context, a *assembled) error {
	focus(a.g)
	return nil
}

// healthAppender judges nodes and edges by the builder's tolerances.
type healthAppender struct{ b *Builder }

func (healthAppender) name() string         { return AppendHealth }
func (healthAppender) runs(o *Options) bool { return o.runs(AppendHealth) }
func (h healthAppender) append(ctx context.Context, a *assembled) error {
	a.g.Queries += h.b.appendHealth(ctx, a.g, *a.o, a.window)
	return nil
}
