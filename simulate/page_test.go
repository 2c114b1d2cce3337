package simulate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/meshlens/meshlens/telemetry"
)

// parsePage reads a text-format page with Prometheus's parser into one
// line per sample ("labels value") and one per TYPE, sorted.
func parsePage(t *testing.T, page []byte) []string {
	t.Helper()
	p := textparse.NewPromParser(page, labels.NewSymbolTable(), false)
	var out []string
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Prometheus's parser rejects the page: %v\n%s", err, page)
		}
		switch entry {
		case textparse.EntryType:
			name, typ := p.Type()
			out = append(out, fmt.Sprintf("TYPE %s %s", name, typ))
		case textparse.EntrySeries:
			var l labels.Labels
			p.Labels(&l)
			_, _, v := p.Series()
			out = append(out, fmt.Sprintf("%s %g", l, v))
		}
	}
	slices.Sort(out)
	return out
}

func TestSidecarPageIsWhatClientGolangWrites(t *testing.T) {
	s := newSidecar()
	// Label values a careless page would break on: quotes, backslashes,
	// a newline.
	hostile := peer{Workload: `we"ird\wl`, Namespace: "ns\nx", Principal: "spiffe://c/ns/sa", App: `a\"b`,
		Version: "v1", CanonicalService: "a", CanonicalRevision: "v1", Cluster: "c"}
	plain := peer{Workload: "b-v1", Namespace: "ns", Principal: "spiffe://c/ns/b", App: "b",
		Version: "v1", CanonicalService: "b", CanonicalRevision: "v1", Cluster: "c"}
	svc := &Service{Name: "b", Namespace: "ns", Port: 9080}
	for i, e := range []exchange{
		{reporter: telemetry.ReporterDestination, source: hostile, destination: plain, service: svc, protocol: telemetry.ProtocolHTTP, code: "200", grpcStatus: "", flags: telemetry.NoFlags, security: telemetry.SecurityMutualTLS},
		{reporter: telemetry.ReporterSource, source: hostile, destination: plain, service: svc, protocol: telemetry.ProtocolHTTP, code: "503", grpcStatus: "", flags: "UF", security: telemetry.Unknown},
		{reporter: telemetry.ReporterDestination, source: plain, destination: hostile, service: nil, protocol: telemetry.ProtocolGRPC, code: "200", grpcStatus: "0", flags: telemetry.NoFlags, security: telemetry.SecurityNone},
	} {
		for j := range 3 + i {
			s.recordRequest(e, time.Duration(j*7+1)*time.Millisecond, 100*j, 1_500_000*j)
		}
	}
	s.recordConnection(exchange{reporter: telemetry.ReporterDestination, source: hostile, destination: plain, service: svc,
		protocol: telemetry.ProtocolTCP, flags: telemetry.NoFlags, security: telemetry.SecurityMutualTLS}, 123456789, 42)

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/stats/prometheus", nil))
	got := parsePage(t, rec.Body.Bytes())

	// The same metrics, gathered and encoded by client_golang.
	all := prometheus.NewRegistry()
	all.MustRegister(s.others, s.requests, s.requestMessages, s.responseMessages, s.duration, s.requestBytes,
		s.responseBytes, s.tcpSent, s.tcpReceived, s.tcpOpened, s.tcpClosed)
	families, err := all.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := expfmt.NewEncoder(&want, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if g, w := strings.Join(got, "\n"), strings.Join(parsePage(t, want.Bytes()), "\n"); g != w {
		t.Errorf("the page differs from client_golang's encoding of the same metrics\ngot:\n%s\nwant:\n%s", g, w)
	}
	if !strings.Contains(strings.Join(got, "\n"), `source_workload="we\"ird\\wl"`) {
		t.Errorf("no series of the hostile workload:\n%s", strings.Join(got, "\n"))
	}
	// gRPC message counters exist only for the gRPC series.
	if n := strings.Count(rec.Body.String(), "# TYPE "+telemetry.RequestMessagesTotal+" counter"); n != 1 {
		t.Errorf("%d TYPE lines for %s, want 1", n, telemetry.RequestMessagesTotal)
	}
}

// TestSidecarPageLeavesOutMetricsWithoutSeries: a sidecar that saw only
// HTTP lists neither message counters nor TCP metrics.
func TestSidecarPageLeavesOutMetricsWithoutSeries(t *testing.T) {
	s := newSidecar()
	p := peer{Workload: "a", Namespace: "ns", Principal: "p", App: "a", Version: "v1", CanonicalService: "a", CanonicalRevision: "v1", Cluster: "c"}
	s.recordRequest(exchange{reporter: telemetry.ReporterDestination, source: p, destination: p, protocol: telemetry.ProtocolHTTP,
		code: "200", flags: telemetry.NoFlags, security: telemetry.SecurityNone}, time.Millisecond, 1, 1)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/stats/prometheus", nil))
	page := rec.Body.String()
	for _, name := range []string{telemetry.RequestMessagesTotal, telemetry.ResponseMessagesTotal, telemetry.TCPSentBytesTotal} {
		if strings.Contains(page, name) {
			t.Errorf("the page lists %s, which no series has:\n%s", name, page)
		}
	}
	for _, name := range []string{telemetry.RequestsTotal, telemetry.RequestDurationMilliseconds + "_bucket", "envoy_server_live"} {
		if !strings.Contains(page, name) {
			t.Errorf("the page lacks %s:\n%s", name, page)
		}
	}
}
