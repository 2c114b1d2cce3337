// Package traffic is the one home of meshlens's request semantics: which
// reporter's series count a request, which of Envoy's response flags say
// that a request never reached its destination, and how the namespaces a
// graph covers restrict the series. The graph's queries and its recording
// rules are generated from here, and so are health and metrics.
//
// Istio's sidecars report every request twice when both ends have one: the
// caller's proxy (reporter="source") once per request, with the outcome
// its application saw, and the destination's proxy (reporter="destination")
// once per attempt it received. Adding the two counts requests twice, and
// retries three times. meshlens counts a request as follows:
//
//   - what reached a destination sidecar, as that sidecar reported it:
//     every attempt of a retried request, with any response code, 0
//     included (the caller gave up first, for instance on a timeout);
//   - what only the caller saw, as the caller reported it: requests to a
//     destination without a sidecar (destination_workload="unknown":
//     external hosts, PassthroughCluster, BlackHole, workloads outside the
//     mesh), and requests to a destination with one that Envoy's flags say
//     never reached it (NeverReached: no healthy upstream, connection
//     failure, circuit breaker, fault abort, ...), unless the destination
//     reported the same failure with the same code and flags (then it is the
//     destination's report that counts, as Kiali de-duplicates the two).
//
// The caller's report of a request that reached a sidecar (a delay fault,
// DI; a retried request's final answer, URX; a timeout, UT) is never added
// to the destination's: it is the same request.
package traffic

import (
	"slices"
	"strings"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

// Version is the version of these semantics. Recording rules carry it (see
// RulesLabel), so that a console never reads series recorded by other rules
// as if they were its own.
const Version = "2"

// RulesLabel is the label every recorded series carries: the semantics'
// version and the interval the rules were made for (RulesLabelValue).
const RulesLabel = "meshlens_rules"

// RulesLabelValue is RulesLabel's value for rules evaluated every interval.
func RulesLabelValue(interval time.Duration) string {
	return "v" + Version + "-" + interval.String()
}

// NeverReached are Envoy's response flags that say a request never reached
// the upstream host: Envoy answered it itself. A source-reported request
// with one of them has no report from the destination.
var NeverReached = []string{
	"UH",   // no healthy upstream host
	"UF",   // upstream connection failure
	"UO",   // upstream overflow (circuit breaking)
	"NR",   // no route
	"NC",   // no cluster
	"FI",   // fault injection: aborted
	"RL",   // rate limited locally
	"UAEX", // denied by external authorization
	"RLSE", // rate limit service error
	"IH",   // invalid header value (strict check)
	"DPE",  // downstream protocol error
	"OM",   // overload manager
	"DF",   // DNS resolution failed
	"DO",   // dropped by overload
}

// neverReachedRE matches a response_flags value (flags joined by commas,
// such as "UF,URX") holding one of NeverReached.
var neverReachedRE = "(.*,)?(" + strings.Join(NeverReached, "|") + ")(,.*)?"

// FlagsNeverReached tells whether a response_flags value says that the
// request never reached its destination.
func FlagsNeverReached(flags string) bool {
	for f := range strings.SplitSeq(flags, ",") {
		if slices.Contains(NeverReached, f) {
			return true
		}
	}
	return false
}

// Part is one of the disjoint parts of the series that together count every
// request once.
type Part struct {
	// Name says which requests the part counts.
	Name string
	// selector narrows a metric's selector to the part's series.
	selector func(telemetry.Selector) telemetry.Selector
	// duplicates, when set, narrows a metric's selector to the
	// destination's series that count the same requests as some of the
	// part's: the part drops the series they match on dedupLabels.
	duplicates func(telemetry.Selector) telemetry.Selector
}

// The parts, in the order a union lists them; the first holds most of a
// mesh's series.
var (
	// Destination is what destination sidecars reported.
	Destination = Part{Name: "destination", selector: func(s telemetry.Selector) telemetry.Selector {
		return s.Eq(telemetry.Reporter, telemetry.ReporterDestination)
	}}
	// Unmeshed is what callers reported of destinations without a sidecar.
	Unmeshed = Part{Name: "unmeshed", selector: func(s telemetry.Selector) telemetry.Selector {
		return s.Eq(telemetry.Reporter, telemetry.ReporterSource).Eq(telemetry.DestinationWorkload, telemetry.Unknown)
	}}
	// Unreached is what callers reported of requests that never reached a
	// destination with a sidecar.
	Unreached = Part{
		Name: "unreached",
		selector: func(s telemetry.Selector) telemetry.Selector {
			return s.Eq(telemetry.Reporter, telemetry.ReporterSource).Neq(telemetry.DestinationWorkload, telemetry.Unknown).
				Matches(telemetry.ResponseFlags, neverReachedRE)
		},
		duplicates: func(s telemetry.Selector) telemetry.Selector {
			return s.Eq(telemetry.Reporter, telemetry.ReporterDestination).Matches(telemetry.ResponseFlags, neverReachedRE)
		},
	}
	// Parts are every part, Destination first.
	Parts = []Part{Destination, Unmeshed, Unreached}
)

// dedupLabels are the labels on which a source-reported series and a
// destination-reported one count the same requests: the same edge, code
// and flags.
var dedupLabels = []string{
	telemetry.SourceWorkloadNamespace, telemetry.SourceWorkload,
	telemetry.DestinationService, telemetry.DestinationWorkloadNamespace, telemetry.DestinationWorkload,
	telemetry.ResponseCode, telemetry.ResponseFlags,
}

// Fixed are the label values every series of the part has (for the labels
// of a recording rule).
func (p Part) Fixed(metric string) map[string]string {
	return p.selector(telemetry.Select(metric)).Fixed()
}

// Rate is sum by (by) (rate(m[window])) over the part's series of m, and
// then, through wrap when not nil (histogram_quantile, say), the part's
// answer.
func (p Part) Rate(m telemetry.Selector, window time.Duration, by []string, wrap func(telemetry.Expr) telemetry.Expr) telemetry.Expr {
	return p.rate(m, nil, window, by, wrap)
}

// rate is Rate over the series that also meet the namespace condition c.
func (p Part) rate(m telemetry.Selector, c func(telemetry.Selector) telemetry.Selector, window time.Duration, by []string, wrap func(telemetry.Expr) telemetry.Expr) telemetry.Expr {
	if c == nil {
		c = func(s telemetry.Selector) telemetry.Selector { return s }
	}
	var e telemetry.Expr
	if p.duplicates == nil {
		e = telemetry.Sum(telemetry.Rate(c(p.selector(m)), window), by...)
	} else {
		// Both sides keep the labels they are matched on, and the part
		// is summed by what was asked once the duplicates are gone.
		inner := union(by, dedupLabels)
		e = telemetry.Unless(
			telemetry.Sum(telemetry.Rate(c(p.selector(m)), window), inner...),
			telemetry.Sum(telemetry.Rate(c(p.duplicates(m)), window), dedupLabels...),
			dedupLabels...)
		if len(inner) > len(by) {
			e = telemetry.Sum(e, by...)
		}
	}
	if wrap != nil {
		e = wrap(e)
	}
	return e
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, l := range b {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}
