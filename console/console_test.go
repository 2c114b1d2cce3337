package console

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/promclient"
)

// seenQueries answers nothing and keeps every query it was asked.
type seenQueries struct {
	mu      sync.Mutex
	queries []string
}

func (s *seenQueries) LabelValues(context.Context, string, time.Time, time.Time) ([]string, error) {
	return nil, nil
}

func (s *seenQueries) Query(_ context.Context, q string, _ time.Time) (promclient.Vector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	return promclient.Vector{}, nil
}

func (s *seenQueries) ScrapeInterval(context.Context) (time.Duration, error) {
	return 15 * time.Second, nil
}

func serve(t *testing.T, q promclient.Querier) string {
	t.Helper()
	srv := httptest.NewServer(New(graph.NewBuilder(q, nil), nil).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", url, err)
	}
	return resp.StatusCode, body
}

func TestBadRequestsAreClearErrors(t *testing.T) {
	q := &seenQueries{}
	base := serve(t, q)
	cases := []struct {
		name, path string
		code       int
		mentions   string
	}{
		{"an unknown graph type", "/api/namespaces/graph?namespaces=bookinfo&graphType=galaxy", 400, "graph type"},
		{"a malformed duration", "/api/namespaces/graph?namespaces=bookinfo&duration=ten", 400, "duration"},
		{"a negative duration", "/api/namespaces/graph?namespaces=bookinfo&duration=-5m", 400, "duration"},
		{"a namespace with PromQL in it", "/api/namespaces/graph?namespaces=" + urlEscape(`bookinfo"}or vector(1)#`), 400, "not a Kubernetes namespace name"},
		{"a 100 KB parameter", "/api/namespaces/graph?namespaces=bookinfo&responseTime=" + strings.Repeat("9", 100_000), 400, "(100000 bytes)"},
		{"a rateTcp Kiali does not know", "/api/namespaces/graph?namespaces=bookinfo&rateTcp=bytes", 400, "rateTcp"},
		{"a rateGrpc Kiali does not know", "/api/namespaces/graph?namespaces=bookinfo&rateGrpc=frames", 400, "rateGrpc"},
		{"a queryTime in the future", "/api/namespaces/graph?namespaces=bookinfo&queryTime=99999999999", 400, "in the future"},
		{"no namespace", "/api/namespaces/graph", 400, "namespaces"},
		{"a malformed query time", "/api/namespaces/graph?namespaces=bookinfo&queryTime=yesterday", 400, "queryTime"},
		{"an unknown appender", "/api/namespaces/graph?namespaces=bookinfo&appenders=magic", 400, "appender"},
		{"an unknown response time", "/api/namespaces/graph?namespaces=bookinfo&responseTime=42", 400, "responseTime"},
		{"an unknown node kind", "/api/namespaces/bookinfo/pods/x/graph", 400, "node kind"},
		{"an unknown API path", "/api/nothing", 404, "no API"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is a "+http.StatusText(tc.code), func(t *testing.T) {
			code, body := getJSON(t, base+tc.path)
			msg, _ := body["error"].(string)
			if code != tc.code || body["code"] != float64(tc.code) || !strings.Contains(msg, tc.mentions) || len(msg) > 400 {
				t.Errorf("got %d %v; want %d mentioning %q", code, body, tc.code, tc.mentions)
			}
		})
	}
	if len(q.queries) != 0 {
		t.Errorf("bad requests reached Prometheus: %v", q.queries)
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer(`"`, "%22", "}", "%7D", " ", "%20", "#", "%23", "(", "%28", ")", "%29")
	return r.Replace(s)
}

// hostileCaller answers the requests queries with one edge from a
// workload whose name is PromQL.
type hostileCaller struct{ seenQueries }

const hostileName = `x"}or vector(1)`

func (h *hostileCaller) Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error) {
	h.seenQueries.Query(ctx, q, ts)
	if !strings.Contains(q, "rate(istio_requests_total") || strings.Contains(q, " or ") {
		return nil, nil
	}
	return promclient.Vector{{Value: 1, Metric: labels.FromMap(map[string]string{
		"reporter": "destination", "source_workload": hostileName, "source_workload_namespace": "bookinfo",
		"source_canonical_service": "x", "destination_workload": "details-v1", "destination_workload_namespace": "bookinfo",
		"destination_service": "details.bookinfo.svc.cluster.local", "destination_service_name": "details",
		"destination_service_namespace": "bookinfo", "destination_canonical_service": "details", "request_protocol": "http", "response_code": "200",
	})}}, nil
}

func TestANodeNamedInPromQLIsFoundAndStaysOutOfTheQueries(t *testing.T) {
	q := &hostileCaller{}
	code, body := getJSON(t, serve(t, q)+"/api/namespaces/bookinfo/workloads/"+urlEscape(hostileName)+"/graph?graphType=workload&injectServiceNodes=false")
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	elements, _ := body["elements"].(map[string]any)
	edges, _ := elements["edges"].([]any)
	nodes, _ := elements["nodes"].([]any)
	found := false
	for _, n := range nodes {
		data := n.(map[string]any)["data"].(map[string]any)
		found = found || data["workload"] == hostileName
	}
	if !found || len(edges) != 1 {
		t.Errorf("the node graph of %q: nodes %v, edges %v; want the node and its one edge", hostileName, nodes, edges)
	}
	for _, query := range q.queries {
		if strings.Contains(query, "vector(1)") {
			t.Errorf("the node name reached a query: %s", query)
		}
	}
}

func TestQueriesPerGraphDoNotGrowWithNamespaces(t *testing.T) {
	var counts []int
	for _, namespaces := range []string{"a", "a,b,c,d,e,f,g,h,i,j"} {
		q := &seenQueries{}
		code, body := getJSON(t, serve(t, q)+"/api/namespaces/graph?namespaces="+namespaces)
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		if body["queries"] != float64(len(q.queries)) {
			t.Errorf("the answer says %v queries, Prometheus saw %d", body["queries"], len(q.queries))
		}
		counts = append(counts, len(q.queries))
	}
	if counts[0] != counts[1] || counts[0] == 0 {
		t.Errorf("queries for 1 and 10 namespaces: %v", counts)
	}
}

func TestAShortDurationIsWidenedAndSaidSo(t *testing.T) {
	q := &seenQueries{}
	code, body := getJSON(t, serve(t, q)+"/api/namespaces/graph?namespaces=bookinfo&duration=10s")
	if code != 200 || body["duration"] != float64(30) {
		t.Fatalf("%d %v", code, body)
	}
	warnings, _ := body["warnings"].([]any)
	widened := false
	for _, w := range warnings {
		widened = widened || strings.Contains(w.(string), "twice the scrape interval")
	}
	if !widened {
		t.Errorf("warnings %v, want one that says the window was widened", warnings)
	}
	for _, query := range q.queries {
		// Every windowed query reads the widened window (the rules' last
		// evaluation is read at the graph's time, without one).
		if strings.Contains(query, "[") && !strings.Contains(query, "[30s]") {
			t.Errorf("query with another window: %s", query)
		}
	}
}

func TestUnreachableOrSlowPrometheus(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + l.Addr().String()
	l.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>not prometheus</html>")
	}))
	defer garbage.Close()
	cases := []struct {
		name string
		url  string
		code int
	}{
		{"a Prometheus that is down is a 503", gone, 503},
		{"a Prometheus that does not answer in time is a 504", slow.URL, 504},
		{"a server that is not Prometheus is a 503", garbage.URL, 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := promclient.NewHTTP(promclient.HTTPOptions{URL: tc.url, Timeout: 300 * time.Millisecond, ScrapeInterval: 15 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			code, body := getJSON(t, serve(t, q)+"/api/namespaces/graph?namespaces=bookinfo")
			if code != tc.code || body["error"] == nil {
				t.Errorf("got %d %v, want %d with an error", code, body, tc.code)
			}
		})
	}
}

// manyEdges answers every query with 200 edges from distinct callers.
type manyEdges struct{ seenQueries }

func (m *manyEdges) Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error) {
	m.seenQueries.Query(ctx, q, ts)
	var v promclient.Vector
	if strings.Contains(q, "istio_tcp") {
		return v, nil
	}
	for i := range 200 {
		v = append(v, promclient.Sample{Value: 1, Metric: labels.FromMap(map[string]string{
			"reporter": "destination", "source_workload": "caller-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			"source_workload_namespace": "bookinfo", "source_canonical_service": "caller", "source_canonical_revision": "v1",
			"destination_workload": "details-v1", "destination_workload_namespace": "bookinfo", "destination_service": "details.bookinfo.svc.cluster.local",
			"destination_service_name": "details", "destination_service_namespace": "bookinfo", "destination_canonical_service": "details",
			"destination_canonical_revision": "v1", "request_protocol": "http", "response_code": "200", "response_flags": "-", "le": "+Inf",
		})})
	}
	return v, nil
}

func TestGzipWhenAccepted(t *testing.T) {
	base := serve(t, &manyEdges{})
	req, _ := http.NewRequest("GET", base+"/api/namespaces/graph?namespaces=bookinfo&graphType=workload&injectServiceNodes=false", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("a large answer to a client that accepts gzip is not compressed: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.NewDecoder(zr).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if edges := body["elements"].(map[string]any)["edges"].([]any); len(edges) != 200 {
		t.Errorf("%d edges after decompression, want 200", len(edges))
	}
}

func TestCompareToIsReadAsATimeOrADurationBack(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		query string
		want  time.Time
		bad   string
	}{
		{query: "compareTo=1h", want: at.Add(-time.Hour)},
		{query: "compareTo=1799996400", want: time.Unix(1799996400, 0)},
		{query: "compareTo=soon", bad: "neither a Unix time"},
		{query: "compareTo=1800000001", bad: "is not before"},
		{query: "compareTo=5m&compareThreshold=-3", bad: "not a percentage"},
	} {
		q, _ := url.ParseQuery(c.query)
		before, _, on, err := compareOptions(q, at)
		switch {
		case c.bad != "":
			if err == nil || !strings.Contains(err.Error(), c.bad) || !errors.Is(err, graph.ErrBadRequest) {
				t.Errorf("%s: %v, want a bad request saying %q", c.query, err, c.bad)
			}
		case err != nil || !on || !before.Equal(c.want):
			t.Errorf("%s: %v %v %v, want %v", c.query, before, on, err, c.want)
		}
	}
	q, _ := url.ParseQuery("compareTo=5m&compareThreshold=50")
	if _, th, _, _ := compareOptions(q, at); th.Rate != 0.5 || th.ErrorShare != 5 {
		t.Errorf("threshold 50: %+v", th)
	}
}
