package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlens/meshlens/graph"
)

// testAssets is a built UI as the console sees one: a page naming a hashed
// script.
var testAssets = fstest.MapFS{
	"index.html":           {Data: []byte(`<!doctype html><html><head><base href="/"><script src="assets/app-1a2b3c.js"></script></head><body></body></html>`)},
	"assets/app-1a2b3c.js": {Data: []byte(`console.log("meshlens")`)},
}

type webAnswer struct {
	code        int
	body        string
	contentType string
	cache       string
	location    string
}

func webGet(t *testing.T, h http.Handler, method, path string) webAnswer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return webAnswer{rec.Code, string(body), rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"), rec.Header().Get("Location")}
}

func webSurface(t *testing.T, o WebOptions) (http.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer, o.Gatherer = reg, reg
	if o.Assets == nil {
		o.Assets = testAssets
	}
	h, err := New(graph.NewBuilder(&seenQueries{}, nil), nil).Web(o)
	if err != nil {
		t.Fatal(err)
	}
	return h, reg
}

func TestWebServesTheAppTheAPIAndTheirHeaders(t *testing.T) {
	h, _ := webSurface(t, WebOptions{})
	t.Run("an unknown API route answers JSON 404", func(t *testing.T) {
		a := webGet(t, h, "GET", "/api/no/such/thing")
		if a.code != 404 || a.contentType != "application/json" || !strings.Contains(a.body, `"code":404`) {
			t.Errorf("got %d %s %s", a.code, a.contentType, a.body)
		}
	})
	t.Run("a UI route the server does not know serves the app, never cached", func(t *testing.T) {
		a := webGet(t, h, "GET", "/graph?namespaces=bookinfo")
		if a.code != 200 || !strings.HasPrefix(a.contentType, "text/html") || !strings.Contains(a.body, "app-1a2b3c.js") || a.cache != "no-cache" {
			t.Errorf("got %d %s cache %q: %s", a.code, a.contentType, a.cache, a.body)
		}
	})
	t.Run("a hashed asset is served with its type and cached for good", func(t *testing.T) {
		a := webGet(t, h, "GET", "/assets/app-1a2b3c.js")
		if a.code != 200 || !strings.HasPrefix(a.contentType, "text/javascript") || a.cache != "public, max-age=31536000, immutable" {
			t.Errorf("got %d %s cache %q", a.code, a.contentType, a.cache)
		}
	})
	t.Run("a missing asset is a 404, not the app", func(t *testing.T) {
		if a := webGet(t, h, "GET", "/assets/app-000000.js"); a.code != 404 || strings.Contains(a.body, "<html") {
			t.Errorf("got %d %s", a.code, a.body)
		}
	})
	t.Run("a page is GET only", func(t *testing.T) {
		if a := webGet(t, h, "POST", "/graph"); a.code != 405 {
			t.Errorf("got %d", a.code)
		}
	})
	t.Run("pprof is off unless asked for", func(t *testing.T) {
		if a := webGet(t, h, "GET", "/debug/pprof/heap?debug=1"); strings.Contains(a.body, "heap profile") {
			t.Errorf("pprof answered without --web.enable-pprof")
		}
	})
	t.Run("the page's base is the root", func(t *testing.T) {
		if a := webGet(t, h, "GET", "/"); !strings.Contains(a.body, `<base href="/">`) {
			t.Errorf("got %s", a.body)
		}
	})
}

func TestWebAnswersUnderTheRoutePrefixAndUnderKiali(t *testing.T) {
	h, _ := webSurface(t, WebOptions{RoutePrefix: "/mesh/", EnablePprof: true})
	for _, c := range []struct {
		path, want string
		code       int
	}{
		{"/mesh/graph", `<base href="/mesh/">`, 200},
		{"/kiali/console/graph/namespaces", `<base href="/kiali/">`, 200},
		{"/mesh/api/namespaces/graph", `namespaces is required`, 400},
		{"/kiali/api/namespaces/graph", `namespaces is required`, 400},
		{"/mesh/-/healthy", "Healthy", 200},
		{"/mesh/metrics", "meshlens_http_requests_total", 200},
		{"/mesh/debug/pprof/heap?debug=1", "heap profile", 200},
		{"/mesh/assets/app-1a2b3c.js", "meshlens", 200},
	} {
		if a := webGet(t, h, "GET", c.path); a.code != c.code || !strings.Contains(a.body, c.want) {
			t.Errorf("%s: got %d %.200s, want %d with %q", c.path, a.code, a.body, c.code, c.want)
		}
	}
	for path, to := range map[string]string{"/": "/mesh/", "/mesh": "/mesh/"} {
		if a := webGet(t, h, "GET", path); a.code != http.StatusFound || a.location != to {
			t.Errorf("%s: got %d to %q, want a redirect to %s", path, a.code, a.location, to)
		}
	}
	if a := webGet(t, h, "GET", "/graph"); a.code != 404 {
		t.Errorf("/graph outside the prefix: got %d, want 404", a.code)
	}
}

func TestARoutePrefixThatNeedsEscapingIsRefused(t *testing.T) {
	for _, p := range []string{`/a"b`, "/a b", "/a/../b", "/<script>"} {
		if _, err := NormalizePrefix(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for in, want := range map[string]string{"": "", "/": "", "mesh": "/mesh", "/a/b/": "/a/b"} {
		if got, err := NormalizePrefix(in); err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestEveryRouteIsCountedAndAPanicIsA500(t *testing.T) {
	h, reg := webSurface(t, WebOptions{Mounts: map[string]http.Handler{
		"GET /api/boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
	}})
	a := webGet(t, h, "GET", "/api/boom")
	if a.code != 500 || !strings.Contains(a.body, `"code":500`) || strings.Contains(a.body, "boom\"") {
		t.Errorf("a panicking handler answered %d %s", a.code, a.body)
	}
	webGet(t, h, "GET", "/api/namespaces/graph")
	webGet(t, h, "GET", "/api/namespaces/graph")
	if a := webGet(t, h, "GET", "/-/healthy"); a.code != 200 {
		t.Errorf("after a panic, /-/healthy answered %d", a.code)
	}
	want := `
# HELP meshlens_http_requests_total Requests to the console, by route (the pattern that served them) and status code.
# TYPE meshlens_http_requests_total counter
meshlens_http_requests_total{code="200",route="GET /-/healthy"} 1
meshlens_http_requests_total{code="400",route="GET /api/namespaces/graph"} 2
meshlens_http_requests_total{code="500",route="GET /api/boom"} 1
# HELP meshlens_http_panics_total Requests whose handler panicked; each was answered 500 and logged with its stack.
# TYPE meshlens_http_panics_total counter
meshlens_http_panics_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "meshlens_http_requests_total", "meshlens_http_panics_total"); err != nil {
		t.Error(err)
	}
}

func TestReadyWaitsForThePrometheus(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:9: connection refused")
	h, _ := webSurface(t, WebOptions{Ready: func(context.Context) error { return down }})
	if a := webGet(t, h, "GET", "/-/ready"); a.code != 503 || !strings.Contains(a.body, "connection refused") {
		t.Errorf("with the Prometheus down: %d %s", a.code, a.body)
	}
	h, _ = webSurface(t, WebOptions{Ready: func(context.Context) error { return nil }})
	if a := webGet(t, h, "GET", "/-/ready"); a.code != 200 || !strings.Contains(a.body, "Ready") {
		t.Errorf("with the Prometheus up: %d %s", a.code, a.body)
	}
}
