package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlens/meshlens/grafana"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/metrics"
	"github.com/meshlens/meshlens/promclient"
)

// WithMetrics serves entity metrics, read by r.
func (s *Server) WithMetrics(r *metrics.Reader) *Server {
	s.metrics = r
	return s
}

// seconds reads Kiali's durations: a number of seconds (duration=1800,
// step=15) or a Prometheus duration (30m).
func seconds(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := model.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badRequest("%s %q is not a number of seconds or a duration like 30m", name, promclient.Cut(v))
	}
	return time.Duration(d), nil
}

// list reads a parameter given as name[]=a&name[]=b, name=a,b or both.
func list(q url.Values, name string) []string {
	var out []string
	for _, v := range append(q[name+"[]"], q[name]...) {
		out = append(out, splitList(v)...)
	}
	return out
}

// metricsOptions reads Kiali's metrics parameters.
func metricsOptions(q url.Values) (metrics.Options, error) {
	o := metrics.Options{Direction: q.Get("direction"), Reporter: q.Get("reporter"), RequestProtocol: q.Get("requestProtocol"),
		Quantiles: list(q, "quantiles"), ByLabels: list(q, "byLabels"), Filters: list(q, "filters")}
	var err error
	for _, p := range []struct {
		name string
		into *time.Duration
	}{{"duration", &o.Duration}, {"step", &o.Step}, {"rateInterval", &o.RateInterval}} {
		if v := q.Get(p.name); v != "" {
			if *p.into, err = seconds(p.name, v); err != nil {
				return o, err
			}
		}
	}
	if o.Duration > graph.MaxDuration {
		return o, badRequest("duration %s is longer than %s", model.Duration(o.Duration), model.Duration(graph.MaxDuration))
	}
	o.QueryTime, err = queryTime(q)
	return o, err
}

// entityKinds are the entity kinds of /api/namespaces/{namespace}/{kind}/{name}/…,
// by their path segment: the names health, metrics and Grafana's link
// variables share.
var entityKinds = map[string]string{"apps": "app", "workloads": "workload", "services": "service"}

// entityKind is the kind of the request's {kind} segment, or a not-found
// error saying which kinds have what.
func entityKind(r *http.Request, what string) (string, error) {
	kind, ok := entityKinds[r.PathValue("kind")]
	if !ok {
		return "", fmt.Errorf("%w: no API at %s (apps, workloads or services have %s)", errNotFound, promclient.Cut(r.URL.Path), what)
	}
	return kind, nil
}

// entityLinks are the Grafana dashboards that show an entity: none when
// Grafana is not configured.
func (s *Server) entityLinks(ctx context.Context, kind, namespace, name string) []grafana.Link {
	if s.grafana == nil {
		return []grafana.Link{}
	}
	return s.grafana.For(ctx, grafana.Entity{Kind: kind, Namespace: namespace, Name: name})
}

// dashboardAnswer is a dashboard as Kiali answers it, with its links.
type dashboardAnswer struct {
	metrics.Dashboard
	ExternalLinks []grafana.Link `json:"externalLinks"`
}

// entityMetricsOptions reads the entity and Kiali's metrics parameters of
// /api/namespaces/{namespace}/{apps|workloads|services}/{name}/….
func entityMetricsOptions(r *http.Request) (metrics.Options, error) {
	kind, kerr := entityKind(r, "metrics")
	o, err := metricsOptions(r.URL.Query())
	if kerr != nil {
		err = kerr
	}
	o.Kind, o.Namespace, o.Name = metrics.Kind(kind), r.PathValue("namespace"), r.PathValue("name")
	return o, err
}

// entityMetrics answers /api/namespaces/{namespace}/{apps|workloads|services}/{name}/metrics.
func (s *Server) entityMetrics(w http.ResponseWriter, r *http.Request) {
	o, err := entityMetricsOptions(r)
	if a := s.readMetrics(w, r, o, err, s.metrics.Read); a != nil {
		writeJSON(w, a.Metrics)
	}
}

// entityDashboard answers /api/namespaces/{namespace}/{apps|workloads|services}/{name}/dashboard:
// the entity's metrics laid out in charts, as Kiali's monitoring
// dashboard, with the Grafana dashboards that show the entity.
func (s *Server) entityDashboard(w http.ResponseWriter, r *http.Request) {
	o, err := entityMetricsOptions(r)
	if a := s.readMetrics(w, r, o, err, s.metrics.Read); a != nil {
		writeJSON(w, dashboardAnswer{metrics.NewDashboard(a, o), s.entityLinks(r.Context(), string(o.Kind), o.Namespace, o.Name)})
	}
}

// namespaceMetrics answers /api/namespaces/{namespace}/metrics.
func (s *Server) namespaceMetrics(w http.ResponseWriter, r *http.Request) {
	o, err := metricsOptions(r.URL.Query())
	o.Kind, o.Namespace = metrics.Namespace, r.PathValue("namespace")
	if a := s.readMetrics(w, r, o, err, s.metrics.Read); a != nil {
		writeJSON(w, a.Metrics)
	}
}

// readMetrics answers o by read, err the error reading the request; it
// answers any error itself and returns nil.
func (s *Server) readMetrics(w http.ResponseWriter, r *http.Request, o metrics.Options, err error, read func(context.Context, metrics.Options) (*metrics.Answer, error)) *metrics.Answer {
	if err == nil && s.metrics == nil {
		err = fmt.Errorf("%w: metrics need a Prometheus (meshlens serve --prometheus.url, or the demo)", errNotFound)
	}
	if err == nil {
		err = s.checkNamespaces(o.Namespace)
	}
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	a, err := read(ctx, o)
	if errors.Is(err, metrics.ErrBadRequest) {
		err = badRequest("%v", err)
	}
	if err != nil {
		code := statusOf(err)
		if code >= 500 {
			s.logger.Warn("metrics failed", "namespace", o.Namespace, "name", o.Name, "err", err)
		}
		writeError(w, code, err.Error())
		return nil
	}
	warningHeaders(w, a.Warnings)
	return a
}

// WithCustomDashboards serves ds, Kiali's custom dashboards.
func (s *Server) WithCustomDashboards(ds []metrics.CustomDashboard) *Server {
	s.customDashboards = ds
	return s
}

// customDashboard answers /api/namespaces/{namespace}/customdashboard/{dashboard}:
// a configured dashboard's charts of the namespace's pods that carry
// labelsFilters (app:reviews,version:v1), with Kiali's metrics
// parameters.
func (s *Server) customDashboard(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("dashboard")
	var d *metrics.CustomDashboard
	var known []string
	for i := range s.customDashboards {
		known = append(known, s.customDashboards[i].Name)
		if s.customDashboards[i].Name == name {
			d = &s.customDashboards[i]
		}
	}
	o, err := metricsOptions(r.URL.Query())
	if err == nil && d == nil {
		err = fmt.Errorf("%w: no custom dashboard %q (external_services.custom_dashboards holds %v)", errNotFound, promclient.Cut(name), known)
	}
	o.Namespace = r.PathValue("namespace")
	pods := map[string]string{}
	for _, f := range list(r.URL.Query(), "labelsFilters") {
		k, v, ok := strings.Cut(f, ":")
		if !ok && err == nil {
			err = badRequest("labelsFilters %q: use label:value, e.g. app:reviews", promclient.Cut(f))
		}
		pods[k] = v
	}
	var dash metrics.Dashboard
	read := func(ctx context.Context, o metrics.Options) (*metrics.Answer, error) {
		var a *metrics.Answer
		var err error
		dash, a, err = s.metrics.Custom(ctx, *d, o, pods)
		return a, err
	}
	if a := s.readMetrics(w, r, o, err, read); a != nil {
		writeJSON(w, dashboardAnswer{dash, []grafana.Link{}})
	}
}
