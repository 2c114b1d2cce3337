package graph

import (
	"math"
	"sort"

	"github.com/meshlens/meshlens/telemetry"
)

func requestProtocol(r row) string {
	if r.protocol == telemetry.ProtocolGRPC {
		return telemetry.ProtocolGRPC
	}
	return telemetry.ProtocolHTTP
}

// appendQuantile sets each edge's response time to quantile q of its
// request durations. The bucket rates are summed per edge of this graph's
// type before the quantile is taken, so app, version and workload edges
// each get the quantile of their own traffic from one query.
func appendQuantile(b *builder, rows []row, q float64) {
	touched := map[*Edge]bool{}
	for _, r := range rows {
		for _, e := range b.existingEdges(r, requestProtocol(r)) {
			if e.buckets == nil {
				e.buckets = map[float64]float64{}
			}
			e.buckets[r.le] += r.value
			touched[e] = true
		}
	}
	for e := range touched {
		if v, ok := bucketQuantile(q, e.buckets); ok {
			e.ResponseTime, e.HasResponseTime = v, true
		}
		e.buckets = nil
	}
}

// bucketQuantile estimates quantile q from cumulative histogram buckets
// (upper bound -> rate), interpolating linearly inside the bucket the rank
// falls in, as PromQL's histogram_quantile does for classic histograms.
func bucketQuantile(q float64, buckets map[float64]float64) (float64, bool) {
	bounds := make([]float64, 0, len(buckets))
	for le := range buckets {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	if len(bounds) < 2 || !math.IsInf(bounds[len(bounds)-1], 1) {
		return 0, false
	}
	total := buckets[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for i, le := range bounds {
		count := buckets[le]
		if count >= rank {
			if math.IsInf(le, 1) {
				return bounds[i-1], true
			}
			if i == 0 && le <= 0 {
				return le, true
			}
			inBucket := count - prevCount
			if inBucket <= 0 {
				return le, true
			}
			return prevBound + (le-prevBound)*(rank-prevCount)/inBucket, true
		}
		prevBound, prevCount = le, count
	}
	return bounds[len(bounds)-2], true
}

// appendAverage sets each edge's response time to its mean duration.
func appendAverage(b *builder, sums, counts []row) {
	for _, r := range sums {
		for _, e := range b.existingEdges(r, requestProtocol(r)) {
			e.durationSum += r.value
		}
	}
	touched := map[*Edge]bool{}
	for _, r := range counts {
		for _, e := range b.existingEdges(r, requestProtocol(r)) {
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
