package console

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/http/pprof"
	"path"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	ui "github.com/meshlens/meshlens/web/ui"
)

// KialiPrefix also answers, whatever the route prefix, so that links saved
// from Kiali (http://host:20001/kiali/console/graph/...) still land.
const KialiPrefix = "/kiali"

// WebOptions is what the console's whole HTTP surface needs beyond its API.
type WebOptions struct {
	// RoutePrefix is where everything is served ("/" when empty), as
	// Prometheus's --web.route-prefix.
	RoutePrefix string
	// Gatherer is what /metrics shows.
	Gatherer prometheus.Gatherer
	// Registerer takes the route metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Ready tells whether what the console reads answers (the Prometheus);
	// /-/ready also waits for the inventory.
	Ready func(context.Context) error
	// EnablePprof serves Go's profiles under /debug/pprof/.
	EnablePprof bool
	// Mounts are more API routes (patterns under /api/) served through the
	// same wrapper, such as the demo's simulator control.
	Mounts map[string]http.Handler
	// Assets is the web UI; nil serves the one built into the binary.
	Assets fs.FS
}

// routePrefixPattern is what a route prefix may hold: it is written into
// the UI's <base href>, so nothing that needs escaping.
var routePrefixPattern = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*$`)

// NormalizePrefix checks a route prefix and returns it without a trailing
// slash ("" for the root).
func NormalizePrefix(p string) (string, error) {
	p = strings.TrimSuffix(p, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !routePrefixPattern.MatchString(p) || strings.Contains(p+"/", "/./") || strings.Contains(p+"/", "/../") {
		return "", fmt.Errorf("route prefix %q: use path segments of letters, digits and . _ ~ - only, like /meshlens", p)
	}
	return p, nil
}

// routeMetrics count and time every request by the route that served it.
type routeMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	panics   prometheus.Counter
}

func newRouteMetrics(reg prometheus.Registerer) *routeMetrics {
	m := &routeMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlens_http_requests_total",
			Help: "Requests to the console, by route (the pattern that served them) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meshlens_http_request_duration_seconds",
			Help:    "Time to answer a request to the console, by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshlens_http_panics_total",
			Help: "Requests whose handler panicked; each was answered 500 and logged with its stack.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.panics)
	}
	return m
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// authorize is the hook where authentication will go: it sees every API
// request before its handler. Nothing is refused yet.
func (s *Server) authorize(*http.Request) error { return nil }

// wrap is the one way into every route: authorization, panic recovery,
// metrics and a debug log line, as Prometheus's API wraps its functions.
func (s *Server) wrap(m *routeMetrics, route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.Error("a request's handler panicked", "route", route, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if m != nil {
					m.panics.Inc()
				}
				if rec.code == 0 {
					writeError(rec, http.StatusInternalServerError, "internal error while answering "+route+"; the console's log has the details")
				}
			}
			if rec.code == 0 {
				rec.code = http.StatusOK
			}
			if m != nil {
				m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
				m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
			}
			s.logger.Debug("request", "route", route, "code", rec.code, "took", time.Since(start))
		}()
		if err := s.authorize(r); err != nil {
			writeError(rec, http.StatusUnauthorized, err.Error())
			return
		}
		h.ServeHTTP(rec, r)
	})
}

// Web is the console's whole HTTP surface: the API, /metrics, /-/healthy,
// /-/ready, the web UI (with client-side routing) and, when asked, pprof;
// under the route prefix and under /kiali.
func (s *Server) Web(o WebOptions) (http.Handler, error) {
	prefix, err := NormalizePrefix(o.RoutePrefix)
	if err != nil {
		return nil, err
	}
	assets := o.Assets
	if assets == nil {
		assets = ui.Assets()
	}
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		return nil, fmt.Errorf("the web UI has no index.html (rebuild it with make ui): %w", err)
	}
	m := newRouteMetrics(o.Registerer)
	mux := s.apiMux(m)
	handle := func(pattern string, h http.Handler) { mux.Handle(pattern, s.wrap(m, pattern, h)) }
	for pattern, h := range o.Mounts {
		handle(pattern, h)
	}
	gatherer := o.Gatherer
	if gatherer == nil {
		gatherer = prometheus.NewRegistry()
	}
	handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	handle("GET /-/healthy", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "meshlens is Healthy.") }))
	handle("GET /-/ready", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.ready(w, r, o.Ready) }))
	if o.EnablePprof {
		handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
		handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
		handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	}
	app := &appHandler{assets: assets, index: index}
	handle("GET /assets/", http.HandlerFunc(app.asset))
	handle("/", app)

	outer := http.NewServeMux()
	mount := func(at string) {
		inner := withBase(at+"/", mux)
		if at == "" {
			outer.Handle("/", inner)
			return
		}
		outer.Handle(at+"/", http.StripPrefix(at, inner))
		outer.Handle(at, http.RedirectHandler(at+"/", http.StatusFound))
	}
	mount(prefix)
	if prefix != KialiPrefix {
		mount(KialiPrefix)
	}
	if prefix != "" {
		outer.Handle("/{$}", http.RedirectHandler(prefix+"/", http.StatusFound))
	}
	return gzhttp.GzipHandler(outer), nil
}

// ready answers 200 once the inventory is loaded and the Prometheus answers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request, check func(context.Context) error) {
	if s.inventory != nil && s.inventory.Snapshot() == nil {
		http.Error(w, "meshlens is not ready: the inventory is still loading.", http.StatusServiceUnavailable)
		return
	}
	if check != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := check(ctx); err != nil {
			http.Error(w, "meshlens is not ready: the Prometheus does not answer: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintln(w, "meshlens is Ready.")
}

type baseKey struct{}

// withBase tells the UI handler under which path it is mounted.
func withBase(base string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), baseKey{}, base)))
	})
}

// appHandler serves the single-page app: its assets by name, and index.html
// for every other path, since the app routes on the client.
type appHandler struct {
	assets fs.FS
	index  []byte
}

// asset serves a content-hashed file: cached for good, since a new build
// has new names. A missing one is a 404, never the app's page, so a stale
// page's script fails plainly.
func (a *appHandler) asset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if _, err := fs.Stat(a.assets, name); err != nil {
		http.Error(w, "no such asset: "+html.EscapeString(name)+" (the page may be older than this meshlens; reload it)", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeFileFS(w, r, a.assets, name)
}

func (a *appHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the console's pages answer GET only", http.StatusMethodNotAllowed)
		return
	}
	base, _ := r.Context().Value(baseKey{}).(string)
	if base == "" {
		base = "/"
	}
	// The page is small and names the assets of this build: always revalidated.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(bytes.Replace(a.index, []byte(`<base href="/">`), []byte(`<base href="`+html.EscapeString(base)+`">`), 1))
}
