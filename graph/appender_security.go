package graph

import "github.com/meshlens/meshlens/telemetry"

// appendSecurity sets the share of each edge's traffic that used mutual
// TLS, as the destination sidecars report it, and the principals that
// carried most of it: of the requests whose rate the edge shows, and of
// the streams (rows by protocol) whose rate it shows instead, TCP bytes
// or gRPC messages, weighed by what they count, as Kiali weighs them.
func appendSecurity(b *builder, requests []row, streams map[string][]row) {
	type acc struct {
		total, mtls float64
		src, dst    Shares
	}
	accs := map[*Edge]*acc{}
	add := func(r row, edges []*Edge) {
		for _, e := range edges {
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
	b.number(requests)
	for _, r := range requests {
		if r.reporter == telemetry.ReporterDestination {
			add(r, b.requestEdges(r))
		}
	}
	for protocol, rows := range streams {
		for _, r := range rows {
			if r.reporter == telemetry.ReporterDestination && r.value > 0 {
				add(r, b.existingEdges(r, protocol))
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
