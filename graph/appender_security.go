package graph

import "github.com/meshlens/meshlens/telemetry"

// appendSecurity sets the share of each edge's requests that used mutual
// TLS, as the destination sidecars report it, and the principals that
// carried most of the traffic.
func appendSecurity(b *builder, rows []row) {
	type acc struct {
		total, mtls float64
		src, dst    Shares
	}
	accs := map[*Edge]*acc{}
	b.number(rows)
	for _, r := range rows {
		if r.reporter != telemetry.ReporterDestination {
			continue
		}
		for _, e := range b.requestEdges(r) {
			a := accs[e]
			if a == nil {
				a = &acc{}
				accs[e] = a
			}
			a.total += r.value
			if r.policy == telemetry.SecurityMutualTLS {
				a.mtls += r.value
				a.src.add(r.srcPrincipal, r.value)
				a.dst.add(r.dstPrincipal, r.value)
			}
		}
	}
	for e, a := range accs {
		if a.total <= 0 {
			continue
		}
		e.MTLS, e.HasMTLS = 100*a.mtls/a.total, true
		e.SourcePrincipal, e.DestPrincipal = a.src.busiest(), a.dst.busiest()
	}
}

// busiest is the key with the largest value (the first by name on a tie),
// never unknown.
func (s Shares) busiest() string {
	best, bestV := "", -1.0
	for _, sh := range s {
		if sh.Key == telemetry.Unknown {
			continue
		}
		if sh.Value > bestV || (sh.Value == bestV && sh.Key < best) {
			best, bestV = sh.Key, sh.Value
		}
	}
	return best
}
