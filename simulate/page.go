package simulate

import (
	"bufio"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshlens/meshlens/telemetry"
)

// A sidecar's page holds its request and TCP metrics in the Prometheus text
// format, written as Envoy writes it: each series' labels are escaped once,
// when the series is first seen, and a scrape writes its values after
// them. client_golang's encoder checks and escapes every label of every
// line at every scrape: at 5,000 workloads, 1.5 million lines of 25
// labels every interval, half of the simulator's CPU, taken from the
// cores the store and the console being measured run on. The values still
// come from client_golang's metrics.

// pageMetric is one metric of the page: its name and help.
type pageMetric struct{ name, help string }

var (
	requestsTotal         = pageMetric{telemetry.RequestsTotal, "requests_total"}
	requestMessagesTotal  = pageMetric{telemetry.RequestMessagesTotal, "request_messages_total"}
	responseMessagesTotal = pageMetric{telemetry.ResponseMessagesTotal, "response_messages_total"}
	requestDuration       = pageMetric{telemetry.RequestDurationMilliseconds, "request_duration_milliseconds"}
	requestBytes          = pageMetric{telemetry.RequestBytes, "request_bytes"}
	responseBytes         = pageMetric{telemetry.ResponseBytes, "response_bytes"}
	tcpSent               = pageMetric{telemetry.TCPSentBytesTotal, "tcp_sent_bytes_total"}
	tcpReceived           = pageMetric{telemetry.TCPReceivedBytesTotal, "tcp_received_bytes_total"}
	tcpOpened             = pageMetric{telemetry.TCPConnectionsOpenedTotal, "tcp_connections_opened_total"}
	tcpClosed             = pageMetric{telemetry.TCPConnectionsClosedTotal, "tcp_connections_closed_total"}
)

// child is a metric of the page with the child it reads from a series of
// kind S (nil: the series has none, as only gRPC series have message
// counters).
type child[S, M any] struct {
	pageMetric
	of func(S) M
}

// The page's metrics in the order it writes them.
var (
	requestCounters = []child[*requestSeries, prometheus.Counter]{
		{requestsTotal, func(r *requestSeries) prometheus.Counter { return r.count }},
		{requestMessagesTotal, func(r *requestSeries) prometheus.Counter { return r.requestMessages }},
		{responseMessagesTotal, func(r *requestSeries) prometheus.Counter { return r.responseMessages }},
	}
	requestHistograms = []child[*requestSeries, prometheus.Histogram]{
		{requestDuration, func(r *requestSeries) prometheus.Histogram { return r.duration }},
		{requestBytes, func(r *requestSeries) prometheus.Histogram { return r.requestBytes }},
		{responseBytes, func(r *requestSeries) prometheus.Histogram { return r.responseBytes }},
	}
	tcpCounters = []child[*tcpSeries, prometheus.Counter]{
		{tcpSent, func(t *tcpSeries) prometheus.Counter { return t.sent }},
		{tcpReceived, func(t *tcpSeries) prometheus.Counter { return t.received }},
		{tcpOpened, func(t *tcpSeries) prometheus.Counter { return t.opened }},
		{tcpClosed, func(t *tcpSeries) prometheus.Counter { return t.closed }},
	}
)

// labelText is a series' labels as the text format writes them between
// braces: name="value" pairs by name, values escaped.
func labelText(names, values []string) string {
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	var b strings.Builder
	for i, j := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(names[j])
		b.WriteString(`="`)
		labelValueEscaper.WriteString(&b, values[j])
		b.WriteByte('"')
	}
	return b.String()
}

// labelValueEscaper escapes a label value for the text format.
var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// helpEscaper escapes a HELP line's text.
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// pageSeries are a sidecar's series in the order its page lists them.
type pageSeries struct {
	requests []*requestSeries
	tcp      []*tcpSeries
	// unsorted tells that series were added since the last sort.
	unsorted bool
}

func (p *pageSeries) addRequest(r *requestSeries) {
	p.requests = append(p.requests, r)
	p.unsorted = true
}

func (p *pageSeries) addTCP(t *tcpSeries) {
	p.tcp = append(p.tcp, t)
	p.unsorted = true
}

// sorted returns copies of the lists, by labels: a scrape writes its own
// while series are added and sorted for the next.
func (p *pageSeries) sorted() ([]*requestSeries, []*tcpSeries) {
	if p.unsorted {
		slices.SortFunc(p.requests, func(a, b *requestSeries) int { return strings.Compare(a.labels, b.labels) })
		slices.SortFunc(p.tcp, func(a, b *tcpSeries) int { return strings.Compare(a.labels, b.labels) })
		p.unsorted = false
	}
	return slices.Clone(p.requests), slices.Clone(p.tcp)
}

// writePage writes the request and TCP metrics of a sidecar's series. A
// metric no series has is left out, as client_golang leaves it out.
func writePage(w *bufio.Writer, requests []*requestSeries, tcp []*tcpSeries) error {
	p := pageWriter{w: w}
	for _, c := range requestCounters {
		headed := false
		for _, r := range requests {
			if m := c.of(r); m != nil {
				if !headed {
					p.header(c.pageMetric, "counter")
					headed = true
				}
				p.counter(c.name, r.labels, m)
			}
		}
	}
	for _, h := range requestHistograms {
		for i, r := range requests {
			if i == 0 {
				p.header(h.pageMetric, "histogram")
			}
			p.histogram(h.name, r.labels, h.of(r))
		}
	}
	for _, c := range tcpCounters {
		for i, t := range tcp {
			if i == 0 {
				p.header(c.pageMetric, "counter")
			}
			p.counter(c.name, t.labels, c.of(t))
		}
	}
	return p.err
}

// pageWriter writes lines, keeping the first error.
type pageWriter struct {
	w   *bufio.Writer
	m   dto.Metric
	num []byte
	err error
}

// header writes the HELP and TYPE lines of m.
func (p *pageWriter) header(m pageMetric, typ string) {
	p.str("# HELP ", m.name, " ", helpEscaper.Replace(m.help), "\n# TYPE ", m.name, " ", typ, "\n")
}

func (p *pageWriter) counter(name, labels string, c prometheus.Counter) {
	p.m.Reset()
	if err := c.Write(&p.m); err != nil {
		p.err = err
		return
	}
	p.line(name, labels, "", p.m.GetCounter().GetValue())
}

func (p *pageWriter) histogram(name, labels string, h prometheus.Histogram) {
	p.m.Reset()
	if err := h.Write(&p.m); err != nil {
		p.err = err
		return
	}
	hist := p.m.GetHistogram()
	bucket := name + "_bucket"
	for i, b := range hist.GetBucket() {
		var le string
		if i < len(telemetry.DefaultBuckets) && telemetry.DefaultBuckets[i] == b.GetUpperBound() {
			le = defaultBucketLabels[i]
		} else {
			le = bucketLabel(b.GetUpperBound())
		}
		p.line(bucket, labels, le, float64(b.GetCumulativeCount()))
	}
	p.line(bucket, labels, `,le="+Inf"`, float64(hist.GetSampleCount()))
	p.line(name+"_sum", labels, "", hist.GetSampleSum())
	p.line(name+"_count", labels, "", float64(hist.GetSampleCount()))
}

// bucketLabel is the le label of a bucket, after a series' other labels.
func bucketLabel(upper float64) string {
	return `,le="` + strconv.FormatFloat(upper, 'g', -1, 64) + `"`
}

// defaultBucketLabels are the le labels of telemetry.DefaultBuckets,
// formatted once.
var defaultBucketLabels = func() []string {
	out := make([]string, len(telemetry.DefaultBuckets))
	for i, b := range telemetry.DefaultBuckets {
		out[i] = bucketLabel(b)
	}
	return out
}()

// line writes name{labels extra} value.
func (p *pageWriter) line(name, labels, extra string, v float64) {
	p.str(name, "{", labels, extra, "} ")
	p.num = strconv.AppendFloat(p.num[:0], v, 'g', -1, 64)
	p.num = append(p.num, '\n')
	if _, err := p.w.Write(p.num); err != nil && p.err == nil {
		p.err = err
	}
}

func (p *pageWriter) str(ss ...string) {
	for _, s := range ss {
		if _, err := p.w.WriteString(s); err != nil && p.err == nil {
			p.err = err
		}
	}
}
