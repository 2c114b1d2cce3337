// Package console is the whole HTTP surface of `meshlens serve` and
// `meshlens demo`: the JSON API in the shape of Kiali's, /metrics, health
// and readiness, and the web UI built into the binary.
package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/common/model"

	"github.com/meshlens/meshlens/grafana"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/metrics"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/validate"
)

// Server holds the console's handlers and what they need.
type Server struct {
	graphs *graph.Builder
	logger *slog.Logger
	// timeout bounds one API request.
	timeout time.Duration
	// validations, when set, serves Istio config validations.
	validations *validations
	// inventory, when set, tells graphs what runs (idle nodes, sidecars).
	inventory inventory.Source
	// health, when set, serves health.
	health *health.Checker
	// metrics, when set, serves entity metrics.
	metrics *metrics.Reader
	// customDashboards are Kiali's custom dashboards the config names.
	customDashboards []metrics.CustomDashboard
	// grafana, when set, finds the dashboards links point to.
	grafana *grafana.Linker
	// telemetry, when set and there is no inventory, lists namespaces.
	telemetry promclient.Querier
}

// New serves graphs built by graphs.
func New(graphs *graph.Builder, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{graphs: graphs, logger: logger.With("component", "console"), timeout: 60 * time.Second}
}

// Handler serves the API alone; answers are gzip-compressed when the
// client accepts it. Web serves it with everything else.
func (s *Server) Handler() http.Handler {
	return gzhttp.GzipHandler(s.apiMux(nil))
}

// apiMux routes the API, every route through wrap (m may be nil).
func (s *Server) apiMux(m *routeMetrics) *http.ServeMux {
	mux := http.NewServeMux()
	for _, r := range []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /api/namespaces/graph", s.namespacesGraph},
		{"GET /api/namespaces/{namespace}/{kind}/{name}/graph", s.nodeGraph},
		{"GET /api/istio/validations", s.istioValidations},
		{"GET /api/namespaces/{namespace}/istio", s.istioConfigList},
		{"GET /api/config", s.config},
		{"GET /api/cardinality", s.cardinalityReport},
		{"GET /api/namespaces", s.namespaceList},
		{"GET /api/namespaces/{namespace}/workloads", s.inNamespace(s.workloadList)},
		{"GET /api/namespaces/{namespace}/services", s.inNamespace(s.serviceList)},
		{"GET /api/namespaces/{namespace}/apps", s.inNamespace(s.appList)},
		{"GET /api/namespaces/{namespace}/istio/{kind}/{name}/validations", s.objectValidation},
		{"GET /api/namespaces/{namespace}/health", s.namespaceHealth},
		{"GET /api/clusters/health", s.clustersHealth},
		{"GET /api/namespaces/{namespace}/{kind}/{name}/health", s.entityHealth},
		{"GET /api/namespaces/{namespace}/metrics", s.namespaceMetrics},
		{"GET /api/grafana", s.grafanaLinks},
		{"GET /api/namespaces/{namespace}/{kind}/{name}/metrics", s.entityMetrics},
		{"GET /api/namespaces/{namespace}/{kind}/{name}/dashboard", s.entityDashboard},
		{"GET /api/namespaces/{namespace}/customdashboard/{dashboard}", s.customDashboard},
		{"/api/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no API at %s %s", r.Method, promclient.Cut(r.URL.Path)))
		}},
	} {
		mux.Handle(r.pattern, s.wrap(m, r.pattern, r.h))
	}
	return mux
}

// errorBody is the one shape of every error the API answers.
type errorBody struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(errorBody{Error: msg, Code: code})
}

// errNotFound wraps the errors of things the inventory does not hold.
var errNotFound = errors.New("not found")

// checkNamespaces tells whether every namespace of ns is a valid name and,
// when the console has an inventory, one it holds: one rule for every
// endpoint (an unknown namespace is a 404 for lists, Istio config,
// validations and graphs alike). Without an inventory only the store knows
// namespaces, and a namespace without traffic is an empty graph.
func (s *Server) checkNamespaces(ns ...string) error {
	for _, n := range ns {
		if err := graph.ValidNamespace(n); err != nil {
			return err
		}
	}
	if s.inventory == nil {
		return nil
	}
	snap := s.inventory.Snapshot()
	for _, n := range ns {
		if !snap.HasNamespace(n) {
			return fmt.Errorf("%w: namespace %s (known: %s)", errNotFound, n, promclient.Cut(strings.Join(snap.Namespaces(), ", ")))
		}
	}
	return nil
}

// statusOf maps an error to the HTTP status that tells the caller what to do.
func statusOf(err error) int {
	switch {
	case errors.Is(err, graph.ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, promclient.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, promclient.ErrBadQuery):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{graph.ErrBadRequest}, args...)...)
}

// graphOptions reads Kiali's graph query parameters.
func graphOptions(q url.Values) (graph.Options, error) {
	o := graph.Options{
		Type: graph.TypeVersionedApp, Duration: 10 * time.Minute,
		ResponseTime: "95", Throughput: "request", InjectServiceNodes: true,
	}
	if v := q.Get("graphType"); v != "" {
		t, err := graph.ParseType(v)
		if err != nil {
			return o, err
		}
		o.Type = t
	}
	if v := q.Get("duration"); v != "" {
		d, err := model.ParseDuration(v)
		if err != nil || d <= 0 {
			return o, badRequest("duration %q is not a duration like 600s or 10m", promclient.Cut(v))
		}
		o.Duration = time.Duration(d)
	}
	var err error
	if o.QueryTime, err = queryTime(q); err != nil {
		return o, err
	}
	if v := q.Get("responseTime"); v != "" {
		o.ResponseTime = v
	}
	if v := q.Get("throughputType"); v != "" {
		o.Throughput = v
	}
	o.RateHTTP, o.RateGRPC, o.RateTCP = q.Get("rateHttp"), q.Get("rateGrpc"), q.Get("rateTcp")
	if v := q.Get("injectServiceNodes"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, badRequest("injectServiceNodes %q is not true or false", promclient.Cut(v))
		}
		o.InjectServiceNodes = b
	}
	if q.Has("appenders") {
		o.Appenders = splitList(q.Get("appenders"))
		if o.Appenders == nil {
			o.Appenders = []string{}
		}
	}
	o.BoxBy = splitList(q.Get("boxBy"))
	if v := q.Get("idleNodes"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, badRequest("idleNodes %q is not true or false", promclient.Cut(v))
		}
		o.IdleNodes = b
	}
	return o, nil
}

// queryTime reads Kiali's queryTime (Unix seconds); zero when not given.
func queryTime(q url.Values) (time.Time, error) {
	v := q.Get("queryTime")
	if v == "" {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}, badRequest("queryTime %q is not a Unix time in seconds", promclient.Cut(v))
	}
	t := time.Unix(secs, 0)
	if t.After(time.Now().Add(5 * time.Minute)) {
		return t, badRequest("queryTime %s is in the future", t.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// compareOptions reads compareTo (Unix seconds, or a duration back from
// the graph's time, like 1h) and compareThreshold (the percentage a rate or
// response time must move by to count as changed; error shares by a tenth
// of it in points, at least one).
func compareOptions(q url.Values, at time.Time) (before time.Time, th graph.Thresholds, compare bool, err error) {
	v := q.Get("compareTo")
	if v == "" {
		return before, th, false, nil
	}
	if before, err = graph.CompareTime(v, at); err != nil {
		return before, th, false, fmt.Errorf("compareTo: %w", err)
	}
	th = graph.DefaultThresholds
	if v := q.Get("compareThreshold"); v != "" {
		pct, perr := strconv.ParseFloat(v, 64)
		if perr != nil || pct <= 0 || pct > 1000 {
			return before, th, false, badRequest("compareThreshold %q is not a percentage like 20", promclient.Cut(v))
		}
		th = graph.Thresholds{Rate: pct / 100, ResponseTime: pct / 100, ErrorShare: max(1, pct/10)}
	}
	return before, th, true, nil
}

// warningHeaders puts an answer's warnings in Warning headers (RFC 9111's
// 299, "miscellaneous persistent warning"), for answers in Kiali's shapes,
// which have no place for them.
func warningHeaders(w http.ResponseWriter, warnings []string) {
	for _, warn := range warnings {
		w.Header().Add("Warning", "299 meshlens "+strconv.Quote(promclient.Cut(warn)))
	}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) namespacesGraph(w http.ResponseWriter, r *http.Request) {
	o, err := graphOptions(r.URL.Query())
	if err == nil {
		o.Namespaces = splitList(r.URL.Query().Get("namespaces"))
		if len(o.Namespaces) == 0 {
			err = badRequest("namespaces is required, e.g. namespaces=bookinfo")
		}
	}
	s.serveGraph(w, r, o, err)
}

func (s *Server) nodeGraph(w http.ResponseWriter, r *http.Request) {
	o, err := graphOptions(r.URL.Query())
	ns := r.PathValue("namespace")
	o.Namespaces = []string{ns}
	o.Focus = &graph.Focus{Namespace: ns, Kind: r.PathValue("kind"), Name: r.PathValue("name")}
	s.serveGraph(w, r, o, err)
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, o graph.Options, err error) {
	if err == nil {
		err = s.checkNamespaces(o.Namespaces...)
	}
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	if s.inventory != nil {
		o.Inventory = s.inventory.Snapshot()
	}
	before, th, compare, err := compareOptions(r.URL.Query(), o.QueryTime)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	var g *graph.Graph
	if compare {
		g, err = s.graphs.Compare(ctx, o, before, th)
	} else {
		g, err = s.graphs.Build(ctx, o)
	}
	if err != nil {
		code := statusOf(err)
		if code >= 500 {
			s.logger.Warn("building a graph failed", "namespaces", strings.Join(o.Namespaces, ","), "err", err)
		}
		writeError(w, code, err.Error())
		return
	}
	if s.validations != nil && o.Inventory != nil {
		findings := s.validations.findingsOf(o.Inventory)
		marks := map[string]string{}
		for svc, sev := range validate.ByService(o.Inventory, findings, s.validations.options) {
			marks[svc] = string(sev)
		}
		g.MarkValidations(marks)
	}
	w.Header().Set("Content-Type", "application/json")
	if err := g.WriteJSON(w, ""); err != nil {
		s.logger.Debug("writing a graph", "err", err)
	}
}
