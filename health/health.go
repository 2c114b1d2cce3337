package health

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/telemetry"
	"github.com/meshlens/meshlens/traffic"
)

// Kind is what health is asked of.
type Kind string

// The kinds, by Kiali's names.
const (
	App      Kind = "app"
	Workload Kind = "workload"
	Service  Kind = "service"
)

// ParseKind reads app, workload or service.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case App, Workload, Service:
		return k, nil
	}
	return "", fmt.Errorf("type %q: use app, workload or service", s)
}

// Entity is the health of one app, workload or service, in Kiali's shape
// plus the status Kiali's UI would compute, and why.
type Entity struct {
	// WorkloadStatus is a workload's availability (nil when unknown).
	WorkloadStatus *WorkloadStatus `json:"workloadStatus,omitempty"`
	// WorkloadStatuses are an app's workloads' availability.
	WorkloadStatuses []WorkloadStatus `json:"workloadStatuses,omitempty"`
	Requests         Requests         `json:"requests"`
	Status           Verdict          `json:"status"`
}

// Options ask for health.
type Options struct {
	Namespaces []string
	Kind       Kind
	// RateInterval is the window rates are taken over (Kiali's
	// rateInterval), widened to two scrape intervals.
	RateInterval time.Duration
	QueryTime    time.Time
	// Inventory, when known, lists the entities (those without traffic
	// too), their annotations and their workloads' availability.
	Inventory *inventory.Snapshot
}

// Answer is the health of every entity of the namespaces asked, by
// namespace and name.
type Answer struct {
	Entities map[string]map[string]*Entity
	// Window is the rate window used; Warnings say what was widened,
	// assumed or left out; Queries are the PromQL sent.
	Window   time.Duration
	Warnings []string
	Queries  []string
}

// Checker computes health from a Prometheus.
type Checker struct {
	querier promclient.Querier
	config  *Config
}

// NewChecker computes health from q with the tolerances of c (Kiali's
// defaults when nil).
func NewChecker(q promclient.Querier, c *Config) *Checker {
	if c == nil {
		c = DefaultConfig()
	}
	return &Checker{querier: q, config: c}
}

// ErrBadRequest wraps errors in the options.
var ErrBadRequest = errors.New("bad health request")

// requestLabels are the labels health groups requests by: both ends of an
// edge as each kind names them, and the code.
var requestLabels = []string{
	telemetry.Reporter,
	telemetry.SourceWorkloadNamespace, telemetry.SourceWorkload, telemetry.SourceCanonicalService,
	telemetry.DestinationServiceNamespace, telemetry.DestinationServiceName,
	telemetry.DestinationWorkloadNamespace, telemetry.DestinationWorkload, telemetry.DestinationCanonicalService,
	telemetry.RequestProtocol, telemetry.ResponseCode, telemetry.GRPCResponseStatus,
}

// Check computes the health of every entity of o.Kind in o.Namespaces:
// one union of traffic's parts over istio_requests_total, a constant few
// queries however many namespaces and entities.
func (c *Checker) Check(ctx context.Context, o Options) (*Answer, error) {
	if len(o.Namespaces) == 0 {
		return nil, fmt.Errorf("%w: no namespace asked", ErrBadRequest)
	}
	if o.RateInterval <= 0 {
		o.RateInterval = 10 * time.Minute
	}
	if o.QueryTime.IsZero() {
		o.QueryTime = time.Now()
	}
	a := &Answer{Entities: map[string]map[string]*Entity{}}
	window, _, warnings, err := promclient.Window(ctx, c.querier, o.RateInterval)
	if err != nil {
		return nil, err
	}
	a.Window, a.Warnings = window, warnings
	sc := traffic.Scope{Namespaces: o.Namespaces}
	exprs := traffic.Batch(sc.Rates(telemetry.Select(telemetry.RequestsTotal), window, requestLabels, nil), 1)
	vectors := make([]promclient.Vector, len(exprs))
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	for i, e := range exprs {
		q, err := e.Query()
		if err != nil {
			return nil, err
		}
		a.Queries = append(a.Queries, q)
		g.Go(func() error {
			v, err := c.querier.Query(gctx, q, o.QueryTime)
			mu.Lock()
			vectors[i] = v
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	asked := map[string]bool{}
	for _, ns := range o.Namespaces {
		asked[ns] = true
		a.Entities[ns] = map[string]*Entity{}
	}
	entity := func(ns, name string) *Entity {
		if !asked[ns] || name == "" || name == telemetry.Unknown {
			return nil
		}
		e := a.Entities[ns][name]
		if e == nil {
			e = &Entity{Requests: newRequests()}
			a.Entities[ns][name] = e
		}
		return e
	}
	if o.Inventory != nil {
		c.listEntities(o, entity)
	}
	for _, v := range vectors {
		for _, s := range v {
			if math.IsNaN(s.Value) || s.Value == 0 {
				continue
			}
			l := s.Metric
			protocol, code, grpc := l.Get(telemetry.RequestProtocol), l.Get(telemetry.ResponseCode), l.Get(telemetry.GRPCResponseStatus)
			var in, out *Entity
			switch o.Kind {
			case Workload:
				in = entity(l.Get(telemetry.DestinationWorkloadNamespace), l.Get(telemetry.DestinationWorkload))
				out = entity(l.Get(telemetry.SourceWorkloadNamespace), l.Get(telemetry.SourceWorkload))
			case App:
				in = entity(l.Get(telemetry.DestinationWorkloadNamespace), l.Get(telemetry.DestinationCanonicalService))
				out = entity(l.Get(telemetry.SourceWorkloadNamespace), l.Get(telemetry.SourceCanonicalService))
			case Service:
				in = entity(l.Get(telemetry.DestinationServiceNamespace), l.Get(telemetry.DestinationServiceName))
			}
			if in != nil {
				add(in.Requests.Inbound, protocol, code, grpc, s.Value)
			}
			if out != nil {
				add(out.Requests.Outbound, protocol, code, grpc, s.Value)
			}
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(a.Entities)) {
		for name, e := range a.Entities[ns] {
			rules, warns := c.config.tolerances(ns, string(o.Kind), name, e.Requests.HealthAnnotations[AnnotationRate])
			for _, w := range warns {
				a.Warnings = append(a.Warnings, fmt.Sprintf("%s %s/%s: %s", o.Kind, ns, name, w))
			}
			e.Status = requestVerdict(e.Requests, rules)
			if e.WorkloadStatus != nil {
				e.Status = withAvailability(e.Status, availability(*e.WorkloadStatus))
			}
			for _, ws := range e.WorkloadStatuses {
				e.Status = withAvailability(e.Status, availability(ws))
			}
		}
	}
	return a, nil
}

// listEntities puts every entity of the inventory's namespaces in the
// answer, with its annotations and its workloads' availability.
func (c *Checker) listEntities(o Options, entity func(ns, name string) *Entity) {
	snap := o.Inventory
	switch o.Kind {
	case Workload:
		for _, w := range snap.Workloads {
			if e := entity(w.Namespace, w.Name); e != nil {
				e.Requests.HealthAnnotations = healthAnnotations(w.Object)
				if ws, ok := status(w); ok {
					e.WorkloadStatus = &ws
				}
			}
		}
	case App:
		for _, w := range snap.Workloads {
			if w.App == "" {
				continue
			}
			if e := entity(w.Namespace, w.App); e != nil {
				if ws, ok := status(w); ok {
					e.WorkloadStatuses = append(e.WorkloadStatuses, ws)
				}
			}
		}
	case Service:
		for _, svc := range snap.Services {
			if e := entity(svc.Namespace, svc.Name); e != nil {
				e.Requests.HealthAnnotations = healthAnnotations(svc.Object)
			}
		}
	}
}

// status is a workload's availability, when its object says it.
func status(w *inventory.Workload) (WorkloadStatus, bool) {
	if !w.StatusKnown {
		return WorkloadStatus{}, false
	}
	return WorkloadStatus{Name: w.Name, DesiredReplicas: w.DesiredReplicas, CurrentReplicas: w.CurrentReplicas,
		AvailableReplicas: w.AvailableReplicas, SyncedProxies: -1}, true
}

// healthAnnotations are an object's health.kiali.io annotations.
func healthAnnotations(o *inventory.Object) map[string]string {
	out := map[string]string{}
	if m, ok := o.Typed.(metav1.Object); ok {
		if v, ok := m.GetAnnotations()[AnnotationRate]; ok {
			out[AnnotationRate] = v
		}
	}
	return out
}
