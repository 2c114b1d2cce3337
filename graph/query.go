package graph

import (
	"time"

	"github.com/meshlens/meshlens/telemetry"
	"github.com/meshlens/meshlens/traffic"
)

// edgeLabels identify an edge between two workloads through a service.
var edgeLabels = []string{
	telemetry.Reporter,
	telemetry.SourceCluster, telemetry.SourceWorkloadNamespace, telemetry.SourceWorkload,
	telemetry.SourceCanonicalService, telemetry.SourceCanonicalRevision,
	telemetry.DestinationCluster, telemetry.DestinationServiceNamespace, telemetry.DestinationService,
	telemetry.DestinationServiceName, telemetry.DestinationWorkloadNamespace, telemetry.DestinationWorkload,
	telemetry.DestinationCanonicalService, telemetry.DestinationCanonicalRevision,
}

func with(base []string, extra ...string) []string {
	return append(append([]string(nil), base...), extra...)
}

// union is a query in disjoint parts, one per scope: their series are apart
// (reporter and the namespace and workload labels of the scopes are in
// every grouping), so their rows add up. It is sent as traffic.Batch says.
type union struct {
	exprs []telemetry.Expr
	alone int
}

// parts is the union of exprs, the first sent alone.
func parts(exprs ...telemetry.Expr) union { return union{exprs: exprs, alone: 1} }

// queries are the PromQL queries that answer u.
func (u union) queries() []telemetry.Expr { return traffic.Batch(u.exprs, u.alone) }

// rateOf is the union over the scope's parts of sum by (by) (rate(m[window])).
func rateOf(m telemetry.Selector, sc traffic.Scope, window time.Duration, by []string) union {
	return parts(sc.Rates(m, window, by, nil)...)
}

func one(metric string) telemetry.Selector { return telemetry.Select(metric) }

// requestsQuery counts requests per edge, response code and flags; with
// security, also per connection security policy and principals, so that
// the security appender reads the same rows instead of asking again.
func requestsQuery(sc traffic.Scope, w time.Duration, security bool) union {
	by := with(edgeLabels, telemetry.RequestProtocol, telemetry.ResponseCode, telemetry.GRPCResponseStatus, telemetry.ResponseFlags)
	return rateOf(one(telemetry.RequestsTotal), sc, w, withSecurity(by, security))
}

// streamQuery is the rate per edge of a counter without response codes:
// TCP bytes, gRPC messages; with security, as requestsQuery.
func streamQuery(sc traffic.Scope, w time.Duration, metric string, security bool) union {
	return rateOf(telemetry.Select(metric), sc, w, withSecurity(with(edgeLabels, telemetry.ResponseFlags), security))
}

// withSecurity is by, and with security the labels the security appender
// reads.
func withSecurity(by []string, security bool) []string {
	if !security {
		return by
	}
	return with(by, telemetry.ConnectionSecurityPolicy, telemetry.SourcePrincipal, telemetry.DestinationPrincipal)
}

// durationQuantileQuery is quantile q of the request durations of every
// workload-to-workload edge. The quantile is taken by Prometheus: the
// buckets themselves would be twenty times as many series to ship. Its
// first part, every bucket of every edge into the namespaces, is most of a
// graph's work on raw series, and Prometheus evaluates a query on one core:
// it is sent as quantileSplit queries over as many shares of the
// namespaces, which the store runs at once.
func durationQuantileQuery(sc traffic.Scope, w time.Duration, q float64) union {
	exprs, alone := sc.RatesSplit(one(telemetry.RequestDurationMilliseconds+"_bucket"), w,
		with(edgeLabels, telemetry.RequestProtocol, "le"),
		func(e telemetry.Expr) telemetry.Expr { return telemetry.HistogramQuantile(q, e) }, quantileSplit)
	return union{exprs: exprs, alone: alone}
}

// quantileSplit is how many queries the raw quantiles' first part is sent
// as, at most: more shares than a store's cores, so that the smaller
// queries of the graph, run beside them, leave no core idle.
const quantileSplit = 3

func durationSumQuery(sc traffic.Scope, w time.Duration, suffix string) union {
	return rateOf(one(telemetry.RequestDurationMilliseconds+suffix), sc, w,
		with(edgeLabels, telemetry.RequestProtocol))
}

func throughputQuery(sc traffic.Scope, w time.Duration, metric string) union {
	return rateOf(one(metric+"_sum"), sc, w, with(edgeLabels, telemetry.RequestProtocol))
}
