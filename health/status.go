package health

import (
	"fmt"
	"maps"
	"slices"
)

// Status is a health status, by Kiali's names.
type Status string

// The statuses, from the worst: an entity's status is the worst of its
// request health and its availability.
const (
	Failure  Status = "Failure"
	Degraded Status = "Degraded"
	NotReady Status = "Not Ready"
	Healthy  Status = "Healthy"
	NA       Status = "NA"
)

// priority orders statuses as Kiali does: Failure 4, Degraded 3, Not Ready
// 2, Healthy 1, NA 0.
func (s Status) priority() int {
	switch s {
	case Failure:
		return 4
	case Degraded:
		return 3
	case NotReady:
		return 2
	case Healthy:
		return 1
	}
	return 0
}

// Verdict is a status and what decided it.
type Verdict struct {
	Status Status `json:"status"`
	// ErrorRatio is the error share (percent) the deciding tolerance
	// measured, or -1 without traffic.
	ErrorRatio float64 `json:"errorRatio"`
	// Reason says which rule decided: a tolerance, or an availability rule.
	Reason string `json:"reason,omitempty"`
}

// worse is the worse of two verdicts (the first on a tie).
func worse(a, b Verdict) Verdict {
	if b.Status.priority() > a.Status.priority() {
		return b
	}
	return a
}

// withAvailability is the worse of a request verdict and an availability
// one. On a tie short of Healthy availability gives the reason (replicas
// that are not there explain failing requests, not the other way round),
// and the error ratio measured is kept.
func withAvailability(requests, avail Verdict) Verdict {
	if avail.Status == requests.Status && avail.Status.priority() > Healthy.priority() {
		avail.ErrorRatio = requests.ErrorRatio
		return avail
	}
	return worse(requests, avail)
}

// Requests are request rates (per second) by protocol and code, inbound
// and outbound, as Kiali shapes them: code "-" is a request without a
// response (code 0), a gRPC request's code its grpc-status.
type Requests struct {
	Inbound  map[string]map[string]float64 `json:"inbound"`
	Outbound map[string]map[string]float64 `json:"outbound"`
	// HealthAnnotations are the entity's health.kiali.io annotations.
	HealthAnnotations map[string]string `json:"healthAnnotations"`
}

func newRequests() Requests {
	return Requests{Inbound: map[string]map[string]float64{}, Outbound: map[string]map[string]float64{}, HealthAnnotations: map[string]string{}}
}

// add counts rate requests of protocol answered code (response_code) or,
// for gRPC, grpcStatus.
func add(m map[string]map[string]float64, protocol, code, grpcStatus string, rate float64) {
	code = Code(protocol, code, grpcStatus)
	if m[protocol] == nil {
		m[protocol] = map[string]float64{}
	}
	m[protocol][code] += rate
}

// requestVerdict applies the tolerances to the requests: for each
// direction, protocol and tolerance that applies, the share of the
// protocol's requests whose code matches; the worst status wins. With
// traffic and no error, Healthy; without traffic, NA.
func requestVerdict(r Requests, rules []rule) Verdict {
	v := Verdict{Status: NA, ErrorRatio: -1}
	traffic := false
	for _, dir := range []struct {
		name  string
		codes map[string]map[string]float64
	}{{"inbound", r.Inbound}, {"outbound", r.Outbound}} {
		for _, protocol := range slices.Sorted(maps.Keys(dir.codes)) {
			codes := dir.codes[protocol]
			for _, t := range rules {
				if !t.direction.MatchString(dir.name) || !t.protocol.MatchString(protocol) {
					continue
				}
				var errs, total float64
				for code, n := range codes {
					total += n
					if t.code.MatchString(code) {
						errs += n
					}
				}
				if total == 0 {
					continue
				}
				traffic = true
				ratio := errs / total * 100
				s := threshold(ratio, t.Degraded, t.Failure)
				if s.priority() > v.Status.priority() {
					v = Verdict{Status: s, ErrorRatio: ratio, Reason: fmt.Sprintf("%s %s requests with code %s: %.2f%% (degraded from %g%%, failure from %g%%)",
						dir.name, protocol, t.Code, ratio, t.Degraded, t.Failure)}
				}
			}
		}
	}
	if v.Status == NA && traffic {
		return Verdict{Status: Healthy, ErrorRatio: 0, Reason: "requests within every tolerance"}
	}
	return v
}

// threshold is Kiali's: no errors is Healthy; failure (when above 0)
// reached is Failure; degraded reached is Degraded, any error at all when
// degraded is 0.
func threshold(ratio, degraded, failure float64) Status {
	switch {
	case ratio <= 0:
		return Healthy
	case failure > 0 && ratio >= failure:
		return Failure
	case ratio >= degraded:
		return Degraded
	}
	return Healthy
}

// WorkloadStatus is a workload's availability, in Kiali's fields.
type WorkloadStatus struct {
	Name              string `json:"name"`
	DesiredReplicas   int32  `json:"desiredReplicas"`
	CurrentReplicas   int32  `json:"currentReplicas"`
	AvailableReplicas int32  `json:"availableReplicas"`
	// SyncedProxies is how many of its proxies istiod has synced, -1 when
	// unknown.
	SyncedProxies int32 `json:"syncedProxies"`
}

// availability applies Kiali's rules, in Kiali's order.
func availability(ws WorkloadStatus) Verdict {
	d, c, a, s := ws.DesiredReplicas, ws.CurrentReplicas, ws.AvailableReplicas, ws.SyncedProxies
	switch {
	case d == 0:
		return Verdict{Status: NotReady, ErrorRatio: -1, Reason: fmt.Sprintf("workload %s is scaled to 0 replicas", ws.Name)}
	case c > 0 && a > 0 && (c < d || a < d):
		return Verdict{Status: Degraded, ErrorRatio: -1, Reason: fmt.Sprintf("workload %s: %d of %d replicas available", ws.Name, a, d)}
	case a == 0:
		return Verdict{Status: Failure, ErrorRatio: -1, Reason: fmt.Sprintf("workload %s: none of %d replicas available", ws.Name, d)}
	case d == a && a != c:
		return Verdict{Status: Failure, ErrorRatio: -1, Reason: fmt.Sprintf("workload %s: %d pods pending", ws.Name, c-a)}
	case s >= 0 && s < d:
		return Verdict{Status: Degraded, ErrorRatio: -1, Reason: fmt.Sprintf("workload %s: %d of %d proxies synced", ws.Name, s, d)}
	case d == c && c == a:
		return Verdict{Status: Healthy, ErrorRatio: -1, Reason: fmt.Sprintf("workload %s: %d of %d replicas available", ws.Name, a, d)}
	}
	return Verdict{Status: Degraded, ErrorRatio: -1, Reason: fmt.Sprintf("workload %s: %d desired, %d current, %d available", ws.Name, d, c, a)}
}

// Endpoint is one end of an edge, for its tolerances: its namespace, kind,
// name and health.kiali.io/rate annotation.
type Endpoint struct {
	Namespace  string
	Kind       Kind
	Name       string
	Annotation string
}

// EdgeVerdict is the health of the requests of an edge (codes of one
// protocol, in Requests' terms): the worse of the caller's outbound
// tolerances and the destination's inbound ones, as Kiali judges an edge.
func (c *Config) EdgeVerdict(protocol string, codes map[string]float64, source, dest Endpoint) Verdict {
	srcRules, _ := c.tolerances(source.Namespace, string(source.Kind), source.Name, source.Annotation)
	dstRules, _ := c.tolerances(dest.Namespace, string(dest.Kind), dest.Name, dest.Annotation)
	m := map[string]map[string]float64{protocol: codes}
	return worse(requestVerdict(Requests{Outbound: m}, srcRules), requestVerdict(Requests{Inbound: m}, dstRules))
}

// Code is how Requests name a response: "-" without one (code 0), a gRPC
// request's grpc-status, else the HTTP code.
func Code(protocol, code, grpcStatus string) string {
	switch {
	case code == "0" || code == "":
		return "-"
	case protocol == "grpc" && grpcStatus != "":
		return grpcStatus
	}
	return code
}
