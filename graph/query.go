package graph

import (
	"time"

	"github.com/meshlens/meshlens/telemetry"
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
// every grouping), so their rows add up. It is sent as two queries, the
// first part alone and the others in one "or": Prometheus copies both
// sides of an "or" whole, which for the first part, the traffic the
// destinations reported (most rows), cost a third of the query.
type union []telemetry.Expr

// queries are the PromQL queries that answer u.
func (u union) queries() []telemetry.Expr {
	if len(u) <= 1 {
		return u
	}
	return []telemetry.Expr{u[0], telemetry.Or(u[1:]...)}
}

// rateOf is the union over the scopes of sum by (by) (rate(scope[window])),
// added up over the metrics (TCP bytes: sent + received).
func rateOf(metrics []telemetry.Selector, sc scope, window time.Duration, by []string) union {
	return rateOfEach(metrics, sc, window, by, nil)
}

// rateOfEach is rateOf with each part of the union wrapped by wrap first, so
// that the union works on the smaller results.
func rateOfEach(metrics []telemetry.Selector, sc scope, window time.Duration, by []string, wrap func(telemetry.Expr) telemetry.Expr) union {
	var parts union
	perMetric := make([][]telemetry.Selector, len(metrics))
	for i, m := range metrics {
		perMetric[i] = scopes(m, sc)
	}
	for i := range perMetric[0] {
		sum := telemetry.Sum(telemetry.Rate(perMetric[0][i], window), by...)
		for _, more := range perMetric[1:] {
			sum = telemetry.Add(sum, telemetry.Sum(telemetry.Rate(more[i], window), by...))
		}
		if wrap != nil {
			sum = wrap(sum)
		}
		parts = append(parts, sum)
	}
	return parts
}

func one(metric string) []telemetry.Selector { return []telemetry.Selector{telemetry.Select(metric)} }

// requestsQuery counts requests per edge, response code and flags; with
// security, also per connection security policy and principals, so that
// the security appender reads the same rows instead of asking again.
func requestsQuery(sc scope, w time.Duration, security bool) union {
	by := with(edgeLabels, telemetry.RequestProtocol, telemetry.ResponseCode, telemetry.GRPCResponseStatus, telemetry.ResponseFlags)
	if security {
		by = with(by, telemetry.ConnectionSecurityPolicy, telemetry.SourcePrincipal, telemetry.DestinationPrincipal)
	}
	return rateOf(one(telemetry.RequestsTotal), sc, w, by)
}

func tcpQuery(sc scope, w time.Duration) union {
	return rateOf([]telemetry.Selector{telemetry.Select(telemetry.TCPSentBytesTotal), telemetry.Select(telemetry.TCPReceivedBytesTotal)}, sc, w,
		with(edgeLabels, telemetry.ResponseFlags))
}

// durationQuantileQuery is quantile q of the request durations of every
// workload-to-workload edge. The quantile is taken by Prometheus: the
// buckets themselves would be twenty times as many series to ship.
func durationQuantileQuery(sc scope, w time.Duration, q float64) union {
	return rateOfEach(one(telemetry.RequestDurationMilliseconds+"_bucket"), sc, w,
		with(edgeLabels, telemetry.RequestProtocol, "le"),
		func(e telemetry.Expr) telemetry.Expr { return telemetry.HistogramQuantile(q, e) })
}

func durationSumQuery(sc scope, w time.Duration, suffix string) union {
	return rateOf(one(telemetry.RequestDurationMilliseconds+suffix), sc, w,
		with(edgeLabels, telemetry.RequestProtocol))
}

func throughputQuery(sc scope, w time.Duration, metric string) union {
	return rateOf(one(metric+"_sum"), sc, w, with(edgeLabels, telemetry.RequestProtocol))
}
