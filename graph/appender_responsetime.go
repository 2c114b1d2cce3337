package graph

import "github.com/meshlens/meshlens/telemetry"

func requestProtocol(r row) string {
	if r.protocol == telemetry.ProtocolGRPC {
		return telemetry.ProtocolGRPC
	}
	return telemetry.ProtocolHTTP
}

// appendQuantile sets each edge's response time from the quantiles of its
// workload-to-workload parts. An edge that stands for several parts (an app
// edge over versions, a caller-to-service edge over the service's
// workloads) gets their average weighted by request rate: close to, not
// exactly, the quantile of the union.
func appendQuantile(b *builder, quantiles []row) {
	type acc struct{ sum, weight float64 }
	accs := map[*Edge]*acc{}
	b.number(quantiles)
	for _, r := range quantiles {
		// Only an edge key that carried requests has a weight, and then
		// addRequests found its edges.
		ke := b.keyEdges(r.edge)
		if ke == nil || ke.requests <= 0 {
			continue
		}
		w := ke.requests
		for _, e := range ke.edges {
			a := accs[e]
			if a == nil {
				a = &acc{}
				accs[e] = a
			}
			a.sum += r.value * w
			a.weight += w
		}
	}
	for e, a := range accs {
		e.ResponseTime, e.HasResponseTime = a.sum/a.weight, true
	}
}

// appendAverage sets each edge's response time to its mean duration.
func appendAverage(b *builder, sums, counts []row) {
	b.number(sums)
	b.number(counts)
	for _, r := range sums {
		for _, e := range b.requestEdges(r) {
			e.durationSum += r.value
		}
	}
	touched := map[*Edge]bool{}
	for _, r := range counts {
		for _, e := range b.requestEdges(r) {
			e.durationCount += r.value
			touched[e] = true
		}
	}
	for e := range touched {
		if e.durationCount > 0 {
			e.ResponseTime, e.HasResponseTime = e.durationSum/e.durationCount, true
		}
	}
}
