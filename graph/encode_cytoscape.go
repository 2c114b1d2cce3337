package graph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	jsoniter "github.com/json-iterator/go"

	"github.com/meshlens/meshlens/telemetry"
)

// The Cytoscape JSON answer has the shape of Kiali's graph API, so that
// scripts written against Kiali keep working: rates as strings with two
// decimals, percentages with one, zero rates left out. It is written by
// hand, field by field, as encoding/json would write the same structs
// (omitempty, object keys sorted, HTML escaped): a large graph's answer is
// megabytes, and encoding it by reflection, through a struct per element
// and a string per rate, was a large share of the console's work.

// cyDelta is an element's Delta: pairs of before, now.
type cyDelta struct {
	Change       string      `json:"change"`
	Rate         *[2]float64 `json:"rate,omitempty"`
	ErrorShare   *[2]float64 `json:"errorShare,omitempty"`
	ResponseTime *[2]float64 `json:"responseTime,omitempty"`
}

func cyDeltaOf(d *Delta) *cyDelta {
	if d == nil {
		return nil
	}
	return &cyDelta{Change: string(d.Change), Rate: rounded(d.Rate), ErrorShare: rounded(d.ErrorShare), ResponseTime: rounded(d.ResponseTime)}
}

// rounded keeps three decimals, as much as the rates' strings show.
func rounded(p *[2]float64) *[2]float64 {
	if p == nil {
		return nil
	}
	r := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	return &[2]float64{r(p[0]), r(p[1])}
}

func rate(v float64) string    { return strconv.FormatFloat(v, 'f', 2, 64) }
func percent(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// cyWriter appends the JSON of a graph's elements to b; the first error
// (a value encoding/json refuses, such as NaN in health data) stays in err.
type cyWriter struct {
	b   []byte
	err error
	// codes and keys order an edge's responses and their shares.
	codes, keys []int
}

func (w *cyWriter) raw(s string) { w.b = append(w.b, s...) }

// plainJSON are the bytes a JSON string holds as they are: printable
// ASCII but for the quote, the backslash and what HTML escapes.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

// str writes s as encoding/json does, HTML escaped.
func (w *cyWriter) str(s string) {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			// Rare in names: encoding/json's own escaping (invalid
			// UTF-8, U+2028 and U+2029 included).
			q, _ := json.Marshal(s)
			w.b = append(w.b, q...)
			return
		}
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, s...)
	w.b = append(w.b, '"')
}

// key writes ,"key": (see name).
func (w *cyWriter) key(key string) {
	w.b = append(w.b, ',')
	w.name(key)
}

// name writes "key": , the start of a member; key is a constant of this
// file, safe as it is.
func (w *cyWriter) name(key string) {
	w.b = append(w.b, '"')
	w.b = append(w.b, key...)
	w.b = append(w.b, '"', ':')
}

// field writes ,"key":"value".
func (w *cyWriter) field(key, value string) {
	w.key(key)
	w.str(value)
}

// optional writes the field unless value is empty (omitempty).
func (w *cyWriter) optional(key, value string) {
	if value != "" {
		w.field(key, value)
	}
}

// flag writes key: true when set (a bool with omitempty).
func (w *cyWriter) flag(key string, set bool) {
	if set {
		w.key(key)
		w.raw("true")
	}
}

// decimal writes v with that many decimals, as a string: how Kiali's
// answer gives rates (2) and percentages (1). Digits need no escaping.
func (w *cyWriter) decimal(v float64, decimals int) {
	w.b = append(w.b, '"')
	w.b = strconv.AppendFloat(w.b, v, 'f', decimals, 64)
	w.b = append(w.b, '"')
}

// value writes key: v as cytoscapeJSON encodes it, for the few fields of
// nested structs (health, comparisons, service entries).
func (w *cyWriter) value(key string, v any) {
	b, err := cytoscapeJSON.Marshal(v)
	if err != nil {
		w.err = cmp.Or(w.err, err)
		return
	}
	w.key(key)
	w.b = append(w.b, b...)
}

// ratesWriter writes a rates object: a key per rate, in sorted order
// (the order callers give them in), each rate as a string.
type ratesWriter struct {
	w     *cyWriter
	empty bool
}

func (w *cyWriter) startRates() ratesWriter {
	w.raw(`{`)
	return ratesWriter{w: w, empty: true}
}

func (r *ratesWriter) put(key string, v float64, decimals int) {
	if !r.empty {
		r.w.b = append(r.w.b, ',')
	}
	r.empty = false
	r.w.name(key)
	r.w.decimal(v, decimals)
}

// rate sets key to the rate v when v rounds to something; always when base.
func (r *ratesWriter) rate(key string, v float64, base bool) {
	if base || v >= 0.005 {
		r.put(key, v, 2)
	}
}

// percent sets key to the percentage v when it rounds to something.
func (r *ratesWriter) percent(key string, v float64) {
	if v >= 0.05 {
		r.put(key, v, 1)
	}
}

func (r *ratesWriter) end() { r.w.raw(`}`) }

func (w *cyWriter) node(n *Node) {
	w.raw(`{"data":{"id":`)
	w.str(n.ID)
	w.optional("parent", n.Parent)
	w.optional("cluster", n.Cluster)
	w.field("namespace", n.Namespace)
	w.field("nodeType", string(n.Kind))
	w.optional("workload", n.Workload)
	w.optional("app", n.App)
	w.optional("version", n.Version)
	w.optional("service", n.Service)
	if len(n.DestServices) > 0 {
		services := slices.Clone(n.DestServices)
		slices.SortStableFunc(services, func(a, b ServiceName) int {
			return cmp.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		})
		w.raw(`,"destServices":[`)
		for i, s := range services {
			if i > 0 {
				w.raw(",")
			}
			w.raw(`{"cluster":`)
			w.str(s.Cluster)
			w.field("namespace", s.Namespace)
			w.field("name", s.Name)
			w.raw("}")
		}
		w.raw("]")
	}
	w.nodeTraffic(n)
	w.optional("isBox", n.Box)
	w.flag("isRoot", n.IsRoot && n.Kind != KindBox)
	w.flag("isOutside", n.IsOutside && n.Kind != KindBox)
	w.flag("isIdle", n.IsIdle)
	w.flag("hasMissingSC", n.HasMissingSidecar)
	w.optional("validation", n.Validation)
	if se := n.IsServiceEntry; se != nil {
		w.value("isServiceEntry", struct {
			Location string   `json:"location"`
			Hosts    []string `json:"hosts"`
		}{se.Location, se.Hosts})
	}
	if n.Health != nil {
		w.value("healthData", n.Health)
		w.optional("healthStatus", string(n.Health.Status.Status))
	}
	if d := cyDeltaOf(n.Compare); d != nil {
		w.value("compare", d)
	}
	w.raw("}}")
}

// nodeTraffic writes a node's traffic, a rates object per protocol.
func (w *cyWriter) nodeTraffic(n *Node) {
	started := false
	protocol := func(name string) ratesWriter {
		if started {
			w.raw(`,{"protocol":`)
		} else {
			w.raw(`,"traffic":[{"protocol":`)
			started = true
		}
		w.str(name)
		w.raw(`,"rates":`)
		return w.startRates()
	}
	if n.In.HTTP > 0 || n.Out.HTTP > 0 {
		r := protocol(telemetry.ProtocolHTTP)
		if n.In.HTTP > 0 {
			r.rate("httpIn", n.In.HTTP, true)
			r.rate("httpIn3xx", n.In.HTTP3xx, false)
			r.rate("httpIn4xx", n.In.HTTP4xx, false)
			r.rate("httpIn5xx", n.In.HTTP5xx, false)
			r.rate("httpInNoResponse", n.In.HTTPNoResponse, false)
		}
		if n.Out.HTTP > 0 {
			r.rate("httpOut", n.Out.HTTP, true)
		}
		r.end()
		w.raw("}")
	}
	if n.In.GRPC > 0 || n.Out.GRPC > 0 {
		r := protocol(telemetry.ProtocolGRPC)
		if n.In.GRPC > 0 {
			r.rate("grpcIn", n.In.GRPC, true)
			r.rate("grpcInErr", n.In.GRPCErr, false)
			r.rate("grpcInNoResponse", n.In.GRPCNoResponse, false)
		}
		if n.Out.GRPC > 0 {
			r.rate("grpcOut", n.Out.GRPC, true)
		}
		r.end()
		w.raw("}")
	}
	if n.In.TCP > 0 || n.Out.TCP > 0 {
		r := protocol(telemetry.ProtocolTCP)
		if n.In.TCP > 0 {
			r.rate("tcpIn", n.In.TCP, true)
		}
		if n.Out.TCP > 0 {
			r.rate("tcpOut", n.Out.TCP, true)
		}
		r.end()
		w.raw("}")
	}
	if started {
		w.raw("]")
	}
}

func (w *cyWriter) edge(e *Edge) {
	w.raw(`{"data":{"id":`)
	w.str(e.ID)
	w.field("source", e.Source.ID)
	w.field("target", e.Dest.ID)
	if e.HasMTLS {
		w.optional("destPrincipal", e.DestPrincipal)
		w.optional("sourcePrincipal", e.SourcePrincipal)
		w.key("isMTLS")
		w.decimal(e.MTLS, 1)
	}
	if e.HasResponseTime {
		w.key("responseTime")
		w.decimal(e.ResponseTime, 2)
	}
	if e.HasThroughput {
		w.key("throughput")
		w.decimal(e.Throughput, 2)
	}
	w.optional("healthStatus", e.HealthStatus)
	w.edgeTraffic(e)
	if d := cyDeltaOf(e.Compare); d != nil {
		w.value("compare", d)
	}
	w.raw("}}")
}

// edgeTraffic writes an edge's rates and, as shares of them, its
// responses by code, flags and host.
func (w *cyWriter) edgeTraffic(e *Edge) {
	w.raw(`,"traffic":{"protocol":`)
	w.str(e.Protocol)
	w.raw(`,"rates":`)
	r := w.startRates()
	var total float64
	switch e.Protocol {
	case telemetry.ProtocolTCP:
		total = e.Rates.TCP
		r.rate("tcp", total, true)
	case telemetry.ProtocolGRPC:
		total = e.Rates.GRPC
		r.rate("grpc", total, true)
		r.rate("grpcErr", e.Rates.GRPCErr, false)
		r.rate("grpcNoResponse", e.Rates.GRPCNoResponse, false)
		if total > 0 {
			r.percent("grpcPercentErr", 100*(e.Rates.GRPCErr+e.Rates.GRPCNoResponse)/total)
		}
		if out := e.Source.Out.GRPC; out > 0 {
			r.percent("grpcPercentReq", 100*total/out)
		}
	default:
		total = e.Rates.HTTP
		r.rate("http", total, true)
		r.rate("http3xx", e.Rates.HTTP3xx, false)
		r.rate("http4xx", e.Rates.HTTP4xx, false)
		r.rate("http5xx", e.Rates.HTTP5xx, false)
		r.rate("httpNoResponse", e.Rates.HTTPNoResponse, false)
		if total > 0 {
			r.percent("httpPercentErr", 100*(e.Rates.HTTP4xx+e.Rates.HTTP5xx+e.Rates.HTTPNoResponse)/total)
		}
		if out := e.Source.Out.HTTP; out > 0 {
			r.percent("httpPercentReq", 100*total/out)
		}
	}
	r.end()
	if total > 0 && len(e.Responses) > 0 {
		w.raw(`,"responses":{`)
		w.codes = sortedBy(w.codes, len(e.Responses), func(i int) string { return e.Responses[i].Code })
		for i, k := range w.codes {
			if i > 0 {
				w.raw(",")
			}
			resp := &e.Responses[k]
			w.str(resp.Code)
			w.raw(`:{"flags":`)
			w.shares(resp.Flags, total)
			w.raw(`,"hosts":`)
			w.shares(resp.Hosts, total)
			w.raw("}")
		}
		w.raw("}")
	}
	w.raw("}")
}

// shares writes s as an object of percentages of total, keys sorted.
func (w *cyWriter) shares(s Shares, total float64) {
	w.keys = sortedBy(w.keys, len(s), func(i int) string { return s[i].Key })
	w.raw("{")
	for i, k := range w.keys {
		if i > 0 {
			w.raw(",")
		}
		w.str(s[k].Key)
		w.raw(":")
		w.decimal(100*s[k].Value/total, 1)
	}
	w.raw("}")
}

// sortedBy fills order with 0..n-1 sorted by key.
func sortedBy(order []int, n int, key func(int) string) []int {
	order = order[:0]
	for i := range n {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	return order
}

// elements writes a list of elements, each by one, into a buffer of
// about its size: growing it by doubling copied megabytes.
func elements[E any](list []E, one func(*cyWriter, E)) ([]byte, error) {
	w := &cyWriter{b: make([]byte, 0, 512*len(list)+64)}
	w.raw("[")
	for i, e := range list {
		if i > 0 {
			w.raw(",")
		}
		one(w, e)
	}
	w.raw("]")
	return w.b, w.err
}

// WriteJSON writes the graph as Cytoscape elements, in the shape of Kiali's
// graph API; indent "" writes it compact, as an API should.
func (g *Graph) WriteJSON(w io.Writer, indent string) error {
	// The nodes and the edges of a large graph are megabytes each: they
	// are encoded at once, each into its own buffer.
	var (
		wg    sync.WaitGroup
		nodes []byte
		err   error
	)
	sorted := g.Nodes()
	wg.Go(func() { nodes, err = elements(sorted, (*cyWriter).node) })
	edges, edgesErr := elements(g.edgesAlong(sorted), (*cyWriter).edge)
	wg.Wait()
	if err := errors.Join(err, edgesErr); err != nil {
		return err
	}
	// The answer around them is written apart: copying megabytes into
	// one buffer only to write it would cost as much again.
	head := &cyWriter{}
	head.raw(`{"timestamp":`)
	head.b = strconv.AppendInt(head.b, g.Timestamp.Unix(), 10)
	head.raw(`,"duration":`)
	head.b = strconv.AppendInt(head.b, int64(g.Duration.Seconds()), 10)
	head.field("graphType", string(g.Type))
	head.raw(`,"elements":{"nodes":`)
	tail := &cyWriter{}
	tail.raw(`},"queries":`)
	tail.b = strconv.AppendInt(tail.b, int64(g.Queries), 10)
	if len(g.Warnings) > 0 {
		tail.raw(`,"warnings":[`)
		for i, s := range g.Warnings {
			if i > 0 {
				tail.raw(",")
			}
			tail.str(s)
		}
		tail.raw("]")
	}
	if !g.ComparedTo.IsZero() && g.ComparedTo.Unix() != 0 {
		tail.raw(`,"compareTo":`)
		tail.b = strconv.AppendInt(tail.b, g.ComparedTo.Unix(), 10)
	}
	tail.raw("}\n")
	parts := [][]byte{head.b, nodes, []byte(`,"edges":`), edges, tail.b}
	if indent == "" {
		for _, p := range parts {
			if _, err := w.Write(p); err != nil {
				return err
			}
		}
		return nil
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, bytes.Join(parts, nil), "", indent); err != nil {
		return err
	}
	_, err = w.Write(indented.Bytes())
	return err
}

// cytoscapeJSON writes what encoding/json writes (map keys sorted, HTML
// escaped), for the nested structs of a few elements.
var cytoscapeJSON = jsoniter.ConfigCompatibleWithStandardLibrary
