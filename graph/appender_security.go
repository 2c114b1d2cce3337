package graph

import "github.com/meshlens/meshlens/telemetry"

// appendSecurity sets the share of each edge's requests that used mutual
// TLS, as the destination sidecars report it, and the principals that
// carried most of the traffic.
func appendSecurity(b *builder, rows []row) {
	type acc struct {
		total, mtls float64
		src, dst    map[string]float64
	}
	accs := map[*Edge]*acc{}
	for _, r := range rows {
		if r.reporter != telemetry.ReporterDestination {
			continue
		}
		for _, e := range b.existingEdges(r, requestProtocol(r)) {
			a := accs[e]
			if a == nil {
				a = &acc{src: map[string]float64{}, dst: map[string]float64{}}
				accs[e] = a
			}
			a.total += r.value
			if r.policy == telemetry.SecurityMutualTLS {
				a.mtls += r.value
				a.src[r.srcPrincipal] += r.value
				a.dst[r.dstPrincipal] += r.value
			}
		}
	}
	for e, a := range accs {
		if a.total <= 0 {
			continue
		}
		e.MTLS, e.HasMTLS = 100*a.mtls/a.total, true
		e.SourcePrincipal, e.DestPrincipal = busiest(a.src), busiest(a.dst)
	}
}

// busiest is the key with the largest value (the first by name on a tie).
func busiest(m map[string]float64) string {
	best, bestV := "", -1.0
	for _, k := range sortedKeys(m) {
		if m[k] > bestV && k != telemetry.Unknown {
			best, bestV = k, m[k]
		}
	}
	return best
}
