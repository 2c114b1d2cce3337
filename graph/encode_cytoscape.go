package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	jsoniter "github.com/json-iterator/go"

	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/telemetry"
)

// The Cytoscape JSON answer has the shape of Kiali's graph API, so that
// scripts written against Kiali keep working: rates as strings with two
// decimals, percentages with one, zero rates left out.

// cyGraph is the answer; its elements are cyElements, or the same as JSON
// encoded already (rawElements).
type cyGraph[E any] struct {
	Timestamp int64  `json:"timestamp"`
	Duration  int64  `json:"duration"`
	GraphType string `json:"graphType"`
	Elements  E      `json:"elements"`
	// meshlens additions; Kiali clients ignore them.
	Queries   int      `json:"queries"`
	Warnings  []string `json:"warnings,omitempty"`
	CompareTo int64    `json:"compareTo,omitempty"`
}

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

type cyElements struct {
	Nodes []cyNode `json:"nodes"`
	Edges []cyEdge `json:"edges"`
}

type rawElements struct {
	Nodes rawJSON `json:"nodes"`
	Edges rawJSON `json:"edges"`
}

// rawJSON is written as it is: jsoniter's RawMessage is decoded and
// encoded again to check it.
type rawJSON []byte

type cyNode struct {
	Data cyNodeData `json:"data"`
}

type cyNodeData struct {
	ID             string          `json:"id"`
	Parent         string          `json:"parent,omitempty"`
	Cluster        string          `json:"cluster,omitempty"`
	Namespace      string          `json:"namespace"`
	NodeType       string          `json:"nodeType"`
	Workload       string          `json:"workload,omitempty"`
	App            string          `json:"app,omitempty"`
	Version        string          `json:"version,omitempty"`
	Service        string          `json:"service,omitempty"`
	DestServices   []cyService     `json:"destServices,omitempty"`
	Traffic        []cyNodeTraffic `json:"traffic,omitempty"`
	IsBox          string          `json:"isBox,omitempty"`
	IsRoot         bool            `json:"isRoot,omitempty"`
	IsOutside      bool            `json:"isOutside,omitempty"`
	IsIdle         bool            `json:"isIdle,omitempty"`
	HasMissingSC   bool            `json:"hasMissingSC,omitempty"`
	Validation     string          `json:"validation,omitempty"`
	IsServiceEntry *cyServiceEntry `json:"isServiceEntry,omitempty"`
	HealthData     *health.Entity  `json:"healthData,omitempty"`
	HealthStatus   string          `json:"healthStatus,omitempty"`
	Compare        *cyDelta        `json:"compare,omitempty"`
}

type cyService struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

type cyServiceEntry struct {
	Location string   `json:"location"`
	Hosts    []string `json:"hosts"`
}

type cyNodeTraffic struct {
	Protocol string `json:"protocol"`
	Rates    object `json:"rates"`
}

type cyEdge struct {
	Data cyEdgeData `json:"data"`
}

type cyEdgeData struct {
	ID              string        `json:"id"`
	Source          string        `json:"source"`
	Target          string        `json:"target"`
	DestPrincipal   string        `json:"destPrincipal,omitempty"`
	SourcePrincipal string        `json:"sourcePrincipal,omitempty"`
	IsMTLS          string        `json:"isMTLS,omitempty"`
	ResponseTime    string        `json:"responseTime,omitempty"`
	Throughput      string        `json:"throughput,omitempty"`
	HealthStatus    string        `json:"healthStatus,omitempty"`
	Traffic         cyEdgeTraffic `json:"traffic"`
	Compare         *cyDelta      `json:"compare,omitempty"`
}

type cyEdgeTraffic struct {
	Protocol  string      `json:"protocol"`
	Rates     object      `json:"rates"`
	Responses cyResponses `json:"responses,omitempty"`
}

// cyResponses are the responses by code, an object keyed by code.
type cyResponses []cyResponse

type cyResponse struct {
	code         string
	Flags, Hosts object
}

// object is a JSON object of strings written with its keys sorted, as
// encoding/json writes a map, without a map per edge: a large graph has
// tens of thousands of them.
type object []field

type field struct{ key, value string }

func (o *object) put(key, value string) { *o = append(*o, field{key, value}) }

// The encoders of object and cyResponses write HTML-escaped strings, as
// encoding/json and cytoscapeJSON do everywhere else.
func init() {
	jsoniter.RegisterTypeEncoderFunc("graph.rawJSON", func(ptr unsafe.Pointer, s *jsoniter.Stream) {
		s.Write(*(*rawJSON)(ptr))
	}, func(ptr unsafe.Pointer) bool { return len(*(*rawJSON)(ptr)) == 0 })
	jsoniter.RegisterTypeEncoderFunc("graph.object", func(ptr unsafe.Pointer, s *jsoniter.Stream) {
		writeObject(*(*object)(ptr), s)
	}, func(ptr unsafe.Pointer) bool { return len(*(*object)(ptr)) == 0 })
	jsoniter.RegisterTypeEncoderFunc("graph.cyResponses", func(ptr unsafe.Pointer, s *jsoniter.Stream) {
		rs := *(*cyResponses)(ptr)
		slices.SortFunc(rs, func(a, b cyResponse) int { return strings.Compare(a.code, b.code) })
		s.WriteObjectStart()
		for i, r := range rs {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteStringWithHTMLEscaped(r.code)
			s.WriteRaw(`:{"flags":`)
			writeObject(r.Flags, s)
			s.WriteRaw(`,"hosts":`)
			writeObject(r.Hosts, s)
			s.WriteRaw("}")
		}
		s.WriteObjectEnd()
	}, func(ptr unsafe.Pointer) bool { return len(*(*cyResponses)(ptr)) == 0 })
}

func writeObject(o object, s *jsoniter.Stream) {
	slices.SortFunc(o, func(a, b field) int { return strings.Compare(a.key, b.key) })
	s.WriteObjectStart()
	for i, f := range o {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteStringWithHTMLEscaped(f.key)
		s.WriteRaw(":")
		s.WriteStringWithHTMLEscaped(f.value)
	}
	s.WriteObjectEnd()
}

func rate(v float64) string    { return strconv.FormatFloat(v, 'f', 2, 64) }
func percent(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// put sets key to the rate v when v rounds to something; always when base.
func put(o *object, key string, v float64, base bool) {
	if base || v >= 0.005 {
		o.put(key, rate(v))
	}
}

func putPercent(o *object, key string, v float64) {
	if v >= 0.05 {
		o.put(key, percent(v))
	}
}

func nodeTraffic(n *Node) []cyNodeTraffic {
	var out []cyNodeTraffic
	if n.In.HTTP > 0 || n.Out.HTTP > 0 {
		var r object
		if n.In.HTTP > 0 {
			put(&r, "httpIn", n.In.HTTP, true)
			put(&r, "httpIn3xx", n.In.HTTP3xx, false)
			put(&r, "httpIn4xx", n.In.HTTP4xx, false)
			put(&r, "httpIn5xx", n.In.HTTP5xx, false)
			put(&r, "httpInNoResponse", n.In.HTTPNoResponse, false)
		}
		if n.Out.HTTP > 0 {
			put(&r, "httpOut", n.Out.HTTP, true)
		}
		out = append(out, cyNodeTraffic{Protocol: telemetry.ProtocolHTTP, Rates: r})
	}
	if n.In.GRPC > 0 || n.Out.GRPC > 0 {
		var r object
		if n.In.GRPC > 0 {
			put(&r, "grpcIn", n.In.GRPC, true)
			put(&r, "grpcInErr", n.In.GRPCErr, false)
			put(&r, "grpcInNoResponse", n.In.GRPCNoResponse, false)
		}
		if n.Out.GRPC > 0 {
			put(&r, "grpcOut", n.Out.GRPC, true)
		}
		out = append(out, cyNodeTraffic{Protocol: telemetry.ProtocolGRPC, Rates: r})
	}
	if n.In.TCP > 0 || n.Out.TCP > 0 {
		var r object
		if n.In.TCP > 0 {
			put(&r, "tcpIn", n.In.TCP, true)
		}
		if n.Out.TCP > 0 {
			put(&r, "tcpOut", n.Out.TCP, true)
		}
		out = append(out, cyNodeTraffic{Protocol: telemetry.ProtocolTCP, Rates: r})
	}
	return out
}

func edgeTraffic(e *Edge) cyEdgeTraffic {
	var r object
	var total float64
	switch e.Protocol {
	case telemetry.ProtocolTCP:
		total = e.Rates.TCP
		put(&r, "tcp", total, true)
	case telemetry.ProtocolGRPC:
		total = e.Rates.GRPC
		put(&r, "grpc", total, true)
		put(&r, "grpcErr", e.Rates.GRPCErr, false)
		put(&r, "grpcNoResponse", e.Rates.GRPCNoResponse, false)
		if total > 0 {
			putPercent(&r, "grpcPercentErr", 100*(e.Rates.GRPCErr+e.Rates.GRPCNoResponse)/total)
		}
		if out := e.Source.Out.GRPC; out > 0 {
			putPercent(&r, "grpcPercentReq", 100*total/out)
		}
	default:
		total = e.Rates.HTTP
		put(&r, "http", total, true)
		put(&r, "http3xx", e.Rates.HTTP3xx, false)
		put(&r, "http4xx", e.Rates.HTTP4xx, false)
		put(&r, "http5xx", e.Rates.HTTP5xx, false)
		put(&r, "httpNoResponse", e.Rates.HTTPNoResponse, false)
		if total > 0 {
			putPercent(&r, "httpPercentErr", 100*(e.Rates.HTTP4xx+e.Rates.HTTP5xx+e.Rates.HTTPNoResponse)/total)
		}
		if out := e.Source.Out.HTTP; out > 0 {
			putPercent(&r, "httpPercentReq", 100*total/out)
		}
	}
	t := cyEdgeTraffic{Protocol: e.Protocol, Rates: r}
	if total > 0 && len(e.Responses) > 0 {
		t.Responses = make(cyResponses, 0, len(e.Responses))
		for _, resp := range e.Responses {
			cr := cyResponse{code: resp.Code, Flags: make(object, 0, len(resp.Flags)), Hosts: make(object, 0, len(resp.Hosts))}
			for _, f := range resp.Flags {
				cr.Flags.put(f.Key, percent(100*f.Value/total))
			}
			for _, h := range resp.Hosts {
				cr.Hosts.put(h.Key, percent(100*h.Value/total))
			}
			t.Responses = append(t.Responses, cr)
		}
	}
	return t
}

func cytoscapeGraph[E any](g *Graph, elements E) cyGraph[E] {
	return cyGraph[E]{
		Timestamp: g.Timestamp.Unix(), Duration: int64(g.Duration.Seconds()), GraphType: string(g.Type),
		Queries: g.Queries, Warnings: g.Warnings, Elements: elements, CompareTo: unixOrZero(g.ComparedTo),
	}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (g *Graph) cytoscape() cyGraph[cyElements] {
	nodes := g.Nodes()
	return cytoscapeGraph(g, cyElements{Nodes: g.cyNodes(nodes), Edges: g.cyEdges(g.edgesAlong(nodes))})
}

func (g *Graph) cyNodes(nodes []*Node) []cyNode {
	out := make([]cyNode, 0, len(nodes))
	for _, n := range nodes {
		d := cyNodeData{
			ID: n.ID, Parent: n.Parent, Cluster: n.Cluster, Namespace: n.Namespace, NodeType: string(n.Kind),
			Workload: n.Workload, App: n.App, Version: n.Version, Service: n.Service,
			Traffic: nodeTraffic(n), IsBox: n.Box, IsRoot: n.IsRoot && n.Kind != KindBox, IsOutside: n.IsOutside && n.Kind != KindBox,
			IsIdle: n.IsIdle, HasMissingSC: n.HasMissingSidecar, Validation: n.Validation, Compare: cyDeltaOf(n.Compare),
		}
		if n.Health != nil {
			d.HealthData, d.HealthStatus = n.Health, string(n.Health.Status.Status)
		}
		services := append([]ServiceName(nil), n.DestServices...)
		sort.Slice(services, func(i, j int) bool {
			return services[i].Namespace+"/"+services[i].Name < services[j].Namespace+"/"+services[j].Name
		})
		for _, s := range services {
			d.DestServices = append(d.DestServices, cyService{Cluster: s.Cluster, Namespace: s.Namespace, Name: s.Name})
		}
		if se := n.IsServiceEntry; se != nil {
			d.IsServiceEntry = &cyServiceEntry{Location: se.Location, Hosts: se.Hosts}
		}
		out = append(out, cyNode{Data: d})
	}
	return out
}

func (g *Graph) cyEdges(edges []*Edge) []cyEdge {
	out := make([]cyEdge, 0, len(edges))
	for _, e := range edges {
		d := cyEdgeData{ID: e.ID, Source: e.Source.ID, Target: e.Dest.ID, Traffic: edgeTraffic(e), HealthStatus: e.HealthStatus, Compare: cyDeltaOf(e.Compare)}
		if e.HasMTLS {
			d.IsMTLS = percent(e.MTLS)
			d.SourcePrincipal, d.DestPrincipal = e.SourcePrincipal, e.DestPrincipal
		}
		if e.HasResponseTime {
			d.ResponseTime = rate(e.ResponseTime)
		}
		if e.HasThroughput {
			d.Throughput = rate(e.Throughput)
		}
		out = append(out, cyEdge{Data: d})
	}
	return out
}

// WriteJSON writes the graph as Cytoscape elements, in the shape of Kiali's
// graph API; indent "" writes it compact, as an API should.
func (g *Graph) WriteJSON(w io.Writer, indent string) error {
	if indent == "" {
		// The nodes and the edges of a large graph are megabytes each:
		// they are built and encoded at once, each into its own buffer.
		var (
			wg    sync.WaitGroup
			nodes []byte
			err   error
		)
		sorted := g.Nodes()
		wg.Go(func() { nodes, err = compactJSON(g.cyNodes(sorted), len(g.nodes)) })
		edges, edgesErr := compactJSON(g.cyEdges(g.edgesAlong(sorted)), len(g.edges))
		wg.Wait()
		if err := errors.Join(err, edgesErr); err != nil {
			return err
		}
		st := jsoniter.NewStream(cytoscapeJSON, w, len(nodes)+len(edges)+1024)
		st.WriteVal(cytoscapeGraph(g, rawElements{Nodes: nodes, Edges: edges}))
		st.WriteRaw("\n")
		if st.Error != nil {
			return st.Error
		}
		return st.Flush()
	}
	b, err := cytoscapeJSON.Marshal(g.cytoscape())
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", indent); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// compactJSON encodes v, a list of n elements, into one buffer of about
// its size: growing it by doubling copied megabytes.
func compactJSON(v any, n int) ([]byte, error) {
	st := jsoniter.NewStream(cytoscapeJSON, nil, 512*n+64)
	st.WriteVal(v)
	return st.Buffer(), st.Error
}

// cytoscapeJSON writes what encoding/json writes (map keys sorted, HTML
// escaped), in half the time: large graphs are megabytes. Its own
// indentation of nested maps is off, so encoding/json indents.
var cytoscapeJSON = jsoniter.ConfigCompatibleWithStandardLibrary
