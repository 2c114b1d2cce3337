package graph

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/telemetry"
)

// endpoint is one side of a request as the telemetry names it.
type endpoint struct {
	cluster, namespace, workload, app, version string
}

// row is one sample of a traffic query.
type row struct {
	reporter string
	src, dst endpoint
	service  ServiceName
	host     string // destination_service
	protocol string
	code     string
	grpc     string
	flags    string
	// security
	policy, srcPrincipal, dstPrincipal string
	le                                 float64
	value                              float64
	// edge is the number of the row's edge key in the edgeIndex
	// numberedBy.
	edge       int32
	numberedBy *edgeIndex
}

// parseRow reads a sample's labels in one pass over them.
func parseRow(s promclient.Sample) row {
	r := row{value: s.Value}
	s.Metric.Range(func(l labels.Label) {
		switch l.Name {
		case telemetry.Reporter:
			r.reporter = l.Value
		case telemetry.SourceCluster:
			r.src.cluster = l.Value
		case telemetry.SourceWorkloadNamespace:
			r.src.namespace = l.Value
		case telemetry.SourceWorkload:
			r.src.workload = l.Value
		case telemetry.SourceCanonicalService:
			r.src.app = l.Value
		case telemetry.SourceCanonicalRevision:
			r.src.version = l.Value
		case telemetry.DestinationCluster:
			r.dst.cluster, r.service.Cluster = l.Value, l.Value
		case telemetry.DestinationWorkloadNamespace:
			r.dst.namespace = l.Value
		case telemetry.DestinationWorkload:
			r.dst.workload = l.Value
		case telemetry.DestinationCanonicalService:
			r.dst.app = l.Value
		case telemetry.DestinationCanonicalRevision:
			r.dst.version = l.Value
		case telemetry.DestinationServiceNamespace:
			r.service.Namespace = l.Value
		case telemetry.DestinationServiceName:
			r.service.Name = l.Value
		case telemetry.DestinationService:
			r.host = l.Value
		case telemetry.RequestProtocol:
			r.protocol = l.Value
		case telemetry.ResponseCode:
			r.code = l.Value
		case telemetry.GRPCResponseStatus:
			r.grpc = l.Value
		case telemetry.ResponseFlags:
			r.flags = l.Value
		case telemetry.ConnectionSecurityPolicy:
			r.policy = l.Value
		case telemetry.SourcePrincipal:
			r.srcPrincipal = l.Value
		case telemetry.DestinationPrincipal:
			r.dstPrincipal = l.Value
		case labels.BucketLabel:
			r.le, _ = strconv.ParseFloat(l.Value, 64)
		}
	})
	if r.service.Name == "" {
		r.service.Name = r.host
	}
	return r
}

func isUnknown(s string) bool { return s == "" || s == telemetry.Unknown }

func nodeID(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	var b [16]byte
	hex := strconv.AppendUint(b[:0], h.Sum64(), 16)
	return strings.Repeat("0", 16-len(hex)) + string(hex)
}

// builder turns rows into the nodes and edges of one graph type.
type builder struct {
	g      *Graph
	inject bool
	// fronts maps a workload to the services it was reached through, for
	// the service graph.
	fronts map[endpoint][]ServiceName
	// frozen: the traffic is in; later rows may only find nodes, not add them.
	frozen bool
	// byKey finds a node by its key and edgesByRef an edge by its ends
	// without hashing again: every row of every query looks them up.
	byKey      map[string]*Node
	byEndpoint map[endpoint]*Node
	edgesByRef map[edgeRef]*Edge
	// edges numbers the rows' edge keys.
	edges *edgeIndex
	// byEdgeKey are, by edge key number, the edges each
	// workload-to-workload edge of the requests flows along, as addRequests
	// found them, and its request rate: the appenders that run right after
	// read rows of the same edges, and find them with one lookup instead of
	// walking the path again.
	byEdgeKey []*keyEdges
	// pathBuf backs what path returns, one path at a time.
	pathBuf []*Node
}

// keyEdges are the graph's edges of one edgeKey and its request rate.
type keyEdges struct {
	edges    []*Edge
	requests float64
}

func (b *builder) node(key string, fill func(*Node)) *Node {
	if n, ok := b.byKey[key]; ok && b.g.nodes[n.ID] == n { // not removed since
		return n
	}
	id := nodeID(key)
	if n, ok := b.g.nodes[id]; ok {
		b.remember(key, n)
		return n
	}
	if b.frozen {
		return nil
	}
	n := &Node{ID: id}
	fill(n)
	b.g.nodes[id] = n
	b.remember(key, n)
	return n
}

func (b *builder) remember(key string, n *Node) {
	if b.byKey == nil {
		b.byKey = map[string]*Node{}
	}
	b.byKey[key] = n
}

func (b *builder) unknownNode() *Node {
	return b.node("unknown", func(n *Node) {
		n.Kind, n.Namespace, n.Workload, n.App, n.Service = KindUnknown, telemetry.Unknown, telemetry.Unknown, telemetry.Unknown, telemetry.Unknown
		n.Cluster = telemetry.Unknown
	})
}

func (b *builder) serviceNode(s ServiceName) *Node {
	return b.node("svc|"+s.Cluster+"|"+s.Namespace+"|"+s.Name, func(n *Node) {
		n.Kind, n.Cluster, n.Namespace, n.Service = KindService, s.Cluster, s.Namespace, s.Name
	})
}

// workloadNode is the node of e in the graph's type.
func (b *builder) workloadNode(e endpoint) *Node {
	if n, ok := b.byEndpoint[e]; ok && b.g.nodes[n.ID] == n {
		return n
	}
	n := b.newWorkloadNode(e)
	if n != nil {
		if b.byEndpoint == nil {
			b.byEndpoint = map[endpoint]*Node{}
		}
		b.byEndpoint[e] = n
	}
	return n
}

func (b *builder) newWorkloadNode(e endpoint) *Node {
	switch b.g.Type {
	case TypeApp:
		if !isUnknown(e.app) {
			return b.node("app|"+e.cluster+"|"+e.namespace+"|"+e.app, func(n *Node) {
				n.Kind, n.Cluster, n.Namespace, n.App = KindApp, e.cluster, e.namespace, e.app
			})
		}
	case TypeVersionedApp:
		if !isUnknown(e.app) {
			return b.node("app|"+e.cluster+"|"+e.namespace+"|"+e.app+"|"+e.version, func(n *Node) {
				n.Kind, n.Cluster, n.Namespace, n.App, n.Version = KindApp, e.cluster, e.namespace, e.app, e.version
				n.Workload = e.workload
			})
		}
	}
	return b.node("wl|"+e.cluster+"|"+e.namespace+"|"+e.workload, func(n *Node) {
		n.Kind, n.Cluster, n.Namespace, n.Workload, n.App, n.Version = KindWorkload, e.cluster, e.namespace, e.workload, e.app, e.version
	})
}

// path is the chain of nodes a row's traffic goes through, valid until the
// next call.
func (b *builder) path(r row) []*Node {
	var src *Node
	switch {
	case isUnknown(r.src.workload):
		src = b.unknownNode()
	case b.g.Type == TypeService:
		if fronts := b.fronts[r.src]; len(fronts) > 0 {
			// A workload behind a service is drawn as that service.
			src = b.serviceNode(fronts[0])
		} else {
			src = b.workloadNode(r.src)
		}
	default:
		src = b.workloadNode(r.src)
	}
	if b.g.Type == TypeService || isUnknown(r.dst.workload) {
		// Service graph, or a destination without a sidecar (an external
		// host, PassthroughCluster): the service is the end.
		b.pathBuf = append(b.pathBuf[:0], src, b.serviceNode(r.service))
		return b.pathBuf
	}
	dst := b.workloadNode(r.dst)
	if dst != nil {
		dst.addDestService(r.service)
	}
	if b.inject {
		b.pathBuf = append(b.pathBuf[:0], src, b.serviceNode(r.service), dst)
	} else {
		b.pathBuf = append(b.pathBuf[:0], src, dst)
	}
	return b.pathBuf
}

func (n *Node) addDestService(s ServiceName) {
	for _, have := range n.DestServices {
		if have == s {
			return
		}
	}
	n.DestServices = append(n.DestServices, s)
}

// edgeRef names an edge by its ends, to find it without hashing its ID.
type edgeRef struct {
	src, dst *Node
	protocol string
}

func (b *builder) edge(src, dst *Node, protocol string) *Edge {
	if e := b.findEdge(src, dst, protocol); e != nil {
		return e
	}
	id := nodeID(src.ID + ">" + dst.ID + ">" + protocol)
	e := &Edge{ID: id, Source: src, Dest: dst, Protocol: protocol}
	b.g.edges[id] = e
	if b.edgesByRef == nil {
		b.edgesByRef = map[edgeRef]*Edge{}
	}
	b.edgesByRef[edgeRef{src, dst, protocol}] = e
	return e
}

// findEdge is the edge from src to dst, if the graph still has it (dead
// nodes and service entries remove and merge edges).
func (b *builder) findEdge(src, dst *Node, protocol string) *Edge {
	if e, ok := b.edgesByRef[edgeRef{src, dst, protocol}]; ok && b.g.edges[e.ID] == e && e.Source == src && e.Dest == dst {
		return e
	}
	return nil
}

// edgesOf returns the edges a row's traffic flows along.
func (b *builder) edgesOf(r row, protocol string) []*Edge {
	p := b.path(r)
	out := make([]*Edge, 0, len(p)-1)
	for i := 0; i+1 < len(p); i++ {
		out = append(out, b.edge(p[i], p[i+1], protocol))
	}
	return out
}

// learnFronts records which services front which workloads, from request rows.
func (b *builder) learnFronts(rows []row) {
	b.fronts = map[endpoint][]ServiceName{}
	for _, r := range rows {
		if isUnknown(r.dst.workload) {
			continue
		}
		have := b.fronts[r.dst]
		found := false
		for _, s := range have {
			found = found || s == r.service
		}
		if !found {
			b.fronts[r.dst] = append(have, r.service)
		}
	}
}

// reserve sizes the graph's maps for about rows rows of traffic: a large
// graph's maps otherwise grow by doubling, rehashing every entry each time.
func (b *builder) reserve(rows int) {
	if len(b.g.nodes) > 0 || len(b.g.edges) > 0 {
		return
	}
	b.g.nodes = make(map[string]*Node, rows/2)
	b.g.edges = make(map[string]*Edge, rows)
	b.byKey = make(map[string]*Node, rows/2)
	b.byEndpoint = make(map[endpoint]*Node, rows/2)
	b.edgesByRef = make(map[edgeRef]*Edge, rows)
}

// addRequests adds HTTP and gRPC request rates.
func (b *builder) addRequests(rows []row) {
	b.number(rows)
	for _, r := range rows {
		if r.value <= 0 {
			continue
		}
		protocol := requestProtocol(r)
		ke := b.keyEdges(r.edge)
		if ke == nil {
			ke = &keyEdges{edges: b.edgesOf(r, protocol)}
			b.byEdgeKey[r.edge] = ke
		}
		ke.requests += r.value
		rates := requestRates(r, protocol)
		code := health.Code(protocol, r.code, r.grpc)
		for _, e := range ke.edges {
			e.Rates.add(rates)
			e.Responses.of(r.code).add(r.flags, r.host, r.value)
			e.codes.add(code, r.value)
		}
	}
}

// number numbers the edge keys of rows, in the plan's index when the
// builder has one.
func (b *builder) number(rows []row) {
	if b.edges == nil {
		b.edges = &edgeIndex{}
	}
	b.edges.number(rows)
	if n := b.edges.len() + 1; len(b.byEdgeKey) < n {
		b.byEdgeKey = append(b.byEdgeKey, make([]*keyEdges, n-len(b.byEdgeKey))...)
	}
}

// keyEdges are the edges of the edge key numbered id, nil when no request
// row had it.
func (b *builder) keyEdges(id int32) *keyEdges {
	if int(id) < len(b.byEdgeKey) {
		return b.byEdgeKey[id]
	}
	return nil
}

func requestRates(r row, protocol string) Rates {
	var rt Rates
	if protocol == telemetry.ProtocolGRPC {
		rt.GRPC = r.value
		switch {
		case r.code == "0":
			rt.GRPCNoResponse = r.value
		case r.grpc != "" && r.grpc != "0":
			rt.GRPCErr = r.value
		case r.grpc == "" && r.code != "200":
			rt.GRPCErr = r.value
		}
		return rt
	}
	rt.HTTP = r.value
	switch {
	case r.code == "0" || r.code == "":
		rt.HTTPNoResponse = r.value
	case r.code[0] == '3':
		rt.HTTP3xx = r.value
	case r.code[0] == '4':
		rt.HTTP4xx = r.value
	case r.code[0] == '5':
		rt.HTTP5xx = r.value
	}
	return rt
}

// addTCP adds TCP byte rates.
func (b *builder) addTCP(rows []row) {
	b.addStreams(rows, telemetry.ProtocolTCP, func(r *Rates, v float64) { r.TCP += v })
}

// addGRPCMessages adds gRPC message rates (rateGrpc sent, received,
// total) in place of gRPC request rates.
func (b *builder) addGRPCMessages(rows []row) {
	b.addStreams(rows, telemetry.ProtocolGRPC, func(r *Rates, v float64) { r.GRPC += v })
}

// addStreams adds rows of a rate that has no response codes (bytes,
// messages) to the edges of protocol.
func (b *builder) addStreams(rows []row, protocol string, add func(*Rates, float64)) {
	for _, r := range rows {
		if r.value <= 0 {
			continue
		}
		for _, e := range b.edgesOf(r, protocol) {
			add(&e.Rates, r.value)
			e.Responses.of("-").add(r.flags, r.host, r.value)
		}
	}
}

// requestEdges returns the edges r's HTTP or gRPC requests flow along that
// already carry traffic; appenders use it so that they never create an
// edge of their own. It holds for the appenders that run right after the
// traffic is in, before nodes are merged or removed, on rows numbered.
func (b *builder) requestEdges(r row) []*Edge {
	if ke := b.keyEdges(r.edge); ke != nil {
		return ke.edges
	}
	return b.existingEdges(r, requestProtocol(r))
}

// existingEdges returns the edges of r's path that already carry traffic.
func (b *builder) existingEdges(r row, protocol string) []*Edge {
	p := b.path(r)
	var out []*Edge
	for i := 0; i+1 < len(p); i++ {
		if p[i] == nil || p[i+1] == nil {
			continue
		}
		if e := b.findEdge(p[i], p[i+1], protocol); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// sumNodes sums each node's traffic over its edges.
func (g *Graph) sumNodes() {
	for _, n := range g.nodes {
		n.In, n.Out = Rates{}, Rates{}
	}
	for _, e := range g.edges {
		e.Source.Out.add(e.Rates)
		e.Dest.In.add(e.Rates)
	}
}

// edgeKey identifies the workload-to-workload edge of a row, whatever else
// (response code, flags) the row is split by.
type edgeKey struct {
	reporter, host, protocol string
	src, dst                 endpoint
	service                  ServiceName
}

func (r row) edgeKey() edgeKey {
	return edgeKey{reporter: r.reporter, host: r.host, protocol: requestProtocol(r), src: r.src, dst: r.dst, service: r.service}
}

// edgeIndex numbers the edge keys of a graph's rows, hashing each row's
// key once: a key is sixteen strings, and the rows of one edge are looked
// up in several sets (which edges have requests, which recorded series)
// and in the edges addRequests found, which numbered are slices.
type edgeIndex struct {
	ids map[edgeKey]int32
	// first is, by number less one, the first row of each key.
	first []*row
}

// number gives each row of rows not numbered by x yet its edge key's
// number.
func (x *edgeIndex) number(rows []row) {
	if x.ids == nil {
		x.ids = make(map[edgeKey]int32, len(rows))
	}
	for i := range rows {
		if rows[i].numberedBy == x {
			continue
		}
		k := rows[i].edgeKey()
		id, ok := x.ids[k]
		if !ok {
			x.first = append(x.first, &rows[i])
			id = int32(len(x.first))
			x.ids[k] = id
		}
		rows[i].edge, rows[i].numberedBy = id, x
	}
}

// len is how many keys x numbered.
func (x *edgeIndex) len() int { return len(x.first) }

// keySet is a set of edge key numbers.
type keySet []bool

func (s keySet) has(id int32) bool { return int(id) < len(s) && s[id] }
