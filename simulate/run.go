package simulate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

// Options configure a running mesh.
type Options struct {
	Mesh   *Mesh
	Faults *Faults
	// CallTimeout bounds each call between workloads; a workload that is down
	// makes its callers wait this long. Default 2s.
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// Sim is a mesh running on loopback: every workload a real server with its
// simulated sidecar, every sidecar's metrics on its own admin port.
type Sim struct {
	mesh    *Mesh
	faults  *Faults
	timeout time.Duration
	logger  *slog.Logger

	pods     map[*Workload]*pod
	external map[*Service]string // address of the server behind an external host
	next     map[*Service]*atomic.Uint64

	client    *http.Client
	listeners []net.Listener
	// controlPlaneAddr serves istiod's, the proxies' and Wasm's metrics.
	controlPlaneAddr string
	servers          []*http.Server
	wg               sync.WaitGroup
	closed           chan struct{}
}

type pod struct {
	sim      *Sim
	workload *Workload
	self     peer
	sidecar  *Sidecar
	appAddr  string
	// adminAddr serves /stats/prometheus; empty without a sidecar.
	adminAddr string
}

// Start runs every workload of the mesh on 127.0.0.1 with ports the system chooses.
func Start(opts Options) (*Sim, error) {
	if err := opts.Mesh.Validate(); err != nil {
		return nil, err
	}
	if opts.Faults == nil {
		opts.Faults = NewFaults(opts.Mesh)
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		mesh: opts.Mesh, faults: opts.Faults, timeout: opts.CallTimeout,
		logger:   opts.Logger.With("component", "simulate"),
		pods:     map[*Workload]*pod{},
		external: map[*Service]string{},
		next:     map[*Service]*atomic.Uint64{},
		closed:   make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second,
		}},
	}
	for _, svc := range s.mesh.Services {
		s.next[svc] = &atomic.Uint64{}
	}
	for _, w := range s.mesh.Workloads {
		p := &pod{sim: s, workload: w, self: w.peer(s.mesh)}
		if err := s.startPod(p); err != nil {
			s.Close()
			return nil, fmt.Errorf("start %s: %w", w.Key(), err)
		}
		s.pods[w] = p
	}
	for _, svc := range s.mesh.Services {
		if !svc.External {
			continue
		}
		addr, err := s.serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, `{"status":"ok"}`)
		}))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("start external host %s: %w", svc.Host(), err)
		}
		s.external[svc] = addr
	}
	addr, err := s.serve(newControlPlane(s.mesh))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("start the control plane's metrics: %w", err)
	}
	s.controlPlaneAddr = addr
	return s, nil
}

func (s *Sim) listen() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.listeners = append(s.listeners, l)
	return l, nil
}

func (s *Sim) serve(h http.Handler) (string, error) {
	l, err := s.listen()
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug)}
	s.servers = append(s.servers, srv)
	s.wg.Go(func() { srv.Serve(l) })
	return l.Addr().String(), nil
}

func (s *Sim) startPod(p *pod) error {
	w := p.workload
	if !w.NoSidecar {
		p.sidecar = newSidecar()
		mux := http.NewServeMux()
		mux.Handle("GET /stats/prometheus", p.sidecar)
		mux.HandleFunc("GET /healthz/ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		addr, err := s.serve(mux)
		if err != nil {
			return err
		}
		p.adminAddr = addr
	}
	if svc := s.mesh.ServiceOf(w); svc != nil && svc.Protocol == telemetry.ProtocolTCP {
		l, err := s.listen()
		if err != nil {
			return err
		}
		p.appAddr = l.Addr().String()
		s.wg.Go(func() { p.acceptTCP(l) })
		return nil
	}
	addr, err := s.serve(http.HandlerFunc(p.serveHTTP))
	p.appAddr = addr
	return err
}

// Close stops every server and waits for their goroutines.
func (s *Sim) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
		close(s.closed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		srv.Shutdown(ctx)
	}
	for _, l := range s.listeners {
		l.Close()
	}
	s.client.CloseIdleConnections()
	s.wg.Wait()
	return nil
}

// Targets are the sidecar metrics endpoints to scrape.
func (s *Sim) Targets() []Target {
	var out []Target
	for _, w := range s.mesh.Workloads {
		if p := s.pods[w]; p.adminAddr != "" {
			out = append(out, newTarget(w, p.adminAddr, "/stats/prometheus"))
		}
	}
	return append(out, controlPlaneTarget(s.controlPlaneAddr, "/metrics"))
}

// EntrypointAddress is where the load generator reaches an entrypoint: the
// address of one pod behind its service.
func (s *Sim) EntrypointAddress(e Entrypoint) string {
	if addr, ok := s.external[e.Service]; ok {
		return addr
	}
	backends := s.mesh.Backends(e.Service)
	if len(backends) == 0 {
		return ""
	}
	return s.pods[backends[0]].appAddr
}

// IngressURL is the URL of the mesh's first entrypoint, e.g. the bookinfo
// product page behind the ingress gateway.
func (s *Sim) IngressURL() string {
	if len(s.mesh.Entrypoints) == 0 {
		return ""
	}
	e := s.mesh.Entrypoints[0]
	return "http://" + s.EntrypointAddress(e) + e.Path
}

// Mesh is the topology being run.
func (s *Sim) Mesh() *Mesh { return s.mesh }

// Faults are the faults in force.
func (s *Sim) Faults() *Faults { return s.faults }

// endpoint is where a call to svc goes: a pod (round robin over the
// service's backends, as Envoy balances by default) or an external host.
func (s *Sim) endpoint(svc *Service) (addr string, dst *pod) {
	if a, ok := s.external[svc]; ok {
		return a, nil
	}
	backends := s.mesh.Backends(svc)
	if len(backends) == 0 {
		return "", nil
	}
	p := s.pods[backends[int(s.next[svc].Add(1)-1)%len(backends)]]
	return p.appAddr, p
}

// timeoutHeader carries the caller's remaining time budget in milliseconds,
// as grpc-timeout does, so that a slow workload deep in the mesh times out
// its own caller's call rather than the whole chain at once.
const timeoutHeader = "X-Meshlens-Timeout"

// callTimeout is the budget for one outbound call: the configured timeout,
// or three quarters of what is left of the inbound request's, if smaller.
func (s *Sim) callTimeout(ctx context.Context) time.Duration {
	t := s.timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) * 3 / 4; left < t {
			t = left
		}
	}
	return t
}

// responseBuffer holds an answer until the sidecar has recorded it, so that
// a caller never sees a response before the metrics count it.
type responseBuffer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *responseBuffer) Header() http.Header { return b.header }
func (b *responseBuffer) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

func requestSize(r *http.Request) int {
	n := len(r.Method) + len(r.URL.RequestURI()) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	if r.ContentLength > 0 {
		n += int(r.ContentLength)
	}
	return n
}

// serveHTTP is the inbound side: the destination sidecar around the app.
func (p *pod) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	source := decodePeer(r.Header.Get(peerHeader))
	buf := &responseBuffer{header: http.Header{}}
	p.serveApp(buf, r)
	if p.sidecar != nil && !p.workload.Gateway {
		protocol := telemetry.ProtocolHTTP
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			protocol = telemetry.ProtocolGRPC
		}
		e := p.inboundExchange(source, protocol)
		switch {
		case buf.code == 0: // the client went away before the app answered
			e.code, e.flags = "0", "DC"
		default:
			e.code = fmt.Sprint(buf.code)
		}
		if e.protocol == telemetry.ProtocolGRPC {
			e.grpcStatus = grpcStatus(buf.header, buf.code)
		}
		p.sidecar.recordRequest(e, time.Since(start), requestSize(r), buf.body.Len())
	}
	if buf.code == 0 {
		// No answer: drop the connection rather than let net/http send an empty 200.
		panic(http.ErrAbortHandler)
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.code)
	w.Write(buf.body.Bytes())
}

func grpcStatus(h http.Header, code int) string {
	if s := h.Get("Grpc-Status"); s != "" {
		return s
	}
	if code == 0 {
		return "4" // DEADLINE_EXCEEDED
	}
	return "14" // UNAVAILABLE: no gRPC answer at all
}

// inboundExchange is a request or connection as the destination sidecar
// sees it: mutual TLS when the source sent its identity (it has a
// sidecar) and this namespace asks for mTLS.
func (p *pod) inboundExchange(source peer, protocol string) exchange {
	e := exchange{
		reporter: telemetry.ReporterDestination, source: source, destination: p.self, service: p.sim.mesh.ServiceOf(p.workload),
		protocol: protocol, flags: telemetry.NoFlags, security: telemetry.SecurityNone,
	}
	if source.Workload != telemetry.Unknown && p.sim.mesh.MTLS(p.workload.Namespace) {
		e.security = telemetry.SecurityMutualTLS
	} else {
		e.source, e.destination = e.source.withoutPrincipal(), e.destination.withoutPrincipal()
	}
	return e
}

// serveApp is the application itself: faults first, then the calls it makes.
func (p *pod) serveApp(w http.ResponseWriter, r *http.Request) {
	fault := p.sim.faults.For(p.workload)
	grpc := strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
	if fault.Down {
		select {
		case <-r.Context().Done():
		case <-p.sim.closed:
		}
		return
	}
	// The caller's budget bounds the calls made on its behalf.
	ctx := r.Context()
	if ms, err := strconv.ParseInt(r.Header.Get(timeoutHeader), 10, 64); err == nil && ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	if !wait(ctx, time.Duration(fault.Delay)) {
		return
	}
	if fault.fails() {
		if grpc {
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Grpc-Status", "2")
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "fault injected by meshlens simulate", fault.errorCode())
		return
	}
	code, body := http.StatusOK, []byte(nil)
	for _, c := range p.workload.Calls {
		if c.Probability > 0 && c.Probability < 1 && rand.Float64() >= c.Probability {
			continue
		}
		path := c.Path
		if p.workload.Gateway && path == "" {
			path = r.URL.RequestURI()
		}
		callCode, callBody := p.call(ctx, c, path)
		if p.workload.Gateway {
			code, body = callCode, callBody
		}
	}
	if grpc {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "0")
	}
	if !p.workload.Gateway {
		body = bytes.Repeat([]byte("x"), p.workload.ResponseBytes)
	}
	w.WriteHeader(code)
	w.Write(body)
}

// call is the outbound side: the source sidecar making one call to
// c.Service, as Envoy makes it: the faults the route injects first (an
// abort answered here, a delay), then the call, retried as the route's
// policy says, each attempt a request of its own to the destination; the
// caller reports one request, with its final answer (URX when retries ran
// out).
func (p *pod) call(ctx context.Context, c Call, path string) (int, []byte) {
	if c.Service.Protocol == telemetry.ProtocolTCP {
		p.callTCP(ctx, c)
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.sim.callTimeout(ctx))
	defer cancel()
	start := time.Now()
	addr, dst := p.sim.endpoint(c.Service)
	e := p.outboundExchange(c.Service, dst)
	var injected Fault
	if dst != nil {
		injected = p.sim.faults.For(dst.workload)
	}
	code, body, flags := 0, []byte(nil), telemetry.NoFlags
	switch {
	case injected.aborts():
		// No upstream host was picked: the caller knows only the service.
		e.destination = unknownPeer
		code, flags = http.StatusServiceUnavailable, "FI"
		if e.protocol == telemetry.ProtocolGRPC {
			e.grpcStatus = "14"
		}
	default:
		wait(ctx, time.Duration(injected.InjectDelay))
		policy := c.Service.Retries
		for attempt := 0; ; attempt++ {
			code, body, flags = p.roundTrip(ctx, addr, c.Service, path, e.protocol == telemetry.ProtocolGRPC, &e)
			if !policy.retries(code, flags) || ctx.Err() != nil {
				break
			}
			if attempt == policy.Attempts {
				flags = joinFlags(flags, "URX")
				break
			}
			addr, _ = p.sim.endpoint(c.Service)
		}
		if injected.InjectDelay > 0 {
			flags = joinFlags(flags, "DI")
		}
	}
	if p.sidecar != nil {
		e.code, e.flags = fmt.Sprint(code), flags
		reqBytes := len(path) + 64
		p.sidecar.recordRequest(e, time.Since(start), reqBytes, len(body))
	}
	return code, body
}

// wait waits d, and tells whether it did: false when ctx ended first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// joinFlags adds an Envoy response flag to flags, as Envoy joins them.
func joinFlags(flags, flag string) string {
	if flags == telemetry.NoFlags || flags == "" {
		return flag
	}
	return flags + "," + flag
}

func (p *pod) roundTrip(ctx context.Context, addr string, svc *Service, path string, grpc bool, e *exchange) (int, []byte, string) {
	if addr == "" {
		return http.StatusServiceUnavailable, nil, "NR" // no route: no endpoint behind the service
	}
	if path == "" {
		path = "/"
	}
	method := http.MethodGet
	var reqBody io.Reader
	if grpc {
		method, reqBody = http.MethodPost, strings.NewReader("\x00\x00\x00\x00\x05hello")
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, reqBody)
	if err != nil {
		return http.StatusServiceUnavailable, nil, "UF"
	}
	req.Host = svc.Host()
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(timeoutHeader, strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
	}
	if grpc {
		req.Header.Set("Content-Type", "application/grpc")
	}
	if !p.workload.NoSidecar {
		req.Header.Set(peerHeader, p.self.encode())
	}
	resp, err := p.sim.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			if grpc {
				e.grpcStatus = "4"
			}
			return http.StatusGatewayTimeout, nil, "UT"
		}
		if grpc {
			e.grpcStatus = "14"
		}
		return http.StatusServiceUnavailable, nil, "UF"
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return http.StatusServiceUnavailable, nil, "UC"
	}
	if grpc {
		e.grpcStatus = grpcStatus(resp.Header, resp.StatusCode)
	}
	return resp.StatusCode, body, telemetry.NoFlags
}

func (p *pod) outboundExchange(svc *Service, dst *pod) exchange {
	e := exchange{
		reporter: telemetry.ReporterSource, source: p.self, destination: unknownPeer, service: svc,
		protocol: svc.Protocol, flags: telemetry.NoFlags, security: telemetry.Unknown,
	}
	if dst != nil && !dst.workload.NoSidecar {
		e.destination = dst.self
	}
	var dstWorkload *Workload
	if dst != nil {
		dstWorkload = dst.workload
	}
	if !p.sim.mesh.mutualTLS(p.workload, dstWorkload) {
		e.source = e.source.withoutPrincipal()
		e.destination = e.destination.withoutPrincipal()
	}
	return e
}

// tcpQuery is what a TCP client sends; the server answers with its
// workload's ResponseBytes and a newline.
const tcpQuery = "db.ratings.find({})\n"

func (p *pod) callTCP(ctx context.Context, c Call) {
	addr, dst := p.sim.endpoint(c.Service)
	e := p.outboundExchange(c.Service, dst)
	var sent, received int64
	defer func() {
		if p.sidecar != nil {
			p.sidecar.recordConnection(e, sent, received)
		}
	}()
	timeout := p.sim.callTimeout(ctx)
	if addr == "" {
		e.flags = "NR"
		return
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		e.flags = "UF"
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	preamble := ""
	if !p.workload.NoSidecar {
		preamble = p.self.encode()
	}
	if _, err := io.WriteString(conn, preamble+"\n"+tcpQuery); err != nil {
		e.flags = "UC"
		return
	}
	received = int64(len(tcpQuery))
	answer, err := bufio.NewReader(conn).ReadString('\n')
	sent = int64(len(answer))
	if err != nil {
		e.flags = "UC"
	}
}

func (p *pod) acceptTCP(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		p.sim.wg.Go(func() { p.serveTCP(conn) })
	}
}

// serveTCP is the destination sidecar and the database behind it.
func (p *pod) serveTCP(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(p.sim.timeout))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	e := p.inboundExchange(decodePeer(strings.TrimSuffix(line, "\n")), telemetry.ProtocolTCP)
	var sent, received int64
	defer func() {
		if p.sidecar != nil {
			p.sidecar.recordConnection(e, sent, received)
		}
	}()
	query, err := r.ReadString('\n')
	received = int64(len(query))
	if err != nil {
		e.flags = "DC"
		return
	}
	if p.sim.faults.For(p.workload).Down {
		e.flags = "DC"
		return
	}
	answer := strings.Repeat("r", p.workload.ResponseBytes) + "\n"
	n, _ := io.WriteString(conn, answer)
	sent = int64(n)
}
