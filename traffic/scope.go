package traffic

import (
	"slices"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

// The namespace labels a scope restricts. Istio sets both on every series,
// to "unknown" when it knows no better.
const (
	SourceNamespace      = telemetry.SourceWorkloadNamespace
	DestinationNamespace = telemetry.DestinationServiceNamespace
)

// Scope is the namespaces a graph covers and, when the store could list
// them, every value the two namespace labels have in the graph's window.
//
// A series belongs to the scope when its destination's namespace is one
// of Namespaces, or its source's is and its destination's is not: two
// disjoint conditions, so that the series of each add up. With the values
// known, a condition can take the cheaper of two equal forms: with many
// namespaces asked, "source_workload_namespace=~<fifty names>" makes the
// store merge fifty postings lists per selector, while "!=\"unknown\"" (the
// one value outside) costs next to nothing; and a condition no series can
// meet drops its part of the union.
type Scope struct {
	Namespaces []string
	// Values by label (SourceNamespace, DestinationNamespace); a label is
	// missing when unknown.
	Values map[string][]string
	// only narrows every selector further (see Only).
	only []only
}

// only keeps the series whose label is one of values.
type only struct {
	label  string
	values []string
}

// Only is the scope narrowed to the series whose label is one of values
// (literals): a graph asks the raw series of a few edges this way.
func (sc Scope) Only(label string, values ...string) Scope {
	out := sc
	out.only = append(append([]only(nil), sc.only...), only{label, values})
	return out
}

// cond asks for a namespace label to be in (or not in) the namespaces.
type cond struct {
	label string
	in    bool
}

// conditions are the scope's two disjoint conditions.
var conditions = [][]cond{
	{{DestinationNamespace, true}},
	{{SourceNamespace, true}, {DestinationNamespace, false}},
}

// Rates is the union, part by part and condition by condition, of sum by
// (by) (rate(m[window])): every request of the scope counted once. Each
// element is wrapped by wrap when not nil. The elements' series are apart
// as long as by holds reporter, destination_workload and the namespace
// labels; then their rows add up.
func (sc Scope) Rates(m telemetry.Selector, window time.Duration, by []string, wrap func(telemetry.Expr) telemetry.Expr) []telemetry.Expr {
	var out []telemetry.Expr
	for _, p := range Parts {
		for _, cs := range sc.feasible() {
			out = append(out, p.rate(m, func(s telemetry.Selector) telemetry.Selector { return sc.apply(s, cs) }, window, by, wrap))
		}
	}
	return out
}

// RatesSplit is Rates with its first element, the destinations' reports
// into the namespaces (most of a mesh's series), in up to k elements over
// as many shares of the namespaces with data, for a store to evaluate at
// once; alone is how many elements that first one became.
func (sc Scope) RatesSplit(m telemetry.Selector, window time.Duration, by []string, wrap func(telemetry.Expr) telemetry.Expr, k int) (exprs []telemetry.Expr, alone int) {
	all := sc.Rates(m, window, by, wrap)
	shares := sc.shares(k)
	if len(shares) < 2 || len(all) == 0 {
		return all, 1
	}
	for _, share := range shares {
		sub := sc
		sub.Namespaces = share
		exprs = append(exprs, Destination.rate(m, func(s telemetry.Selector) telemetry.Selector { return sub.apply(s, conditions[0]) }, window, by, wrap))
	}
	return append(exprs, all[1:]...), len(shares)
}

// shares splits the namespaces that have destination data (all asked, when
// the store could not say) into up to k shares of about as many, or none
// when the first element is not the destinations' reports into them or the
// scope is narrowed to a few edges.
func (sc Scope) shares(k int) [][]string {
	if len(sc.only) > 0 {
		return nil // a few edges' series: not worth more queries
	}
	if feasible := sc.feasible(); len(feasible) == 0 || len(feasible[0]) != 1 || feasible[0][0] != conditions[0][0] {
		return nil
	}
	ns := sc.Namespaces
	if values, known := sc.Values[DestinationNamespace]; known {
		ns = nil
		for _, v := range values {
			if slices.Contains(sc.Namespaces, v) {
				ns = append(ns, v)
			}
		}
	}
	k = min(k, len(ns))
	if k < 2 {
		return nil
	}
	out := make([][]string, k)
	for i, n := range ns {
		out[i%k] = append(out[i%k], n)
	}
	return out
}

// Select is the union over the scope's conditions of read(s), s the
// selector m within each: for series that hold the parts already (recorded
// by the rules).
func (sc Scope) Select(m telemetry.Selector, read func(telemetry.Selector) telemetry.Expr) []telemetry.Expr {
	var out []telemetry.Expr
	for _, cs := range sc.feasible() {
		out = append(out, read(sc.apply(m, cs)))
	}
	return out
}

// feasible are the conditions some series can meet. Were none left, the
// conditions stay in their plain form: a query that answers nothing beats
// no query.
func (sc Scope) feasible() [][]cond {
	var out [][]cond
	for _, cs := range conditions {
		ok := true
		for _, c := range cs {
			if _, ok = sc.restrict(telemetry.Selector{}, c); !ok {
				break
			}
		}
		if ok {
			out = append(out, cs)
		}
	}
	if len(out) == 0 && sc.Values != nil {
		return Scope{Namespaces: sc.Namespaces, only: sc.only}.feasible()
	}
	return out
}

// apply adds the matchers of the conditions cs to s.
func (sc Scope) apply(s telemetry.Selector, cs []cond) telemetry.Selector {
	plain := Scope{Namespaces: sc.Namespaces}
	for _, c := range cs {
		r, ok := sc.restrict(s, c)
		if !ok {
			// Only when no condition was feasible: the plain form.
			r, _ = plain.restrict(s, c)
		}
		s = r
	}
	for _, o := range sc.only {
		s = s.In(o.label, o.values...)
	}
	return s
}

// restrict adds the matcher for c to s; ok is false when no series can
// meet c.
func (sc Scope) restrict(s telemetry.Selector, c cond) (telemetry.Selector, bool) {
	ns := sc.Namespaces
	values, known := sc.Values[c.label]
	if !known {
		if c.in {
			return s.In(c.label, ns...), true
		}
		return s.NotIn(c.label, ns...), true
	}
	// wanted are the values c keeps, others those it leaves out.
	var wanted, others []string
	for _, v := range values {
		if slices.Contains(ns, v) == c.in {
			wanted = append(wanted, v)
		} else {
			others = append(others, v)
		}
	}
	switch {
	case len(wanted) == 0:
		return s, false
	case len(others) == 0:
		return s, true
	case len(others) < len(wanted):
		return s.NotIn(c.label, others...), true
	}
	return s.In(c.label, wanted...), true
}

// Batch is how a union of exprs (disjoint parts whose rows add up) is
// sent: its first alone elements each on its own (at least the first), the
// others in one "or". Prometheus copies both sides of an "or" whole, which
// for the first part, the traffic the destinations reported (most rows),
// would cost a third of the query.
func Batch(exprs []telemetry.Expr, alone int) []telemetry.Expr {
	alone = max(alone, 1)
	if len(exprs) <= alone+1 {
		return exprs
	}
	return append(slices.Clone(exprs[:alone]), telemetry.Or(exprs[alone:]...))
}
