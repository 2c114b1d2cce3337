package sigv4proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlens/meshlens/amptest"
)

// ampHost is the name signed for: AMP's public endpoint in the stand-in's
// region, reached through the stand-in's local address (as through a VPC
// endpoint or a tunnel).
const ampHost = "aps-workspaces." + amptest.Region + ".amazonaws.com"

// seen is what the workspace received, request by request.
type seen struct {
	mu       sync.Mutex
	hosts    []string
	headers  []http.Header
	bodySums []string
}

func (s *seen) handler(answer func(n int) int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hosts = append(s.hosts, r.Host)
		s.headers = append(s.headers, r.Header.Clone())
		s.bodySums = append(s.bodySums, fmt.Sprintf("%x", sha256.Sum256(b)))
		n := len(s.hosts)
		s.mu.Unlock()
		w.WriteHeader(answer(n))
		fmt.Fprintf(w, "%s %s %d bytes", r.Method, r.URL.RequestURI(), len(b))
	})
}

func always(code int) func(int) int { return func(int) int { return code } }

func staticCreds(secret string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(amptest.AccessKey, secret, "")
}

// start runs a proxy to the stand-in and returns its URL and registry.
func start(t *testing.T, amp *amptest.Server, o Options) (string, *Proxy, *prometheus.Registry) {
	t.Helper()
	u, _ := url.Parse(amp.URL)
	reg := prometheus.NewRegistry()
	o.Host, o.SignHost, o.Scheme, o.Registerer = u.Host, ampHost, "http", reg
	if o.Credentials == nil {
		o.Credentials = staticCreds(amptest.SecretKey)
	}
	p, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL, p, reg
}

func do(t *testing.T, method, u string, body io.Reader, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxySignsForTheSignHostAndSendsItAsHost(t *testing.T) {
	var s seen
	amp := amptest.New(s.handler(always(200)))
	defer amp.Close()
	base, p, _ := start(t, amp, Options{})
	if p.Service() != "aps" || p.Region() != amptest.Region {
		t.Errorf("service and region read from %s: %s, %s; want aps, %s", ampHost, p.Service(), p.Region(), amptest.Region)
	}
	path := "/workspaces/" + amptest.Workspace + "/api/v1/query?query=" + url.QueryEscape(`sum(rate(istio_requests_total{reporter="destination"}[1m]))`)
	code, body := do(t, "GET", base+path, nil, http.Header{"Authorization": {"Bearer from-the-client"}})
	if code != 200 || amp.Refused.Load() != 0 {
		t.Fatalf("query through the proxy: %d %s; refusal %q", code, body, amp.NextRefusal())
	}
	if s.hosts[0] != ampHost {
		t.Errorf("the workspace got Host %q; want the signed %q", s.hosts[0], ampHost)
	}
	if a := s.headers[0].Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 ") {
		t.Errorf("the client's Authorization reached the workspace: %q", a)
	}
	form := url.Values{"query": {"up"}, "time": {"1700000000"}}.Encode()
	code, body = do(t, "POST", base+"/workspaces/"+amptest.Workspace+"/api/v1/query", strings.NewReader(form),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if code != 200 || !strings.HasSuffix(body, fmt.Sprintf("%d bytes", len(form))) {
		t.Errorf("form query through the proxy: %d %s; refusal %q", code, body, amp.NextRefusal())
	}
}

func TestProxyStripsAndAddsHeadersBeforeSigning(t *testing.T) {
	var s seen
	amp := amptest.New(s.handler(always(200)))
	defer amp.Close()
	base, _, _ := start(t, amp, Options{Strip: []string{"X-Grafana-Org-Id"}, CustomHeaders: http.Header{"X-Scope-Orgid": {"mesh"}}})
	code, body := do(t, "GET", base+"/workspaces/"+amptest.Workspace+"/api/v1/labels", nil, http.Header{"X-Grafana-Org-Id": {"1"}})
	if code != 200 {
		t.Fatalf("%d %s; refusal %q", code, body, amp.NextRefusal())
	}
	h := s.headers[0]
	if h.Get("X-Grafana-Org-Id") != "" || h.Get("X-Scope-Orgid") != "mesh" {
		t.Errorf("headers at the workspace: X-Grafana-Org-Id %q (want stripped), X-Scope-OrgID %q (want mesh)", h.Get("X-Grafana-Org-Id"), h.Get("X-Scope-Orgid"))
	}
	if !strings.Contains(h.Get("Authorization"), "x-scope-orgid") {
		t.Errorf("the custom header is not signed: %s", h.Get("Authorization"))
	}
}

func TestProxySpoolsALargeBodyToDiskAndSendsItWhole(t *testing.T) {
	var s seen
	amp := amptest.New(s.handler(always(200)))
	defer amp.Close()
	spool := t.TempDir()
	base, _, reg := start(t, amp, Options{SpoolAbove: 64 << 10, SpoolDir: spool})
	payload := make([]byte, 5<<20)
	rand.NewChaCha8([32]byte{1}).Read(payload)
	code, body := do(t, "POST", base+"/workspaces/"+amptest.Workspace+"/api/v1/remote_write", bytes.NewReader(payload), nil)
	if code != 200 {
		t.Fatalf("%d %s; refusal %q", code, body, amp.NextRefusal())
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(payload)); s.bodySums[0] != want {
		t.Errorf("the workspace got a body hashing to %s; want %s", s.bodySums[0], want)
	}
	if got := counter(t, reg, "meshlens_sigv4_proxy_spooled_bytes_total"); got != float64(len(payload)) {
		t.Errorf("spooled %v bytes; want %d", got, len(payload))
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("the spool file was left behind: %v", left)
	}
}

func TestProxyStreamsAnUnsignedPayload(t *testing.T) {
	var s seen
	amp := amptest.New(s.handler(always(200)))
	defer amp.Close()
	base, _, reg := start(t, amp, Options{UnsignedPayload: true, SpoolAbove: 1024})
	payload := bytes.Repeat([]byte("sample "), 10000)
	code, body := do(t, "POST", base+"/workspaces/"+amptest.Workspace+"/api/v1/remote_write", bytes.NewReader(payload), nil)
	if code != 200 {
		t.Fatalf("%d %s; refusal %q", code, body, amp.NextRefusal())
	}
	if got := s.headers[0].Get("X-Amz-Content-Sha256"); got != "UNSIGNED-PAYLOAD" {
		t.Errorf("X-Amz-Content-Sha256 = %q", got)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(payload)); s.bodySums[0] != want {
		t.Errorf("the body changed on the way")
	}
	if got := counter(t, reg, "meshlens_sigv4_proxy_spooled_bytes_total"); got != 0 {
		t.Errorf("an unsigned body was spooled (%v bytes)", got)
	}
}

func TestProxyRetriesUnavailableUpstreamWithTheSameBody(t *testing.T) {
	var s seen
	amp := amptest.New(s.handler(func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}))
	defer amp.Close()
	base, _, reg := start(t, amp, Options{SpoolAbove: 1024, SpoolDir: t.TempDir()})
	payload := bytes.Repeat([]byte("x"), 100_000)
	code, body := do(t, "POST", base+"/workspaces/"+amptest.Workspace+"/api/v1/remote_write", bytes.NewReader(payload), nil)
	if code != 200 || len(s.bodySums) != 3 {
		t.Fatalf("answer %d %s after %d attempts; want 200 after 3", code, body, len(s.bodySums))
	}
	for i, sum := range s.bodySums {
		if sum != s.bodySums[0] {
			t.Errorf("attempt %d sent another body", i+1)
		}
	}
	if amp.Refused.Load() != 0 {
		t.Errorf("a retry was refused: %s (each attempt must be signed anew)", amp.NextRefusal())
	}
	if got := counter(t, reg, "meshlens_sigv4_proxy_upstream_retries_total"); got != 2 {
		t.Errorf("retries counted %v; want 2", got)
	}
}

func TestProxyPassesTheWorkspaceRefusalOfAWrongSecret(t *testing.T) {
	var s seen
	amp := amptest.New(s.handler(always(200)))
	defer amp.Close()
	base, _, _ := start(t, amp, Options{Credentials: staticCreds("not-the-secret")})
	code, body := do(t, "GET", base+"/workspaces/"+amptest.Workspace+"/api/v1/labels", nil, nil)
	if code != http.StatusForbidden || !strings.Contains(body, "signature") {
		t.Errorf("a wrong secret: %d %s; want AMP's 403", code, body)
	}
	if strings.Contains(body, "not-the-secret") {
		t.Errorf("the secret is in the answer")
	}
}

type failingCreds struct{}

func (failingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no web identity token at /var/run/secrets/eks.amazonaws.com/serviceaccount/token")
}

func TestProxyIsNotReadyWhileCredentialsDoNotResolve(t *testing.T) {
	var s seen
	amp := amptest.New(s.handler(always(200)))
	defer amp.Close()
	base, _, reg := start(t, amp, Options{Credentials: failingCreds{}})
	if code, body := do(t, "GET", base+"/-/ready", nil, nil); code != 503 || !strings.Contains(body, "web identity token") {
		t.Errorf("/-/ready: %d %s; want 503 saying why", code, body)
	}
	if code, _ := do(t, "GET", base+"/-/healthy", nil, nil); code != 200 {
		t.Errorf("/-/healthy: %d", code)
	}
	code, body := do(t, "GET", base+"/workspaces/"+amptest.Workspace+"/api/v1/labels", nil, nil)
	if code != 503 || !strings.Contains(body, "AWS credentials") || len(s.hosts) != 0 {
		t.Errorf("a request without credentials: %d %s, %d reached the workspace; want 503 and none", code, body, len(s.hosts))
	}
	if got := counter(t, reg, "meshlens_sigv4_proxy_credential_errors_total"); got != 1 {
		t.Errorf("credential errors counted %v; want 1", got)
	}
	if code, body := do(t, "GET", base+"/-/metrics", nil, nil); code != 200 || !strings.Contains(body, `meshlens_sigv4_proxy_requests_total{code="503"} 1`) {
		t.Errorf("/-/metrics: %d %.300s", code, body)
	}
}

func TestProxyRefusesToStartWithoutServiceAndRegion(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "--host is required"},
		{Options{Host: "mimir.internal:8080"}, "set --name"},
		{Options{Host: "mimir.internal:8080", Service: "aps"}, "--region"},
	} {
		tc.o.Credentials = staticCreds("x")
		_, err := New(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v; want an error saying %q", tc.o, err, tc.want)
		}
	}
	p, err := New(context.Background(), Options{Host: "vpce-0a1b.aps-workspaces.eu-central-1.vpce.amazonaws.com", SignHost: "aps-workspaces.eu-central-1.amazonaws.com", Credentials: staticCreds("x")})
	if err != nil || p.Service() != "aps" || p.Region() != "eu-central-1" {
		t.Errorf("a VPC endpoint signed for AMP's name: %v, %s %s", err, p.Service(), p.Region())
	}
}

// counter sums the series of a counter in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.Metric {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
