// Package sigv4proxy is a reverse proxy that signs every request with AWS
// Signature Version 4, for what cannot sign by itself (Grafana, curl,
// Kiali) in front of Amazon Managed Service for Prometheus or another AWS
// API. It takes aws-sigv4-proxy's options and adds what its users miss:
// health and readiness, metrics, timeouts, bodies spooled to disk rather
// than held in memory, retries that send the body again, and the Host
// header that was signed.
package sigv4proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a proxy. Host is required; Service and Region are
// read from an AWS host name (aps-workspaces.us-west-2.amazonaws.com)
// when not given.
type Options struct {
	// Host is where requests go, host[:port].
	Host string
	// SignHost is the Host header signed and sent, when it differs from
	// Host (a VPC endpoint in front of a public service name).
	SignHost string
	// Scheme of the upstream URL; default https.
	Scheme string
	// Service is the signing name (aps for AMP), Region the AWS region.
	Service, Region string
	// RoleARN is assumed with STS, from the default credentials.
	RoleARN string
	// Strip are request headers removed before signing.
	Strip []string
	// CustomHeaders are added to every request before signing.
	CustomHeaders http.Header
	// UnsignedPayload signs "UNSIGNED-PAYLOAD" instead of the body's hash
	// and streams the body as it comes; such a body is not retried.
	UnsignedPayload bool
	// InsecureSkipVerify skips the upstream's TLS certificate check.
	InsecureSkipVerify bool
	// Timeout bounds each upstream attempt until its response headers.
	// Default 60s.
	Timeout time.Duration
	// Retries are further attempts after a connection error or a 502, 503
	// or 504, for requests whose body can be sent again. Default 2; -1 for none.
	Retries int
	// SpoolAbove is the body size above which a body is written to a file
	// in SpoolDir (default the system's temporary directory) while it is
	// hashed, rather than held in memory. Default 1 MiB.
	SpoolAbove int64
	SpoolDir   string
	// Credentials override the AWS default credentials chain (tests).
	Credentials aws.CredentialsProvider
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
}

// Proxy is a signing reverse proxy; it is an http.Handler.
type Proxy struct {
	opts    Options
	creds   aws.CredentialsProvider
	signer  *v4.Signer
	proxy   *httputil.ReverseProxy
	handler http.Handler
	metrics *proxyMetrics
}

type proxyMetrics struct {
	requests  *prometheus.CounterVec
	duration  prometheus.Histogram
	retries   prometheus.Counter
	spooled   prometheus.Counter
	credsErrs prometheus.Counter
}

// awsHost is an AWS endpoint: <prefix>.<region>.amazonaws.com[.cn].
var awsHost = regexp.MustCompile(`^([a-z0-9-]+)\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com(?:\.cn)?(?::\d+)?$`)

// signingNames maps endpoint prefixes whose signing name differs.
var signingNames = map[string]string{"aps-workspaces": "aps", "search": "es", "execute-api": "execute-api"}

// New checks the options and loads the credentials (the default chain:
// environment, shared profile, web identity, container and instance roles,
// then RoleARN if set).
func New(ctx context.Context, o Options) (*Proxy, error) {
	if o.Host == "" {
		return nil, errors.New("--host is required: the upstream to sign for, e.g. aps-workspaces.us-west-2.amazonaws.com")
	}
	if o.SignHost == "" {
		o.SignHost = o.Host
	}
	if m := awsHost.FindStringSubmatch(o.SignHost); m != nil {
		if o.Region == "" {
			o.Region = m[2]
		}
		if o.Service == "" {
			o.Service = m[1]
			if n, ok := signingNames[m[1]]; ok {
				o.Service = n
			}
		}
	}
	if o.Service == "" || o.Region == "" {
		return nil, fmt.Errorf("cannot tell the service and region from --host=%s (not an AWS host name): set --name (the signing name, e.g. aps) and --region", o.SignHost)
	}
	if o.Scheme == "" {
		o.Scheme = "https"
	}
	if o.Scheme != "http" && o.Scheme != "https" {
		return nil, fmt.Errorf("--upstream-url-scheme=%s: want http or https", o.Scheme)
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.Retries == 0 {
		o.Retries = 2
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.SpoolAbove <= 0 {
		o.SpoolAbove = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	creds := o.Credentials
	if creds == nil {
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(o.Region))
		if err != nil {
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
		creds = cfg.Credentials
		if o.RoleARN != "" {
			creds = stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.RoleARN)
		}
	}
	if creds == nil {
		return nil, errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a web identity token (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)")
	}
	p := &Proxy{opts: o, creds: aws.NewCredentialsCache(creds), signer: v4.NewSigner()}
	f := promauto.With(o.Registerer)
	p.metrics = &proxyMetrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{Name: "meshlens_sigv4_proxy_requests_total", Help: "Requests proxied, by the status code answered."}, []string{"code"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Name: "meshlens_sigv4_proxy_request_duration_seconds", Help: "Time from a request's arrival to its response headers.",
			Buckets: prometheus.DefBuckets}),
		retries:   f.NewCounter(prometheus.CounterOpts{Name: "meshlens_sigv4_proxy_upstream_retries_total", Help: "Upstream attempts sent again after a connection error or a 502, 503 or 504."}),
		spooled:   f.NewCounter(prometheus.CounterOpts{Name: "meshlens_sigv4_proxy_spooled_bytes_total", Help: "Request body bytes written to disk to be hashed and sent again."}),
		credsErrs: f.NewCounter(prometheus.CounterOpts{Name: "meshlens_sigv4_proxy_credential_errors_total", Help: "Requests refused because the AWS credentials could not be retrieved."}),
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment, DialContext: dialer.DialContext,
		MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: o.Timeout, ExpectContinueTimeout: time.Second,
		// The client says which encodings it takes; the transport must not ask for gzip on its behalf.
		DisableCompression: true,
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify},
	}
	p.proxy = &httputil.ReverseProxy{
		Rewrite:   p.rewrite,
		Transport: &signingTransport{p: p, next: transport},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := http.StatusBadGateway
			var ce credentialsError
			switch {
			case errors.As(err, &ce):
				status = http.StatusServiceUnavailable
			case errors.Is(err, context.DeadlineExceeded):
				status = http.StatusGatewayTimeout
			case errors.Is(err, context.Canceled):
				return
			}
			o.Logger.Warn("upstream request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			http.Error(w, fmt.Sprintf("sigv4-proxy: %v", err), status)
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "Healthy.\n") })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, r *http.Request) {
		if err := p.Ready(r.Context()); err != nil {
			http.Error(w, fmt.Sprintf("Not ready: %v\n", err), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "Ready.\n")
	})
	if g, ok := o.Registerer.(prometheus.Gatherer); ok {
		mux.Handle("GET /-/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	mux.Handle("/", p.proxy)
	p.handler = mux
	return p, nil
}

// Ready says whether the credentials resolve.
func (p *Proxy) Ready(ctx context.Context) error {
	if _, err := p.creds.Retrieve(ctx); err != nil {
		return credentialsError{err}
	}
	return nil
}

// Service and Region the proxy signs for.
func (p *Proxy) Service() string { return p.opts.Service }
func (p *Proxy) Region() string  { return p.opts.Region }

// ServeHTTP answers /-/healthy, /-/ready and /-/metrics (the upstream's
// paths stay free: AWS APIs have none under /-/) and proxies the rest.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	p.handler.ServeHTTP(rec, r)
	if !strings.HasPrefix(r.URL.Path, "/-/") {
		p.metrics.requests.WithLabelValues(strconv.Itoa(rec.code)).Inc()
		p.metrics.duration.Observe(time.Since(start).Seconds())
	}
}

// signingHeaders are a client's own signature, replaced by ours.
var signingHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	out := pr.Out
	out.URL.Scheme, out.URL.Host = p.opts.Scheme, p.opts.Host
	out.Host = p.opts.SignHost
	for _, h := range signingHeaders {
		out.Header.Del(h)
	}
	for _, h := range p.opts.Strip {
		out.Header.Del(h)
	}
	for k, vs := range p.opts.CustomHeaders {
		out.Header[http.CanonicalHeaderKey(k)] = vs
	}
}

// credentialsError is a failure to retrieve credentials, not the upstream's.
type credentialsError struct{ error }

func (e credentialsError) Error() string { return "AWS credentials: " + e.error.Error() }
func (e credentialsError) Unwrap() error { return e.error }

// signingTransport signs each attempt and retries what can be sent again.
type signingTransport struct {
	p    *Proxy
	next http.RoundTripper
}

func (t *signingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	p := t.p
	body, hash, err := p.prepareBody(r)
	if err != nil {
		return nil, err
	}
	defer body.cleanup()
	for attempt := 0; ; attempt++ {
		creds, err := p.creds.Retrieve(r.Context())
		if err != nil {
			p.metrics.credsErrs.Inc()
			return nil, credentialsError{err}
		}
		req := r.Clone(r.Context())
		if req.Body, err = body.open(); err != nil {
			return nil, err
		}
		if body.size >= 0 {
			req.ContentLength = body.size
		}
		if req.ContentLength == 0 {
			req.Body = http.NoBody
		}
		req.Header.Set("X-Amz-Content-Sha256", hash)
		if err := p.signer.SignHTTP(r.Context(), creds, req, hash, p.opts.Service, p.opts.Region, time.Now()); err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		resp, err := t.next.RoundTrip(req)
		retry := err != nil && r.Context().Err() == nil ||
			err == nil && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout)
		if !retry || attempt >= p.opts.Retries || !body.replayable {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		p.metrics.retries.Inc()
		select {
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
}

// body is a request body ready to be sent once or several times.
type body struct {
	mem        []byte
	file       *os.File
	stream     io.ReadCloser
	size       int64 // -1 when unknown (streamed)
	replayable bool
}

func (b *body) open() (io.ReadCloser, error) {
	switch {
	case b.file != nil:
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(b.file), nil
	case b.stream != nil:
		s := b.stream
		b.stream = nil
		return s, nil
	default:
		return io.NopCloser(bytes.NewReader(b.mem)), nil
	}
}

func (b *body) cleanup() {
	if b.file != nil {
		b.file.Close()
		os.Remove(b.file.Name())
	}
}

// emptyHash is the SHA-256 of no bytes.
const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// prepareBody reads what must be read to sign: nothing when unsigned (the
// body streams through), else the body into memory up to SpoolAbove and
// into a file beyond, hashed on the way.
func (p *Proxy) prepareBody(r *http.Request) (*body, string, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return &body{replayable: true}, emptyHash, nil
	}
	if p.opts.UnsignedPayload {
		return &body{stream: r.Body, size: r.ContentLength}, v4UnsignedPayload, nil
	}
	defer r.Body.Close()
	h := sha256.New()
	head, err := io.ReadAll(io.LimitReader(r.Body, p.opts.SpoolAbove+1))
	if err != nil {
		return nil, "", fmt.Errorf("read request body: %w", err)
	}
	h.Write(head)
	if int64(len(head)) <= p.opts.SpoolAbove {
		return &body{mem: head, size: int64(len(head)), replayable: true}, hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.CreateTemp(p.opts.SpoolDir, "meshlens-sigv4-proxy-*")
	if err != nil {
		return nil, "", fmt.Errorf("spool request body: %w", err)
	}
	b := &body{file: f, replayable: true}
	_, err = f.Write(head) // already hashed
	n, err2 := io.Copy(io.MultiWriter(f, h), r.Body)
	n += int64(len(head))
	if err = errors.Join(err, err2); err != nil {
		b.cleanup()
		return nil, "", fmt.Errorf("spool request body: %w", err)
	}
	p.metrics.spooled.Add(float64(n))
	b.size = n
	return b, hex.EncodeToString(h.Sum(nil)), nil
}

const v4UnsignedPayload = "UNSIGNED-PAYLOAD"

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush lets streamed responses through.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
