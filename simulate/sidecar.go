package simulate

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/meshlens/meshlens/telemetry"
)

// Sidecar holds the metrics one pod's Istio proxy would report, and serves
// them in the Prometheus text format as Envoy does on /stats/prometheus.
type Sidecar struct {
	reg *prometheus.Registry

	requests, requestMessages, responseMessages *prometheus.CounterVec
	duration, requestBytes, responseBytes       *prometheus.HistogramVec
	tcpSent, tcpReceived, tcpOpened, tcpClosed  *prometheus.CounterVec
	upstreamRequests                            *prometheus.CounterVec

	mu     sync.Mutex
	series map[string]*requestSeries
	tcp    map[string]*tcpSeries
}

// requestSeries are the children of every request metric for one label set,
// kept so that recording a request is a few atomic adds.
type requestSeries struct {
	count, requestMessages, responseMessages prometheus.Counter
	duration, requestBytes, responseBytes    prometheus.Observer
}

type tcpSeries struct{ sent, received, opened, closed prometheus.Counter }

func newSidecar() *Sidecar {
	started := time.Now()
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: telemetry.DefaultBuckets}, telemetry.RequestLabels)
	}
	s := &Sidecar{
		reg:              prometheus.NewRegistry(),
		requests:         counter(telemetry.RequestsTotal, "requests_total", telemetry.RequestLabels),
		requestMessages:  counter(telemetry.RequestMessagesTotal, "request_messages_total", telemetry.RequestLabels),
		responseMessages: counter(telemetry.ResponseMessagesTotal, "response_messages_total", telemetry.RequestLabels),
		duration:         histogram(telemetry.RequestDurationMilliseconds, "request_duration_milliseconds"),
		requestBytes:     histogram(telemetry.RequestBytes, "request_bytes"),
		responseBytes:    histogram(telemetry.ResponseBytes, "response_bytes"),
		tcpSent:          counter(telemetry.TCPSentBytesTotal, "tcp_sent_bytes_total", telemetry.TCPLabels),
		tcpReceived:      counter(telemetry.TCPReceivedBytesTotal, "tcp_received_bytes_total", telemetry.TCPLabels),
		tcpOpened:        counter(telemetry.TCPConnectionsOpenedTotal, "tcp_connections_opened_total", telemetry.TCPLabels),
		tcpClosed:        counter(telemetry.TCPConnectionsClosedTotal, "tcp_connections_closed_total", telemetry.TCPLabels),
		upstreamRequests: counter("envoy_cluster_upstream_rq_total", "", []string{"cluster_name"}),
		series:           map[string]*requestSeries{},
		tcp:              map[string]*tcpSeries{},
	}
	s.reg.MustRegister(s.requests, s.requestMessages, s.responseMessages, s.duration, s.requestBytes,
		s.responseBytes, s.tcpSent, s.tcpReceived, s.tcpOpened, s.tcpClosed, s.upstreamRequests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "envoy_server_uptime", Help: ""},
			func() float64 { return float64(int(time.Since(started).Seconds())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "envoy_server_live", Help: ""}, func() float64 { return 1 }),
	)
	return s
}

// exchange is one request or connection as one reporter saw it.
type exchange struct {
	reporter            string
	source, destination peer
	service             *Service
	protocol            string
	code, grpcStatus    string
	flags, security     string
}

func (e exchange) peerLabelValues(extra ...string) []string {
	v := make([]string, 0, len(telemetry.RequestLabels))
	v = append(v, e.reporter)
	v = append(v, e.source.values()...)
	v = append(v, e.destination.values()...)
	name, ns := telemetry.Unknown, telemetry.Unknown
	host := telemetry.Unknown
	if e.service != nil {
		host, name, ns = e.service.Host(), e.service.Name, e.service.Namespace
	}
	v = append(v, host, name, ns)
	return append(v, extra...)
}

func (s *Sidecar) requestSeries(e exchange) *requestSeries {
	values := e.peerLabelValues(e.protocol, e.code, e.grpcStatus, e.flags, e.security)
	key := strings.Join(values, "\xff")
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, ok := s.series[key]
	if !ok {
		rs = &requestSeries{
			count:         s.requests.WithLabelValues(values...),
			duration:      s.duration.WithLabelValues(values...),
			requestBytes:  s.requestBytes.WithLabelValues(values...),
			responseBytes: s.responseBytes.WithLabelValues(values...),
		}
		// Only gRPC traffic has message counters.
		if e.protocol == telemetry.ProtocolGRPC {
			rs.requestMessages = s.requestMessages.WithLabelValues(values...)
			rs.responseMessages = s.responseMessages.WithLabelValues(values...)
		}
		s.series[key] = rs
	}
	return rs
}

func (s *Sidecar) recordRequest(e exchange, d time.Duration, reqBytes, respBytes int) {
	rs := s.requestSeries(e)
	rs.count.Inc()
	rs.duration.Observe(float64(d) / float64(time.Millisecond))
	rs.requestBytes.Observe(float64(reqBytes))
	rs.responseBytes.Observe(float64(respBytes))
	if rs.requestMessages != nil {
		rs.requestMessages.Inc()
		rs.responseMessages.Inc()
	}
	if e.reporter == telemetry.ReporterSource && e.service != nil {
		s.upstreamRequests.WithLabelValues(fmt.Sprintf("outbound|%d||%s", e.service.Port, e.service.Host())).Inc()
	}
}

func (s *Sidecar) tcpSeries(e exchange) *tcpSeries {
	values := e.peerLabelValues(telemetry.ProtocolTCP, e.flags, e.security)
	key := strings.Join(values, "\xff")
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.tcp[key]
	if !ok {
		ts = &tcpSeries{
			sent:     s.tcpSent.WithLabelValues(values...),
			received: s.tcpReceived.WithLabelValues(values...),
			opened:   s.tcpOpened.WithLabelValues(values...),
			closed:   s.tcpClosed.WithLabelValues(values...),
		}
		s.tcp[key] = ts
	}
	return ts
}

// recordConnection counts one whole TCP connection: sent is what the
// destination sent back, received what the source sent, as Istio counts both.
func (s *Sidecar) recordConnection(e exchange, sent, received int64) {
	s.tcpSeries(e).count(sent, received)
}

// count adds one whole connection.
func (ts *tcpSeries) count(sent, received int64) {
	ts.opened.Inc()
	ts.sent.Add(float64(sent))
	ts.received.Add(float64(received))
	ts.closed.Inc()
}

// ServeHTTP answers /stats/prometheus in the Prometheus text format, as
// Envoy does, whatever the scraper asks for.
func (s *Sidecar) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	families, err := s.reg.Gather()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	w.Header().Set("Content-Type", string(format))
	// A busy sidecar's page is megabytes: written through the response's
	// own 4 KiB buffer, a write system call each.
	buf := bufio.NewWriterSize(w, 64<<10)
	enc := expfmt.NewEncoder(buf, format)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			slog.Debug("writing sidecar metrics", "component", "simulate", "err", err)
			return
		}
	}
	if err := buf.Flush(); err != nil {
		slog.Debug("writing sidecar metrics", "component", "simulate", "err", err)
	}
}
