package graph

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/meshlens/meshlens/promclient"
)

// The semantics suite: series written by hand, as Istio's sidecars report
// them, loaded in promqltest's notation; the graph asked of them at one
// time; the edges it must show, worked out from how Envoy counts and
// written beside the input. Every case runs twice: from the raw series, and
// after the recording rules were evaluated over the same series (by
// Prometheus's rule manager, every scrape interval) and read back.
//
// Series carry Istio's whole standard label set; to keep the cases
// readable, two labels stand for many:
//
//	src="ns/workload"           source_workload, source_workload_namespace,
//	                            source_canonical_service (the workload less
//	                            its -vN), source_canonical_revision (vN or
//	                            latest), source_cluster, source_principal;
//	                            src="unknown": a caller without a sidecar
//	dst="ns/service/workload"   the destination_service* labels of
//	                            service.ns.svc.cluster.local and the
//	                            destination workload's, as src
//	dst="ns/service"            a service whose workloads have no sidecar
//	dst="host"                  a host outside the mesh (httpbin.org,
//	                            PassthroughCluster)
//
// Labels not given take what a sidecar writes for a plain request:
// request_protocol http (tcp for the TCP counters), response_code 200,
// response_flags "-", connection_security_policy mutual_tls from the
// destination (none for a caller without a sidecar), unknown from the
// source.
//
// Expected edges are one a line: "source -> destination protocol key=value
// ...", with Kiali's rate keys (http, http3xx, http4xx, http5xx,
// httpNoResponse, grpc, grpcErr, grpcNoResponse, tcp) and rt (response
// time, ms), tp (throughput, B/s), mtls (%); a key left out is zero or
// absent. Nodes are named as the graph type draws them; a service node is
// "name(svc)", a versioned app "app:version".

const (
	semanticsInterval = 15 * time.Second
	// semanticsAt is when every case asks for its graph: ten minutes of
	// series from 0s.
	semanticsAt = 600
)

type semanticsCase struct {
	name string
	load string
	opts Options
	want string
	// recordedTolerance is how far (relative) a response time or
	// throughput read from the recorded series may be from the expected
	// value; 0 means 1e-6. Request and TCP rates always come from the raw
	// series.
	recordedTolerance float64
	// The rules are evaluated every rulesInterval (default 15s) from
	// rulesFrom to rulesUntil (Unix seconds; default from the first
	// interval to semanticsAt).
	rulesFrom, rulesUntil int64
	rulesInterval         time.Duration
	// recordedWarning, when set, is in a warning of the recorded path's
	// graph; recordedSource, when set, is where its throughput came from.
	recordedWarning, recordedSource string
	// warning, when set, is in a warning of both paths' graphs.
	warning string
}

var semanticsCases = []semanticsCase{
	{
		name: "a request both sidecars report counts once",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
`,
		want: `productpage-v1 -> reviews-v1 http http=1 mtls=100`,
	},
	{
		// Istio's delay fault: the caller's sidecar holds the request, then
		// sends it; the destination answers it as any other.
		name: "a delayed request (DI at the caller) counts once",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1", response_flags="DI"} 0+15x40
`,
		want: `productpage-v1 -> reviews-v1 http http=1 mtls=100`,
	},
	{
		// Envoy retries a 503 twice (Istio's default policy): the
		// destination reports three attempts, the caller one request
		// that exhausted its retries. The edge counts the attempts.
		name: "a retried request counts its attempts, not attempts plus the final answer",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503"} 0+45x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="URX"} 0+15x40
`,
		want: `productpage-v1 -> reviews-v2 http http=3 http5xx=3 mtls=100`,
	},
	{
		name: "the same failure reported by both sides with the same code and flags counts once",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="UF"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="UF"} 0+15x40
`,
		want: `productpage-v1 -> reviews-v2 http http=2 http5xx=1 mtls=100`,
	},
	{
		// The caller could not connect: only it reports, though it knew
		// the destination workload from the endpoint's metadata.
		name: "a request that never reached the destination (UF at the caller) counts from the caller",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="UF,URX"} 0+15x40
`,
		want: `productpage-v1 -> reviews-v2 http http=2 http5xx=1 mtls=100`,
	},
	{
		// Istio's abort fault answers at the caller; no upstream host was
		// picked, so the caller knows only the service.
		name: "an aborted request (FI at the caller) counts once, against the service",
		load: `
load 15s
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/ratings", response_code="500", response_flags="FI"} 0+30x40
`,
		opts: Options{InjectServiceNodes: true},
		want: `productpage-v1 -> ratings(svc) http http=2 http5xx=2`,
	},
	{
		// The caller's route timeout fires: it answers 504 UT; the
		// destination saw its caller go away before it answered (code 0,
		// DC). One request, no response.
		name: "a timed-out request counts once, as the destination saw it",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v3", response_code="0", response_flags="DC"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v3", response_code="504", response_flags="UT"} 0+15x40
`,
		want: `productpage-v1 -> reviews-v3 http http=1 httpNoResponse=1 mtls=100`,
	},
	{
		name: "a caller without a sidecar whose requests got no response still shows",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="unknown", dst="bookinfo/productpage/productpage-v1", response_code="0", response_flags="DC"} 0+15x40
  istio_requests_total{reporter="destination", src="unknown", dst="bookinfo/productpage/productpage-v1"} 0+45x40
`,
		want: `unknown -> productpage-v1 http http=4 httpNoResponse=1 mtls=0`,
	},
	{
		name: "a caller from a namespace not asked for, into a service without a sidecar, shows",
		load: `
load 15s
  istio_requests_total{reporter="source", src="frontend/web-v1", dst="bookinfo/legacy"} 0+15x40
`,
		opts: Options{InjectServiceNodes: true},
		want: `web-v1 -> legacy(svc) http http=1`,
	},
	{
		name: "a request to an external host counts from the caller",
		load: `
load 15s
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="httpbin.org"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="PassthroughCluster", response_code="404"} 0+15x40
`,
		want: `productpage-v1 -> httpbin.org(svc) http http=1
productpage-v1 -> PassthroughCluster(svc) http http=1 http4xx=1`,
	},
	{
		name: "the mTLS share is what the destinations report",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+45x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", connection_security_policy="none"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+60x40
`,
		want: `productpage-v1 -> details-v1 http http=4 mtls=75`,
	},
	{
		name: "gRPC errors come from grpc_response_status",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+45x40
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="14"} 0+15x40
`,
		opts: Options{Namespaces: []string{"shop"}},
		want: `cart-v1 -> stock-v1 grpc grpc=4 grpcErr=1 mtls=100`,
	},
	{
		// Only the caller's bytes: a stream that sends and gets nothing
		// back. rateTcp=sent (the default) reads what the destination
		// received.
		name: "a one-way TCP stream shows with the bytes the caller sent",
		load: `
load 15s
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
  istio_tcp_received_bytes_total{reporter="source", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
`,
		want: `ratings-v1 -> mongodb-v1 tcp tcp=100`,
	},
	{
		name: "rateTcp=received reads the bytes the destination sent",
		load: `
load 15s
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
  istio_tcp_sent_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+3000x40
`,
		opts: Options{RateTCP: RateReceived},
		want: `ratings-v1 -> mongodb-v1 tcp tcp=200`,
	},
	{
		name: "rateTcp=total adds both directions, even where one has no series",
		load: `
load 15s
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
  istio_tcp_sent_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+3000x40
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+150x40
`,
		opts: Options{RateTCP: RateTotal},
		want: `ratings-v1 -> mongodb-v1 tcp tcp=300
reviews-v1 -> mongodb-v1 tcp tcp=10`,
	},
	{
		name: "rateHttp=none leaves HTTP edges out, gRPC in",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="shop/web-v1", dst="shop/cart/cart-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+15x40
`,
		opts: Options{Namespaces: []string{"shop"}, RateHTTP: RateNone},
		want: `cart-v1 -> stock-v1 grpc grpc=1 mtls=100`,
	},
	{
		name: "an edge between namespaces shows in the graph of either",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="frontend/web-v1", dst="bookinfo/productpage/productpage-v1"} 0+15x40
  istio_requests_total{reporter="source", src="frontend/web-v1", dst="bookinfo/productpage/productpage-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+30x40
`,
		opts: Options{Namespaces: []string{"frontend"}},
		want: `web-v1 -> productpage-v1 http http=1 mtls=100`,
	},
	{
		name: "the app graph adds an app's versions into one edge",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
`,
		opts: Options{Type: TypeApp},
		want: `productpage -> reviews http http=2 http5xx=1 mtls=100`,
	},
	{
		name: "the versioned app graph with service nodes goes through the service",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+30x40
`,
		opts: Options{Type: TypeVersionedApp, InjectServiceNodes: true},
		want: `productpage:v1 -> reviews(svc) http http=3 mtls=100
reviews(svc) -> reviews:v1 http http=1 mtls=100
reviews(svc) -> reviews:v2 http http=2 mtls=100`,
	},
	{
		name: "the service graph draws callers behind a service as that service",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="istio-system/istio-ingressgateway", dst="bookinfo/productpage/productpage-v1"} 0+15x40
`,
		opts: Options{Type: TypeService},
		want: `istio-ingressgateway -> productpage(svc) http http=1 mtls=100
productpage(svc) -> reviews(svc) http http=1 mtls=100
reviews(svc) -> ratings(svc) http http=1 mtls=100`,
	},
	{
		name: "a workload's node graph shows its callers through its service and its callees behind theirs",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v3", dst="bookinfo/ratings/ratings-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
`,
		opts: Options{InjectServiceNodes: true, Focus: &Focus{Namespace: "bookinfo", Kind: "workloads", Name: "reviews-v2"}},
		want: `productpage-v1 -> reviews(svc) http http=2 mtls=100
reviews(svc) -> reviews-v2 http http=2 mtls=100
reviews-v2 -> ratings(svc) http http=2 mtls=100
ratings(svc) -> ratings-v1 http http=2 mtls=100`,
	},
	{
		// The store began scraping at 480 s (its first up): a 10 m window
		// holds 2 m of data, and a rate over it reads a fifth of the truth.
		name: "a window longer than the store's data says how much of it has data",
		load: `
load 15s
  up{job="sidecars", instance="productpage"} _x32 1x8
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} _x32 0+15x8
`,
		opts:    Options{Duration: 10 * time.Minute},
		want:    `productpage-v1 -> details-v1 http http=0.2 mtls=100`,
		warning: "holds data for only about 2m15s of the 10m window",
	},
	{
		// A counter that restarts (the sidecar restarted and had counted
		// 15 requests by its first scrape) loses nothing: rate sees the
		// reset.
		name: "a counter reset inside the window keeps the rate",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x37 15+15x3
`,
		want: `productpage-v1 -> details-v1 http http=1 mtls=100`,
	},
	{
		name: "response times and throughput from the destination's histograms",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="10"} 0+12x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="100"} 0+15x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="+Inf"} 0+15x40
  istio_request_duration_milliseconds_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+300x40
  istio_request_duration_milliseconds_count{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
`,
		// p95: 95 % of 1 rps is 0.95; 0.8 fall under 10 ms, the other 0.2
		// between 10 and 100: 10 + 90 × 0.15/0.2 = 77.5 ms.
		want: `productpage-v1 -> details-v1 http http=1 rt=77.5 tp=200 mtls=100`,
	},
	{
		opts: Options{ResponseTime: "avg"},
		name: "the average response time is the histogram's sum over its count",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_duration_milliseconds_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+300x40
  istio_request_duration_milliseconds_count{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
`,
		want: `productpage-v1 -> details-v1 http http=1 rt=20 mtls=100`,
	},
	{
		// The edge's series end at 570 s. Raw: two samples in (540, 600],
		// extrapolated 15 s back and 7.5 s on: 37.5 requests in 60 s.
		// Recorded: 200 B/s at the four evaluations that saw two samples
		// (525 to 570 s), summed over the six evaluations of the 90 s read
		// and divided by six: 133 B/s, where the rate while the edge lived
		// (200 B/s, what an average over its own samples gives) would be
		// 1.6 times the raw value. The two extrapolate apart: within 10 %.
		name: "an edge that ends inside the window keeps its throughput in step with its requests",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x38
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x38
`,
		want:              `productpage-v1 -> details-v1 http http=0.625 tp=125 mtls=100`,
		recordedTolerance: 0.1,
	},
	{
		// Evaluated at 570, 585 and 600 s only: three of the six
		// evaluations the 90 s read holds. Steady traffic: the same value.
		name: "rules that started inside the window give the mean over what they covered, and say so",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
`,
		rulesFrom:       570,
		want:            `productpage-v1 -> details-v1 http http=1 tp=200 mtls=100`,
		recordedWarning: "evaluated 3 times of 6",
	},
	{
		// The ruler's last evaluation was at 585 s, before ratings's
		// series began: it has none recorded, and takes the raw ones; the
		// other edge keeps its recorded throughput.
		name: "an edge the rules have not covered yet takes the raw series, the others keep the recorded",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} _x39 0+15x1
  istio_request_bytes_sum{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} _x39 0+1500x1
`,
		rulesUntil: 585,
		// ratings: two samples 15 s apart at the window's end; rate does
		// not extrapolate a counter back past where it was zero: 15
		// requests in 60 s.
		want: `productpage-v1 -> details-v1 http http=1 tp=200 mtls=100
reviews-v2 -> ratings-v1 http http=0.25 tp=25 mtls=100`,
		recordedSource: "recorded+raw",
	},
	{
		name: "rules made for another interval are not read, and the graph says so",
		load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
`,
		rulesInterval:   30 * time.Second,
		want:            `productpage-v1 -> details-v1 http http=1 tp=200 mtls=100`,
		recordedWarning: `meshlens rules --interval 15s`,
		recordedSource:  "raw",
	},
}

func TestSemantics(t *testing.T) {
	for _, tc := range semanticsCases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := parseEdgeLines(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			o := tc.opts
			if o.Namespaces == nil {
				o.Namespaces = []string{"bookinfo"}
			}
			if o.Type == "" {
				o.Type = TypeWorkload
			}
			if o.Duration == 0 {
				o.Duration = time.Minute
			}
			o.QueryTime = time.Unix(semanticsAt, 0)
			st := promqltest.LoadedStorage(t, expandSeries(t, tc.load))
			engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			querier := promclient.NewEngine(engine, st, semanticsInterval)

			raw := NewBuilder(querier, nil)
			g, err := raw.Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			compareEdges(t, "raw series", edgeLines(g), want, 1e-6)
			if w := tc.warning; w != "" && !strings.Contains(strings.Join(g.Warnings, "\n"), w) {
				t.Errorf("warnings %q, want one that says %q", g.Warnings, w)
			}

			ri := tc.rulesInterval
			if ri == 0 {
				ri = semanticsInterval
			}
			from, until := tc.rulesFrom, tc.rulesUntil
			if from == 0 {
				from = int64(ri / time.Second)
			}
			if until == 0 {
				until = semanticsAt
			}
			evaluateRules(t, st, engine, ri, from, until)
			recorded := NewBuilder(querier, nil)
			g, err = recorded.Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			tol := tc.recordedTolerance
			if tol == 0 {
				tol = 1e-6
			}
			compareEdges(t, "recorded series", edgeLines(g), want, tol)
			if want.has("rt") && testutil.ToFloat64(recorded.responseTimes.WithLabelValues("recorded")) != 1 {
				t.Error("the response times did not come from the recorded series")
			}
			wantSource := tc.recordedSource
			if wantSource == "" && want.has("tp") {
				wantSource = "recorded"
			}
			if wantSource != "" && testutil.ToFloat64(recorded.throughputs.WithLabelValues(wantSource)) != 1 {
				t.Errorf("the throughput did not come from %s", wantSource)
			}
			if w := tc.recordedWarning + tc.warning; w != "" && !strings.Contains(strings.Join(g.Warnings, "\n"), w) {
				t.Errorf("warnings %q, want one that says %q", g.Warnings, w)
			}
		})
	}
}

// evaluateRules evaluates the graph's recording rules over st, every
// interval from from to until (Unix seconds), as a Prometheus running them
// would, with Prometheus's own rule manager.
func evaluateRules(t *testing.T, st *teststorage.TestStorage, engine *promql.Engine, interval time.Duration, from, until int64) {
	t.Helper()
	file, err := RecordingRules(interval)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, st),
		AppendableV2: st,
		Queryable:    st,
		Context:      context.Background(),
		Parser:       parser.NewParser(parser.Options{}),
	})
	groups, errs := m.LoadGroups(interval, labels.EmptyLabels(), "", nil, false, path)
	if len(errs) > 0 {
		t.Fatalf("loading the rules: %v", errs)
	}
	for ts := time.Duration(from) * time.Second; ts <= time.Duration(until)*time.Second; ts += interval {
		for _, g := range groups {
			g.Eval(context.Background(), time.Unix(0, 0).Add(ts))
		}
	}
}

var (
	seriesLine = regexp.MustCompile(`^(\s*)([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}(.*)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"`)
	versioned  = regexp.MustCompile(`^(.*)-(v[0-9]+)$`)
)

// expandSeries writes out the src and dst shorthands of a load block into
// the labels Istio's sidecars write.
func expandSeries(t *testing.T, load string) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(load, "\n") {
		m := seriesLine.FindStringSubmatch(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		given := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[3], -1) {
			given[p[1]] = p[2]
		}
		if given["src"] == "" && given["dst"] == "" {
			out = append(out, line) // not an Istio series
			continue
		}
		l, err := istioLabels(m[2], given)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var pairs []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range l {
				if !yield(k) {
					return
				}
			}
		}) {
			pairs = append(pairs, k+"="+strconv.Quote(l[k]))
		}
		out = append(out, m[1]+m[2]+"{"+strings.Join(pairs, ", ")+"}"+m[4])
	}
	return strings.Join(out, "\n")
}

func istioLabels(metric string, given map[string]string) (map[string]string, error) {
	l := map[string]string{}
	peer := func(prefix, ns, workload string) {
		app, version := workload, "latest"
		if v := versioned.FindStringSubmatch(workload); v != nil {
			app, version = v[1], v[2]
		}
		cluster, principal := "Kubernetes", "spiffe://cluster.local/ns/"+ns+"/sa/bookinfo-"+app
		if workload == "unknown" {
			ns, app, version, cluster, principal = "unknown", "unknown", "unknown", "unknown", "unknown"
		}
		l[prefix+"workload"], l[prefix+"workload_namespace"] = workload, ns
		l[prefix+"canonical_service"], l[prefix+"canonical_revision"] = app, version
		l[prefix+"app"], l[prefix+"version"] = app, version
		l[prefix+"cluster"], l[prefix+"principal"] = cluster, principal
	}
	src, ok := given["src"]
	if !ok {
		return nil, fmt.Errorf("no src")
	}
	if src == "unknown" {
		peer("source_", "unknown", "unknown")
	} else {
		ns, wl, ok := strings.Cut(src, "/")
		if !ok {
			return nil, fmt.Errorf("src %q is not ns/workload", src)
		}
		peer("source_", ns, wl)
	}
	dst, ok := given["dst"]
	if !ok {
		return nil, fmt.Errorf("no dst")
	}
	parts := strings.Split(dst, "/")
	switch len(parts) {
	case 1: // a host outside the mesh
		peer("destination_", "unknown", "unknown")
		l["destination_service"], l["destination_service_name"], l["destination_service_namespace"] = parts[0], parts[0], "unknown"
	case 2, 3:
		ns, svc := parts[0], parts[1]
		l["destination_service"], l["destination_service_name"], l["destination_service_namespace"] = svc+"."+ns+".svc.cluster.local", svc, ns
		if len(parts) == 3 {
			peer("destination_", ns, parts[2])
		} else {
			peer("destination_", "unknown", "unknown")
		}
	default:
		return nil, fmt.Errorf("dst %q", dst)
	}
	reporter := given["reporter"]
	if reporter != "source" && reporter != "destination" {
		return nil, fmt.Errorf("reporter %q", reporter)
	}
	l["reporter"] = reporter
	l["response_flags"] = "-"
	if strings.HasPrefix(metric, "istio_tcp_") {
		l["request_protocol"] = "tcp"
	} else {
		l["request_protocol"], l["response_code"] = "http", "200"
	}
	switch {
	case reporter == "source":
		l["connection_security_policy"] = "unknown"
	case src == "unknown":
		l["connection_security_policy"] = "none"
	default:
		l["connection_security_policy"] = "mutual_tls"
	}
	if reporter == "source" || src == "unknown" {
		l["source_principal"] = "unknown"
	}
	for k, v := range given {
		if k != "src" && k != "dst" {
			l[k] = v
		}
	}
	return l, nil
}

// edgeValues are an edge's values by key.
type edgeValues map[string]map[string]float64

func (ev edgeValues) has(key string) bool {
	for _, v := range ev {
		if _, ok := v[key]; ok {
			return true
		}
	}
	return false
}

func parseEdgeLines(text string) (edgeValues, error) {
	out := edgeValues{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != "->" {
			return nil, fmt.Errorf("edge line %q: want 'source -> destination protocol key=value...'", line)
		}
		key := strings.Join(f[:4], " ")
		out[key] = map[string]float64{}
		for _, kv := range f[4:] {
			k, v, ok := strings.Cut(kv, "=")
			x, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("edge line %q: %q is not key=number", line, kv)
			}
			out[key][k] = x
		}
	}
	return out, nil
}

func semanticsNodeName(n *Node) string {
	if n.Kind == KindService {
		return n.Label() + "(svc)"
	}
	if n.Kind == KindApp && n.Version != "" {
		return n.App + ":" + n.Version
	}
	return n.Label()
}

// edgeLines are g's edges as the cases write them.
func edgeLines(g *Graph) edgeValues {
	out := edgeValues{}
	for _, e := range g.Edges() {
		key := semanticsNodeName(e.Source) + " -> " + semanticsNodeName(e.Dest) + " " + e.Protocol
		v := map[string]float64{}
		for k, x := range map[string]float64{
			"http": e.Rates.HTTP, "http3xx": e.Rates.HTTP3xx, "http4xx": e.Rates.HTTP4xx, "http5xx": e.Rates.HTTP5xx,
			"httpNoResponse": e.Rates.HTTPNoResponse, "grpc": e.Rates.GRPC, "grpcErr": e.Rates.GRPCErr,
			"grpcNoResponse": e.Rates.GRPCNoResponse, "tcp": e.Rates.TCP,
		} {
			if x != 0 {
				v[k] = x
			}
		}
		if e.HasResponseTime {
			v["rt"] = e.ResponseTime
		}
		if e.HasThroughput {
			v["tp"] = e.Throughput
		}
		if e.HasMTLS {
			v["mtls"] = e.MTLS
		}
		out[key] = v
	}
	return out
}

// compareEdges reports every edge and value of got that is not as want
// says, values within tol (relative) of want.
func compareEdges(t *testing.T, path string, got, want edgeValues, tol float64) {
	t.Helper()
	var problems []string
	for _, k := range sortedKeys(want) {
		g, ok := got[k]
		if !ok {
			problems = append(problems, "missing edge "+k)
			continue
		}
		for _, key := range sortedKeys(union2(g, want[k])) {
			w, wok := want[k][key]
			x, gok := g[key]
			switch {
			case !gok:
				problems = append(problems, fmt.Sprintf("%s: no %s, want %g", k, key, w))
			case !wok:
				problems = append(problems, fmt.Sprintf("%s: %s=%g, want none", k, key, x))
			case math.Abs(x-w) > tol*math.Max(math.Abs(w), 1e-9):
				problems = append(problems, fmt.Sprintf("%s: %s=%g, want %g", k, key, x, w))
			}
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			problems = append(problems, "unexpected edge "+k)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s:\n  %s", path, strings.Join(problems, "\n  "))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func union2(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
