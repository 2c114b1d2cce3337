package graph

// appendThroughput sets each HTTP and gRPC edge's throughput in bytes per
// second, from the request or response size histograms' sums.
func appendThroughput(b *builder, rows []row) {
	b.number(rows)
	for _, r := range rows {
		for _, e := range b.requestEdges(r) {
			e.Throughput += r.value
			e.HasThroughput = true
		}
	}
}
