package simulate

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

// Emitter produces the sidecar metrics of a mesh without running its
// servers: traffic is computed per edge from the entrypoint rate and recorded
// straight into each pod's sidecar metrics, which one HTTP server serves per
// pod under /pods/<namespace>/<pod>/stats/prometheus. It is how a mesh of
// thousands of workloads fits on one machine, for benchmarks.
type Emitter struct {
	mesh     *Mesh
	faults   *Faults
	sidecars map[*Workload]*Sidecar
	flows    []*flow
	tick     time.Duration

	listener net.Listener
	server   *http.Server
	wg       sync.WaitGroup
	stop     chan struct{}
	once     sync.Once
}

// EmitterOptions configure an Emitter.
type EmitterOptions struct {
	Mesh   *Mesh
	Faults *Faults
	// Rate is the requests per second entering the mesh at its entrypoints.
	Rate float64
	// Tick is how often traffic is recorded. Default 1s.
	Tick   time.Duration
	Logger *slog.Logger
}

// flow is the traffic of one edge, from a workload (nil: a client outside
// the mesh) to a workload (nil: an external host).
type flow struct {
	src, dst *Workload
	service  *Service
	rate     float64 // requests (TCP: connections) per second
	owed     float64
	// series caches the sidecar series per response code, per reporter.
	srcSeries, dstSeries map[string]*requestSeries
	srcTCP, dstTCP       *tcpSeries
	srcEx, dstEx         exchange
}

// NewEmitter computes the flows of the mesh and starts serving its sidecars'
// metrics on 127.0.0.1 with a port the system chooses; Run records traffic.
func NewEmitter(o EmitterOptions) (*Emitter, error) {
	if err := o.Mesh.Validate(); err != nil {
		return nil, err
	}
	if o.Faults == nil {
		o.Faults = NewFaults(o.Mesh)
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	e := &Emitter{mesh: o.Mesh, faults: o.Faults, sidecars: map[*Workload]*Sidecar{}, tick: o.Tick, stop: make(chan struct{})}
	mux := http.NewServeMux()
	byPod := map[string]*Sidecar{}
	for _, w := range o.Mesh.Workloads {
		if w.NoSidecar {
			continue
		}
		s := newSidecar()
		e.sidecars[w] = s
		byPod[w.Namespace+"/"+w.Pod()] = s
	}
	mux.HandleFunc("GET /pods/{namespace}/{pod}/stats/prometheus", func(w http.ResponseWriter, r *http.Request) {
		s, ok := byPod[r.PathValue("namespace")+"/"+r.PathValue("pod")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.ServeHTTP(w, r)
	})
	mux.Handle("GET /istiod/metrics", newControlPlane(o.Mesh))
	flows, err := computeFlows(o.Mesh, o.Rate)
	if err != nil {
		return nil, err
	}
	e.flows = flows
	for _, f := range flows {
		e.prepare(f)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.listener = l
	e.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	e.wg.Go(func() { e.server.Serve(l) })
	return e, nil
}

// computeFlows spreads rate requests per second from the entrypoints over
// the call graph, in topological order: a workload passes on, per call, its
// inbound rate times the call's probability, split evenly over the backends.
func computeFlows(m *Mesh, rate float64) ([]*flow, error) {
	in := map[*Workload]float64{}
	indegree := map[*Workload]int{}
	for _, w := range m.Workloads {
		for _, c := range w.Calls {
			for _, b := range m.Backends(c.Service) {
				indegree[b]++
			}
		}
	}
	var flows []*flow
	var total float64
	for _, e := range m.Entrypoints {
		total += e.Weight
	}
	for _, e := range m.Entrypoints {
		backends := m.Backends(e.Service)
		for _, b := range backends {
			r := rate * e.Weight / total / float64(len(backends))
			in[b] += r
			if !b.Gateway {
				flows = append(flows, &flow{dst: b, service: e.Service, rate: r})
			}
		}
	}
	var queue []*Workload
	for _, w := range m.Workloads {
		if indegree[w] == 0 {
			queue = append(queue, w)
		}
	}
	done := 0
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		done++
		for _, c := range w.Calls {
			p := c.Probability
			if p <= 0 || p > 1 {
				p = 1
			}
			callRate := in[w] * p
			backends := m.Backends(c.Service)
			if len(backends) == 0 {
				flows = append(flows, &flow{src: w, service: c.Service, rate: callRate})
				continue
			}
			for _, b := range backends {
				r := callRate / float64(len(backends))
				in[b] += r
				flows = append(flows, &flow{src: w, dst: b, service: c.Service, rate: r})
				if indegree[b]--; indegree[b] == 0 {
					queue = append(queue, b)
				}
			}
		}
	}
	if done != len(m.Workloads) {
		return nil, fmt.Errorf("the mesh's calls form a cycle; the metrics-only mode needs a call graph without cycles")
	}
	return flows, nil
}

func (e *Emitter) prepare(f *flow) {
	src, dst := unknownPeer, unknownPeer
	if f.src != nil {
		src = f.src.peer(e.mesh)
	}
	if f.dst != nil && !f.dst.NoSidecar {
		dst = f.dst.peer(e.mesh)
	}
	mtls := e.mesh.mutualTLS(f.src, f.dst)
	f.srcEx = exchange{reporter: telemetry.ReporterSource, source: src, destination: dst, service: f.service,
		protocol: f.service.Protocol, flags: telemetry.NoFlags, security: telemetry.Unknown}
	f.dstEx = exchange{reporter: telemetry.ReporterDestination, source: src, destination: dst, service: f.service,
		protocol: f.service.Protocol, flags: telemetry.NoFlags, security: telemetry.SecurityMutualTLS}
	if !mtls {
		for _, ex := range []*exchange{&f.srcEx, &f.dstEx} {
			ex.source, ex.destination = ex.source.withoutPrincipal(), ex.destination.withoutPrincipal()
		}
		f.dstEx.security = telemetry.SecurityNone
	}
	f.srcSeries, f.dstSeries = map[string]*requestSeries{}, map[string]*requestSeries{}
}

// Run records traffic every tick until ctx is done.
func (e *Emitter) Run(ctx context.Context) error {
	t := time.NewTicker(e.tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.stop:
			return nil
		case now := <-t.C:
			e.Advance(now.Sub(last))
			last = now
		}
	}
}

// Advance records the traffic of elapsed time on every edge.
func (e *Emitter) Advance(elapsed time.Duration) {
	for _, f := range e.flows {
		f.owed += f.rate * elapsed.Seconds()
		n := math.Floor(f.owed)
		f.owed -= n
		for range int(n) {
			e.record(f)
		}
	}
}

func (e *Emitter) record(f *flow) {
	var fault Fault
	if f.dst != nil {
		fault = e.faults.For(f.dst)
	}
	srcSide := f.src != nil && e.sidecars[f.src] != nil
	dstSide := f.dst != nil && e.sidecars[f.dst] != nil && !f.dst.Gateway
	if f.service.Protocol == telemetry.ProtocolTCP {
		const received = int64(len(tcpQuery))
		sent := int64(f.dst.ResponseBytes + 1)
		if fault.Down {
			sent = 0
		}
		if srcSide {
			if f.srcTCP == nil {
				f.srcTCP = e.sidecars[f.src].tcpSeries(f.srcEx)
			}
			f.srcTCP.count(sent, received)
		}
		if dstSide {
			if f.dstTCP == nil {
				f.dstTCP = e.sidecars[f.dst].tcpSeries(f.dstEx)
			}
			f.dstTCP.count(sent, received)
		}
		return
	}
	// Latency: a few milliseconds of work plus an exponential tail.
	ms := 2 + rand.ExpFloat64()*8 + float64(time.Duration(fault.Delay))/float64(time.Millisecond)
	if fault.aborts() {
		// The caller's sidecar answers: no upstream host, no destination
		// report.
		if srcSide {
			ex := f.srcEx
			ex.destination = unknownPeer
			e.observe(e.sidecars[f.src], f.srcSeries, ex, "503", "FI", 0.1, 0)
		}
		return
	}
	srcCode, srcFlags := "200", telemetry.NoFlags
	size := 100
	if f.dst != nil {
		size = f.dst.ResponseBytes
	}
	if fault.Down {
		srcCode, srcFlags, ms, size = "504", "UT", 2000, 0
		if dstSide {
			e.observe(e.sidecars[f.dst], f.dstSeries, f.dstEx, "0", "DC", ms*0.9, 0)
		}
	} else {
		// Each attempt the route's retry policy makes is a request of its
		// own at the destination; the caller reports the last answer.
		policy := f.service.Retries
		for attempt := 0; ; attempt++ {
			code, attemptSize := "200", size
			if fault.fails() {
				code, attemptSize = strconv.Itoa(fault.errorCode()), 40
			}
			if dstSide {
				e.observe(e.sidecars[f.dst], f.dstSeries, f.dstEx, code, telemetry.NoFlags, ms*0.9, attemptSize)
			}
			srcCode, size = code, attemptSize
			if code == "200" || !policy.retries(fault.errorCode(), telemetry.NoFlags) {
				break
			}
			if attempt == policy.Attempts {
				srcFlags = "URX"
				break
			}
		}
	}
	if d := fault.InjectDelay; d > 0 {
		srcFlags = joinFlags(srcFlags, "DI")
		ms += float64(time.Duration(d)) / float64(time.Millisecond)
	}
	if srcSide {
		e.observe(e.sidecars[f.src], f.srcSeries, f.srcEx, srcCode, srcFlags, ms, size)
	}
}

func (e *Emitter) observe(s *Sidecar, cache map[string]*requestSeries, ex exchange, code, flags string, ms float64, size int) {
	key := code + flags
	rs, ok := cache[key]
	if !ok {
		ex.code, ex.flags = code, flags
		if ex.protocol == telemetry.ProtocolGRPC {
			ex.code, ex.grpcStatus = "200", "0"
			switch code {
			case "200":
			case "503": // a local reply of the caller's sidecar
				ex.grpcStatus = "14"
			case "504", "0":
				ex.code, ex.grpcStatus = code, "4"
			default: // the application's error
				ex.grpcStatus = "2"
			}
		}
		rs = s.requestSeries(ex)
		cache[key] = rs
	}
	rs.count.Inc()
	rs.duration.Observe(ms)
	rs.requestBytes.Observe(120)
	rs.responseBytes.Observe(float64(size))
	if rs.requestMessages != nil {
		rs.requestMessages.Inc()
		rs.responseMessages.Inc()
	}
}

// Targets are the pods' metrics endpoints, all on the emitter's server.
func (e *Emitter) Targets() []Target {
	addr := e.listener.Addr().String()
	var out []Target
	for _, w := range e.mesh.Workloads {
		if e.sidecars[w] != nil {
			out = append(out, newTarget(w, addr, fmt.Sprintf("/pods/%s/%s/stats/prometheus", w.Namespace, w.Pod())))
		}
	}
	return append(out, controlPlaneTarget(addr, "/istiod/metrics"))
}

// Mesh is the topology being emitted.
func (e *Emitter) Mesh() *Mesh { return e.mesh }

// Faults are the faults in force.
func (e *Emitter) Faults() *Faults { return e.faults }

// Edges is the number of edges carrying traffic.
func (e *Emitter) Edges() int { return len(e.flows) }

// Close stops the server.
func (e *Emitter) Close() error {
	e.once.Do(func() {
		close(e.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.server.Shutdown(ctx)
		e.wg.Wait()
	})
	return nil
}
