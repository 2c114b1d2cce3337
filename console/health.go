package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlens/meshlens/grafana"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/promclient"
)

// WithHealth serves health, computed by c.
func (s *Server) WithHealth(c *health.Checker) *Server {
	s.health = c
	return s
}

// healthOptions reads Kiali's health parameters: type, rateInterval and
// queryTime.
func healthOptions(q url.Values, kind health.Kind) (health.Options, error) {
	o := health.Options{Kind: kind, RateInterval: 10 * time.Minute}
	if v := q.Get("type"); v != "" && kind == "" {
		k, err := health.ParseKind(v)
		if err != nil {
			return o, badRequest("%v", err)
		}
		o.Kind = k
	}
	if o.Kind == "" {
		o.Kind = health.App // Kiali's default
	}
	if v := q.Get("rateInterval"); v != "" {
		d, err := model.ParseDuration(v)
		if err != nil || d <= 0 {
			return o, badRequest("rateInterval %q is not a duration like 60s or 10m", promclient.Cut(v))
		}
		o.RateInterval = time.Duration(d)
	}
	if o.RateInterval > graph.MaxDuration {
		return o, badRequest("rateInterval %s is longer than %s", model.Duration(o.RateInterval), model.Duration(graph.MaxDuration))
	}
	var err error
	o.QueryTime, err = queryTime(q)
	return o, err
}

// checkHealth answers the health o asks for, or writes the error.
func (s *Server) checkHealth(w http.ResponseWriter, r *http.Request, o health.Options, err error) *health.Answer {
	if err == nil && s.health == nil {
		err = fmt.Errorf("%w: health needs a Prometheus (meshlens serve --prometheus.url, or the demo)", errNotFound)
	}
	if err == nil {
		err = s.checkNamespaces(o.Namespaces...)
	}
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return nil
	}
	if s.inventory != nil {
		o.Inventory = s.inventory.Snapshot()
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	a, err := s.health.Check(ctx, o)
	if errors.Is(err, health.ErrBadRequest) {
		err = badRequest("%v", err)
	}
	if err != nil {
		code := statusOf(err)
		if code >= 500 {
			s.logger.Warn("health failed", "namespaces", strings.Join(o.Namespaces, ","), "err", err)
		}
		writeError(w, code, err.Error())
		return nil
	}
	warningHeaders(w, a.Warnings)
	return a
}

// namespaceHealth answers /api/namespaces/{namespace}/health: every entity
// of the type asked, by name.
func (s *Server) namespaceHealth(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("namespace")
	o, err := healthOptions(r.URL.Query(), "")
	o.Namespaces = []string{ns}
	if a := s.checkHealth(w, r, o, err); a != nil {
		writeJSON(w, a.Entities[ns])
	}
}

// clustersHealth answers /api/clusters/health?namespaces=a,b: Kiali's
// namespaceAppHealth, namespaceServiceHealth or namespaceWorkloadHealth,
// by namespace and name.
func (s *Server) clustersHealth(w http.ResponseWriter, r *http.Request) {
	o, err := healthOptions(r.URL.Query(), "")
	o.Namespaces = splitList(r.URL.Query().Get("namespaces"))
	if err == nil && len(o.Namespaces) == 0 {
		err = badRequest("namespaces is required, e.g. namespaces=bookinfo")
	}
	a := s.checkHealth(w, r, o, err)
	if a == nil {
		return
	}
	key := map[health.Kind]string{health.App: "namespaceAppHealth", health.Service: "namespaceServiceHealth", health.Workload: "namespaceWorkloadHealth"}[o.Kind]
	writeJSON(w, map[string]any{key: a.Entities})
}

// entityHealth answers /api/namespaces/{namespace}/{apps|workloads|services}/{name}/health.
func (s *Server) entityHealth(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	k, err := entityKind(r, "health")
	kind := health.Kind(k)
	o, perr := healthOptions(r.URL.Query(), kind)
	if err == nil {
		err = perr
	}
	o.Namespaces = []string{ns}
	a := s.checkHealth(w, r, o, err)
	if a == nil {
		return
	}
	e := a.Entities[ns][name]
	if e == nil {
		if s.inventory != nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no %s %s in namespace %s", kind, promclient.Cut(name), ns))
			return
		}
		// Without an inventory only traffic tells what exists: none in
		// the window is no health information.
		e = &health.Entity{Requests: health.Requests{Inbound: map[string]map[string]float64{}, Outbound: map[string]map[string]float64{}, HealthAnnotations: map[string]string{}},
			Status: health.Verdict{Status: health.NA, ErrorRatio: -1, Reason: "no traffic in the window"}}
	}
	if s.grafana == nil {
		writeJSON(w, e)
		return
	}
	writeJSON(w, struct {
		*health.Entity
		// ExternalLinks are the Grafana dashboards that show the entity.
		ExternalLinks []grafana.Link `json:"externalLinks"`
	}{e, s.entityLinks(r.Context(), k, ns, name)})
}
