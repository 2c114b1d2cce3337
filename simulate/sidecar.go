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
	// others holds the metrics the page does not write itself (see
	// page.go), gathered at each scrape.
	others *prometheus.Registry

	requests, requestMessages, responseMessages *prometheus.CounterVec
	duration, requestBytes, responseBytes       *prometheus.HistogramVec
	tcpSent, tcpReceived, tcpOpened, tcpClosed  *prometheus.CounterVec
	upstreamRequests                            *prometheus.CounterVec

	mu     sync.Mutex
	series map[string]*requestSeries
	tcp    map[string]*tcpSeries
	// pages lists the series in the order a scrape writes them, sorted
	// when one was added since.
	pages pageSeries
}

// requestSeries are the children of every request metric for one label set,
// kept so that recording a request is a few atomic adds, and their labels
// as the page writes them.
type requestSeries struct {
	labels                                   string
	count, requestMessages, responseMessages prometheus.Counter
	duration, requestBytes, responseBytes    prometheus.Histogram
}

type tcpSeries struct {
	labels                         string
	sent, received, opened, closed prometheus.Counter
}

func newSidecar() *Sidecar {
	started := time.Now()
	counter := func(m pageMetric, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.name, Help: m.help}, labels)
	}
	histogram := func(m pageMetric) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: m.name, Help: m.help, Buckets: telemetry.DefaultBuckets}, telemetry.RequestLabels)
	}
	s := &Sidecar{
		others:           prometheus.NewRegistry(),
		requests:         counter(requestsTotal, telemetry.RequestLabels),
		requestMessages:  counter(requestMessagesTotal, telemetry.RequestLabels),
		responseMessages: counter(responseMessagesTotal, telemetry.RequestLabels),
		duration:         histogram(requestDuration),
		requestBytes:     histogram(requestBytes),
		responseBytes:    histogram(responseBytes),
		tcpSent:          counter(tcpSent, telemetry.TCPLabels),
		tcpReceived:      counter(tcpReceived, telemetry.TCPLabels),
		tcpOpened:        counter(tcpOpened, telemetry.TCPLabels),
		tcpClosed:        counter(tcpClosed, telemetry.TCPLabels),
		upstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envoy_cluster_upstream_rq_total"}, []string{"cluster_name"}),
		series:           map[string]*requestSeries{},
		tcp:              map[string]*tcpSeries{},
	}
	s.others.MustRegister(s.upstreamRequests,
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
			labels:        labelText(telemetry.RequestLabels, values),
			count:         s.requests.WithLabelValues(values...),
			duration:      s.duration.WithLabelValues(values...).(prometheus.Histogram),
			requestBytes:  s.requestBytes.WithLabelValues(values...).(prometheus.Histogram),
			responseBytes: s.responseBytes.WithLabelValues(values...).(prometheus.Histogram),
		}
		// Only gRPC traffic has message counters.
		if e.protocol == telemetry.ProtocolGRPC {
			rs.requestMessages = s.requestMessages.WithLabelValues(values...)
			rs.responseMessages = s.responseMessages.WithLabelValues(values...)
		}
		s.series[key] = rs
		s.pages.addRequest(rs)
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
			labels:   labelText(telemetry.TCPLabels, values),
			sent:     s.tcpSent.WithLabelValues(values...),
			received: s.tcpReceived.WithLabelValues(values...),
			opened:   s.tcpOpened.WithLabelValues(values...),
			closed:   s.tcpClosed.WithLabelValues(values...),
		}
		s.tcp[key] = ts
		s.pages.addTCP(ts)
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
	others, err := s.others.Gather()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	w.Header().Set("Content-Type", string(format))
	// A busy sidecar's page is megabytes: written through the response's
	// own 4 KiB buffer, a write system call each.
	buf := bufio.NewWriterSize(w, 64<<10)
	s.mu.Lock()
	requests, tcp := s.pages.sorted()
	s.mu.Unlock()
	if err := writePage(buf, requests, tcp); err != nil {
		slog.Debug("writing sidecar metrics", "component", "simulate", "err", err)
		return
	}
	enc := expfmt.NewEncoder(buf, format)
	for _, mf := range others {
		if err := enc.Encode(mf); err != nil {
			slog.Debug("writing sidecar metrics", "component", "simulate", "err", err)
			return
		}
	}
	if err := buf.Flush(); err != nil {
		slog.Debug("writing sidecar metrics", "component", "simulate", "err", err)
	}
}
