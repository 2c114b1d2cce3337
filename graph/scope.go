package graph

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/telemetry"
)

// scope is the namespaces a graph covers and, when the store could list
// them, every value the two namespace labels have in the graph's window.
// With the values known, a namespace matcher can take the cheaper of two
// equal forms: with many namespaces asked, "source_workload_namespace=~
// <fifty names>" makes the store merge fifty postings lists per selector,
// while "!=\"unknown\"" (the one value outside) costs next to nothing; and
// a condition no series can meet drops its part of the union. (The two
// forms differ only on series without the label, and Istio always sets
// both, to "unknown" when it knows no better.)
type scope struct {
	namespaces []string
	// values by label (srcNS, dstNS); a label is missing when unknown.
	values map[string][]string
}

const (
	srcNS = telemetry.SourceWorkloadNamespace
	dstNS = telemetry.DestinationServiceNamespace
)

// cond asks for a namespace label to be in (or not in) the namespaces.
type cond struct {
	label string
	in    bool
}

// part is one selector of a union, before its namespace conditions.
type part struct {
	sel   telemetry.Selector
	conds []cond
}

// selectors applies each part's conditions and keeps the parts some series
// can meet. Were none left, the parts keep plain matchers: a query that
// answers nothing beats no query.
func (sc scope) selectors(parts []part) []telemetry.Selector {
	var out []telemetry.Selector
	for _, p := range parts {
		sel, ok := p.sel, true
		for _, c := range p.conds {
			if sel, ok = sc.restrict(sel, c); !ok {
				break
			}
		}
		if ok {
			out = append(out, sel)
		}
	}
	if len(out) == 0 {
		return scope{namespaces: sc.namespaces}.selectors(parts)
	}
	return out
}

// restrict adds the matcher for c to s; ok is false when no series can
// meet c.
func (sc scope) restrict(s telemetry.Selector, c cond) (telemetry.Selector, bool) {
	ns := sc.namespaces
	values, known := sc.values[c.label]
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

// scopes are the selectors that together count every request touching the
// namespaces exactly once, as Istio's reporters define them:
//   - what a destination sidecar saw and answered (reporter="destination"),
//     into the namespaces or from them to other namespaces;
//   - what only the source saw (reporter="source"): destinations without a
//     sidecar (external hosts, PassthroughCluster), and requests that failed
//     before the destination answered (response flags set; the destination,
//     if it saw them, reports response_code="0" and is left out above).
//
// Including reporter in every grouping keeps the parts of the union apart.
func scopes(metric telemetry.Selector, sc scope) []telemetry.Selector {
	dst := metric.Eq(telemetry.Reporter, telemetry.ReporterDestination).Neq(telemetry.ResponseCode, "0")
	src := metric.Eq(telemetry.Reporter, telemetry.ReporterSource)
	failed := src.Neq(telemetry.DestinationWorkload, telemetry.Unknown).Neq(telemetry.ResponseFlags, telemetry.NoFlags)
	return sc.selectors([]part{
		{dst, []cond{{dstNS, true}}},
		{dst, []cond{{srcNS, true}, {dstNS, false}}},
		{src.Eq(telemetry.DestinationWorkload, telemetry.Unknown), []cond{{srcNS, true}}},
		{failed, []cond{{srcNS, true}}},
		{failed, []cond{{srcNS, false}, {dstNS, true}}},
	})
}

// readIndex reads from the store's index what the queries depend on: the
// values of the namespace labels between start and end, as far as the
// store can say, and which of the recorded series exist between
// recordedStart and end (when the store cannot say, every one: the graph
// asks for them and falls back to the raw series). The lookups run at
// once: against a remote store each is a round trip.
func (b *Builder) readIndex(ctx context.Context, namespaces []string, start, recordedStart, end time.Time, recorded []string) (scope, map[string]bool) {
	sc := scope{namespaces: namespaces, values: map[string][]string{}}
	var (
		mu          sync.Mutex
		wg          sync.WaitGroup
		hasRecorded = map[string]bool{}
	)
	for _, label := range []string{srcNS, dstNS} {
		wg.Go(func() {
			if v, err := b.querier.LabelValues(ctx, label, start, end); err == nil {
				mu.Lock()
				sc.values[label] = v
				mu.Unlock()
			}
		})
	}
	if len(recorded) > 0 {
		wg.Go(func() {
			names, err := b.querier.LabelValues(ctx, labels.MetricName, recordedStart, end)
			for _, name := range recorded {
				hasRecorded[name] = err != nil || slices.Contains(names, name)
			}
		})
	}
	wg.Wait()
	return sc, hasRecorded
}
