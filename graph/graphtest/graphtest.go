// Package graphtest holds the graph's semantics cases: series written by hand, as Istio's sidecars report
// them, loaded in promqltest's notation; the graph asked of them at one
// time; the edges it must show, worked out from how Envoy counts and
// written beside the input. The graph's tests run every case twice: from
// the raw series, and after the recording rules were evaluated over the same
// series (by Prometheus's rule manager, every scrape interval) and read back;
// the command line's tests run them through `meshlens graph` against
// Debian's Prometheus holding the same series.
//
// Series are written with traffictest's src and dst shorthands.
//
// Expected edges are one a line: "source -> destination protocol key=value
// ...", with Kiali's rate keys (http, http3xx, http4xx, http5xx,
// httpNoResponse, grpc, grpcErr, grpcNoResponse, tcp) and rt (response
// time, ms), tp (throughput, B/s), mtls (%); a key left out is zero or
// absent. Nodes are named as the graph type draws them; a service node is
// "name(svc)", a versioned app "app:version".
package graphtest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/traffic/traffictest"
)

const (
	// Interval is the scrape interval of every case's series.
	Interval = 15 * time.Second
	// At is when every case asks for its graph (Unix seconds): ten minutes
	// of series from 0s.
	At = 600
)

// Case is one semantics case.
type Case struct {
	Name string
	// Load is the series, in promqltest's load notation with the src and
	// dst shorthands (see ExpandSeries).
	Load string
	// Options are the graph's; Namespaces default to bookinfo, Type to
	// workload, Duration to a minute.
	Options graph.Options
	// Want are the edges the graph must show, one a line.
	Want string
	// RecordedTolerance is how far (relative) a response time or
	// throughput read from the recorded series may be from the expected
	// value; 0 means 1e-6. Request and TCP rates always come from the raw
	// series.
	RecordedTolerance float64
	// The rules are evaluated every RulesInterval (default Interval) from
	// RulesFrom to RulesUntil (Unix seconds; default from the first
	// interval to At).
	RulesFrom, RulesUntil int64
	RulesInterval         time.Duration
	// RecordedWarning, when set, is in a warning of the recorded path's
	// graph; RecordedSource, when set, is where its throughput came from.
	RecordedWarning, RecordedSource string
	// Warning, when set, is in a warning of both paths' graphs.
	Warning string
}

// GraphOptions are the case's options with their defaults, for a graph at
// At.
func (c Case) GraphOptions() graph.Options {
	o := c.Options
	if o.Namespaces == nil {
		o.Namespaces = []string{"bookinfo"}
	}
	if o.Type == "" {
		o.Type = graph.TypeWorkload
	}
	if o.Duration == 0 {
		o.Duration = time.Minute
	}
	o.QueryTime = time.Unix(At, 0)
	return o
}

var Cases = []Case{
	{
		Name: "a request both sidecars report counts once",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
`,
		Want: `productpage-v1 -> reviews-v1 http http=1 mtls=100`,
	},
	{
		// Istio's delay fault: the caller's sidecar holds the request, then
		// sends it; the destination answers it as any other.
		Name: "a delayed request (DI at the caller) counts once",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1", response_flags="DI"} 0+15x40
`,
		Want: `productpage-v1 -> reviews-v1 http http=1 mtls=100`,
	},
	{
		// Envoy retries a 503 twice (Istio's default policy): the
		// destination reports three attempts, the caller one request
		// that exhausted its retries. The edge counts the attempts.
		Name: "a retried request counts its attempts, not attempts plus the final answer",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503"} 0+45x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="URX"} 0+15x40
`,
		Want: `productpage-v1 -> reviews-v2 http http=3 http5xx=3 mtls=100`,
	},
	{
		Name: "the same failure reported by both sides with the same code and flags counts once",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="UF"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="UF"} 0+15x40
`,
		Want: `productpage-v1 -> reviews-v2 http http=2 http5xx=1 mtls=100`,
	},
	{
		// The caller could not connect: only it reports, though it knew
		// the destination workload from the endpoint's metadata.
		Name: "a request that never reached the destination (UF at the caller) counts from the caller",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="UF,URX"} 0+15x40
`,
		Want: `productpage-v1 -> reviews-v2 http http=2 http5xx=1 mtls=100`,
	},
	{
		// Istio's abort fault answers at the caller; no upstream host was
		// picked, so the caller knows only the service.
		Name: "an aborted request (FI at the caller) counts once, against the service",
		Load: `
load 15s
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/ratings", response_code="500", response_flags="FI"} 0+30x40
`,
		Options: graph.Options{InjectServiceNodes: true},
		Want:    `productpage-v1 -> ratings(svc) http http=2 http5xx=2`,
	},
	{
		// The caller's route timeout fires: it answers 504 UT; the
		// destination saw its caller go away before it answered (code 0,
		// DC). One request, no response.
		Name: "a timed-out request counts once, as the destination saw it",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v3", response_code="0", response_flags="DC"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v3", response_code="504", response_flags="UT"} 0+15x40
`,
		Want: `productpage-v1 -> reviews-v3 http http=1 httpNoResponse=1 mtls=100`,
	},
	{
		Name: "a caller without a sidecar whose requests got no response still shows",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="unknown", dst="bookinfo/productpage/productpage-v1", response_code="0", response_flags="DC"} 0+15x40
  istio_requests_total{reporter="destination", src="unknown", dst="bookinfo/productpage/productpage-v1"} 0+45x40
`,
		Want: `unknown -> productpage-v1 http http=4 httpNoResponse=1 mtls=0`,
	},
	{
		Name: "a caller from a namespace not asked for, into a service without a sidecar, shows",
		Load: `
load 15s
  istio_requests_total{reporter="source", src="frontend/web-v1", dst="bookinfo/legacy"} 0+15x40
`,
		Options: graph.Options{InjectServiceNodes: true},
		Want:    `web-v1 -> legacy(svc) http http=1`,
	},
	{
		Name: "a request to an external host counts from the caller",
		Load: `
load 15s
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="httpbin.org"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="PassthroughCluster", response_code="404"} 0+15x40
`,
		Want: `productpage-v1 -> httpbin.org(svc) http http=1
productpage-v1 -> PassthroughCluster(svc) http http=1 http4xx=1`,
	},
	{
		Name: "the mTLS share is what the destinations report",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+45x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", connection_security_policy="none"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+60x40
`,
		Want: `productpage-v1 -> details-v1 http http=4 mtls=75`,
	},
	{
		Name: "gRPC errors come from grpc_response_status",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+45x40
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="14"} 0+15x40
`,
		Options: graph.Options{Namespaces: []string{"shop"}},
		Want:    `cart-v1 -> stock-v1 grpc grpc=4 grpcErr=1 mtls=100`,
	},
	{
		// A gRPC stream: one request, many messages each way. rateGrpc
		// counts messages in place of requests, as Kiali's.
		Name: "rateGrpc=total counts a stream's messages both ways instead of its requests",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+1x40
  istio_request_messages_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+150x40
  istio_response_messages_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+300x40
  istio_request_messages_total{reporter="source", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+150x40
`,
		Options: graph.Options{Namespaces: []string{"shop"}, RateGRPC: graph.RateTotal},
		Want:    `cart-v1 -> stock-v1 grpc grpc=30 mtls=100`,
	},
	{
		Name: "rateGrpc=sent counts the messages the caller sent",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+1x40
  istio_request_messages_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+150x40
  istio_response_messages_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+300x40
`,
		Options: graph.Options{Namespaces: []string{"shop"}, RateGRPC: graph.RateSent},
		Want:    `cart-v1 -> stock-v1 grpc grpc=10 mtls=100`,
	},
	{
		// Two streams of one edge, one over mutual TLS and one not, a
		// request each: with rateGrpc=sent the edge's rate is messages,
		// and its mTLS share weighs them too (9 of 10 messages per
		// second), as Kiali's does; by requests it would be half.
		Name: "with rateGrpc=sent the mTLS share weighs the messages the rate counts",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+15x40
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0", connection_security_policy="none"} 0+15x40
  istio_request_messages_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+135x40
  istio_request_messages_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0", connection_security_policy="none"} 0+15x40
`,
		Options: graph.Options{Namespaces: []string{"shop"}, RateGRPC: graph.RateSent},
		Want:    `cart-v1 -> stock-v1 grpc grpc=10 mtls=90`,
	},
	{
		// Only the caller's bytes: a stream that sends and gets nothing
		// back. rateTcp=sent (the default) reads what the destination
		// received.
		// The mTLS share weighs the bytes the edge's rate counts, as the
		// destination reports them. (Kiali's security appender reads the
		// other counter than its rate, istio_tcp_sent_bytes_total for
		// rateTcp=sent, and so shows no mTLS on a one-way stream.)
		Name: "a one-way TCP stream shows with the bytes the caller sent",
		Load: `
load 15s
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
  istio_tcp_received_bytes_total{reporter="source", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
`,
		Want: `ratings-v1 -> mongodb-v1 tcp tcp=100 mtls=100`,
	},
	{
		Name: "rateTcp=received reads the bytes the destination sent",
		Load: `
load 15s
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
  istio_tcp_sent_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+3000x40
`,
		Options: graph.Options{RateTCP: graph.RateReceived},
		Want:    `ratings-v1 -> mongodb-v1 tcp tcp=200 mtls=100`,
	},
	{
		Name: "rateTcp=total adds both directions, even where one has no series",
		Load: `
load 15s
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+1500x40
  istio_tcp_sent_bytes_total{reporter="destination", src="bookinfo/ratings-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+3000x40
  istio_tcp_received_bytes_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/mongodb/mongodb-v1"} 0+150x40
`,
		Options: graph.Options{RateTCP: graph.RateTotal},
		Want: `ratings-v1 -> mongodb-v1 tcp tcp=300 mtls=100
reviews-v1 -> mongodb-v1 tcp tcp=10 mtls=100`,
	},
	{
		Name: "rateHttp=none leaves HTTP edges out, gRPC in",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="shop/web-v1", dst="shop/cart/cart-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="shop/cart-v1", dst="shop/stock/stock-v1", request_protocol="grpc", grpc_response_status="0"} 0+15x40
`,
		Options: graph.Options{Namespaces: []string{"shop"}, RateHTTP: graph.RateNone},
		Want:    `cart-v1 -> stock-v1 grpc grpc=1 mtls=100`,
	},
	{
		Name: "an edge between namespaces shows in the graph of either",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="frontend/web-v1", dst="bookinfo/productpage/productpage-v1"} 0+15x40
  istio_requests_total{reporter="source", src="frontend/web-v1", dst="bookinfo/productpage/productpage-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+30x40
`,
		Options: graph.Options{Namespaces: []string{"frontend"}},
		Want:    `web-v1 -> productpage-v1 http http=1 mtls=100`,
	},
	{
		Name: "the app graph adds an app's versions into one edge",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="500"} 0+15x40
`,
		Options: graph.Options{Type: graph.TypeApp},
		Want:    `productpage -> reviews http http=2 http5xx=1 mtls=100`,
	},
	{
		Name: "the versioned app graph with service nodes goes through the service",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+30x40
`,
		Options: graph.Options{Type: graph.TypeVersionedApp, InjectServiceNodes: true},
		Want: `productpage:v1 -> reviews(svc) http http=3 mtls=100
reviews(svc) -> reviews:v1 http http=1 mtls=100
reviews(svc) -> reviews:v2 http http=2 mtls=100`,
	},
	{
		Name: "the service graph draws callers behind a service as that service",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v1", dst="bookinfo/ratings/ratings-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="istio-system/istio-ingressgateway", dst="bookinfo/productpage/productpage-v1"} 0+15x40
`,
		Options: graph.Options{Type: graph.TypeService},
		Want: `istio-ingressgateway -> productpage(svc) http http=1 mtls=100
productpage(svc) -> reviews(svc) http http=1 mtls=100
reviews(svc) -> ratings(svc) http http=1 mtls=100`,
	},
	{
		// reviews-v2's sidecar reports its own calls as their source too,
		// counted once (Kiali's node graph finds a workload's callees by
		// those reports).
		Name: "a workload's node graph shows its callers through its service and its callees behind theirs",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} 0+30x40
  istio_requests_total{reporter="source", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} 0+30x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v3", dst="bookinfo/ratings/ratings-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
`,
		Options: graph.Options{InjectServiceNodes: true, Focus: &graph.Focus{Namespace: "bookinfo", Kind: "workloads", Name: "reviews-v2"}},
		Want: `productpage-v1 -> reviews(svc) http http=2 mtls=100
reviews(svc) -> reviews-v2 http http=2 mtls=100
reviews-v2 -> ratings(svc) http http=2 mtls=100
ratings(svc) -> ratings-v1 http http=2 mtls=100`,
	},
	{
		// The store began scraping at 480 s (its first up): a 10 m window
		// holds 2 m of data, and a rate over it reads a fifth of the truth.
		Name: "a window longer than the store's data says how much of it has data",
		Load: `
load 15s
  up{job="sidecars", instance="productpage"} _x32 1x8
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} _x32 0+15x8
`,
		Options: graph.Options{Duration: 10 * time.Minute},
		Want:    `productpage-v1 -> details-v1 http http=0.2 mtls=100`,
		Warning: "holds data for only about 2m15s of the 10m window",
	},
	{
		// A counter that restarts (the sidecar restarted and had counted
		// 15 requests by its first scrape) loses nothing: rate sees the
		// reset.
		Name: "a counter reset inside the window keeps the rate",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x37 15+15x3
`,
		Want: `productpage-v1 -> details-v1 http http=1 mtls=100`,
	},
	{
		Name: "response times and throughput from the destination's histograms",
		Load: `
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
		Want: `productpage-v1 -> details-v1 http http=1 rt=77.5 tp=200 mtls=100`,
	},
	{
		// Over two namespaces the raw quantiles are asked in two shares of
		// them: the same answer.
		Name: "response times of edges into two namespaces",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="10"} 0+15x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="+Inf"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="shop/cart/cart-v1"} 0+30x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="shop/cart/cart-v1", le="10"} 0+15x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="shop/cart/cart-v1", le="100"} 0+30x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="shop/cart/cart-v1", le="+Inf"} 0+30x40
`,
		Options: graph.Options{Namespaces: []string{"bookinfo", "shop"}},
		// details: all under 10 ms, p95 at 9.5 ms; cart: half under 10, the
		// rest under 100: 10 + 90 × 0.9/1 = 91 ms.
		Want: `productpage-v1 -> details-v1 http http=1 rt=9.5 mtls=100
productpage-v1 -> cart-v1 http http=2 rt=91 mtls=100`,
	},
	{
		Options: graph.Options{ResponseTime: "avg"},
		Name:    "the average response time is the histogram's sum over its count",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_duration_milliseconds_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+300x40
  istio_request_duration_milliseconds_count{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
`,
		Want: `productpage-v1 -> details-v1 http http=1 rt=20 mtls=100`,
	},
	{
		// A slow ruler evaluates every 30 s what is scraped every 15 s: a
		// one-minute graph reads its series (rates over 60 s).
		Name: "rules evaluated less often than the scrape interval are read",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
`,
		RulesInterval: 30 * time.Second,
		Want:          `productpage-v1 -> details-v1 http http=1 tp=200 mtls=100`,
	},
	{
		// The edge's series end at 570 s. Raw: two samples in (540, 600],
		// extrapolated 15 s back and 7.5 s on: 37.5 requests in 60 s.
		// Recorded: 200 B/s at the four evaluations that saw two samples
		// (525 to 570 s), summed over the six evaluations of the 90 s read
		// and divided by six: 133 B/s, where the rate while the edge lived
		// (200 B/s, what an average over its own samples gives) would be
		// 1.6 times the raw value. The two extrapolate apart: within 10 %.
		Name: "an edge that ends inside the window keeps its throughput in step with its requests",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x38
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x38
`,
		Want:              `productpage-v1 -> details-v1 http http=0.625 tp=125 mtls=100`,
		RecordedTolerance: 0.1,
	},
	{
		// The scrape of details at 570 s was missed: each of its series
		// lacks that sample. Raw: 555, 585 and 600 s in (540, 600], 45
		// requests in 45 s, extrapolated back to 540 s: 1 rps. Recorded: a
		// rate over 30 s has one sample at the evaluations of 570 and 585 s,
		// so the edge has none there; it has one at the first two and the
		// last of the six evaluations the 90 s read holds, so it lived
		// through the window: the mean of its four samples, 200 B/s, not
		// their sum over six (133 B/s, the answer before). ratings's
		// series end at 570 s, as in the case above: it does not reach the
		// window's end, and takes its sum over the six (133 B/s against the
		// raw 125). Of the two, only ratings came or went.
		Name: "a scrape missed inside the window leaves an edge's recorded throughput and response time as the raw series give them",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x37 _ 585+15x1
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="10"} 0+15x37 _ 585+15x1
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="+Inf"} 0+15x37 _ 585+15x1
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x37 _ 117000+3000x1
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} 0+15x38
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", le="10"} 0+15x38
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", le="+Inf"} 0+15x38
  istio_request_bytes_sum{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} 0+3000x38
`,
		Want: `productpage-v1 -> details-v1 http http=1 rt=9.5 tp=200 mtls=100
reviews-v2 -> ratings-v1 http http=0.625 rt=9.5 tp=125 mtls=100`,
		RecordedTolerance: 0.1,
		RecordedWarning:   "1 edge had requests in only part of the 1m window",
	},
	{
		// ratings's series begin at 525 s: of the eight evaluations of a
		// 2 m window (495 to 600 s) it has a p95 at five (540 s on, when
		// a 30 s rate holds two of its samples), details at all eight.
		// Both edges answer under 10 ms: p95 9.5 ms either way, but the
		// recorded value of ratings is a mean over five intervals, and the
		// graph says so. ratings's rate: 75 requests from 525 to 600 s, not
		// extrapolated back past its zero: 75 / 120 s.
		Name: "an edge that came inside the window has its recorded response time called a mean over part of it",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="10"} 0+15x40
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1", le="+Inf"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} _x35 0+15x5
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", le="10"} _x35 0+15x5
  istio_request_duration_milliseconds_bucket{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1", le="+Inf"} _x35 0+15x5
`,
		Options: graph.Options{Duration: 2 * time.Minute},
		Want: `productpage-v1 -> details-v1 http http=1 rt=9.5 mtls=100
reviews-v2 -> ratings-v1 http http=0.625 rt=9.5 mtls=100`,
		RecordedWarning: "1 edge had requests in only part of the 2m window: its recorded response time is the mean of the p95s of the 15s intervals",
	},
	{
		// Evaluated at 570, 585 and 600 s only: three of the six
		// evaluations the 90 s read holds. Steady traffic: the same value.
		Name: "rules that started inside the window give the mean over what they covered, and say so",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
`,
		RulesFrom:       570,
		Want:            `productpage-v1 -> details-v1 http http=1 tp=200 mtls=100`,
		RecordedWarning: "evaluated 3 times of 6",
	},
	{
		// The ruler's last evaluation was at 585 s, before ratings's
		// series began: it has none recorded, and takes the raw ones; the
		// other edge keeps its recorded throughput.
		Name: "an edge the rules have not covered yet takes the raw series, the others keep the recorded",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} _x39 0+15x1
  istio_request_bytes_sum{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} _x39 0+1500x1
`,
		RulesUntil: 585,
		// ratings: two samples 15 s apart at the window's end; rate does
		// not extrapolate a counter back past where it was zero: 15
		// requests in 60 s.
		Want: `productpage-v1 -> details-v1 http http=1 tp=200 mtls=100
reviews-v2 -> ratings-v1 http http=0.25 tp=25 mtls=100`,
		RecordedSource: "recorded+raw",
	},
	{
		Name: "rules made for an interval shorter than the scrape interval are not read, and the graph says so",
		Load: `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_request_bytes_sum{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+3000x40
`,
		RulesInterval:   10 * time.Second,
		Want:            `productpage-v1 -> details-v1 http http=1 tp=200 mtls=100`,
		RecordedWarning: `meshlens rules --interval 15s`,
		RecordedSource:  "raw",
	},
}

// ExpandSeries writes out the src and dst shorthands of a load block (see
// traffictest.ExpandSeries).
func ExpandSeries(load string) (string, error) { return traffictest.ExpandSeries(load) }

// EdgeValues are a graph's edges ("source -> destination protocol") and
// their values by key.
type EdgeValues map[string]map[string]float64

// Has tells whether some edge has a value of key.
func (ev EdgeValues) Has(key string) bool {
	for _, v := range ev {
		if _, ok := v[key]; ok {
			return true
		}
	}
	return false
}

// ParseEdges reads a case's Want.
func ParseEdges(text string) (EdgeValues, error) {
	out := EdgeValues{}
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

func nodeName(kind graph.NodeKind, label, app, version string) string {
	switch {
	case kind == graph.KindService:
		return label + "(svc)"
	case kind == graph.KindApp && version != "":
		return app + ":" + version
	}
	return label
}

// Of are g's edges as the cases write them.
func Of(g *graph.Graph) EdgeValues {
	out := EdgeValues{}
	for _, e := range g.Edges() {
		key := nodeName(e.Source.Kind, e.Source.Label(), e.Source.App, e.Source.Version) + " -> " +
			nodeName(e.Dest.Kind, e.Dest.Label(), e.Dest.App, e.Dest.Version) + " " + e.Protocol
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

// rateKeys are the rate keys of Kiali's edge JSON the cases compare.
var rateKeys = []string{"http", "http3xx", "http4xx", "http5xx", "httpNoResponse", "grpc", "grpcErr", "grpcNoResponse", "tcp"}

// OfJSON are the edges of a graph in Kiali's JSON, as the cases write
// them. Its numbers are rounded, to two decimals for rates.
func OfJSON(b []byte) (EdgeValues, error) {
	var doc struct {
		Elements struct {
			Nodes []struct {
				Data struct {
					ID, NodeType, Workload, App, Version, Service string
				} `json:"data"`
			} `json:"nodes"`
			Edges []struct {
				Data struct {
					Source, Target, ResponseTime, Throughput, IsMTLS string
					Traffic                                          struct {
						Protocol string            `json:"protocol"`
						Rates    map[string]string `json:"rates"`
					} `json:"traffic"`
				} `json:"data"`
			} `json:"edges"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, n := range doc.Elements.Nodes {
		d := n.Data
		switch d.NodeType {
		case "service":
			names[d.ID] = d.Service + "(svc)"
		case "app":
			names[d.ID] = nodeName(graph.KindApp, d.App, d.App, d.Version)
		case "workload":
			names[d.ID] = d.Workload
		default:
			names[d.ID] = d.NodeType
		}
	}
	out := EdgeValues{}
	for _, e := range doc.Elements.Edges {
		d := e.Data
		v := map[string]float64{}
		put := func(key, s string) error {
			if s == "" {
				return nil
			}
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("edge %s -> %s: %s %q", names[d.Source], names[d.Target], key, s)
			}
			if x != 0 || key == "mtls" {
				v[key] = x
			}
			return nil
		}
		for _, k := range rateKeys {
			if err := put(k, d.Traffic.Rates[k]); err != nil {
				return nil, err
			}
		}
		for k, s := range map[string]string{"rt": d.ResponseTime, "tp": d.Throughput, "mtls": d.IsMTLS} {
			if err := put(k, s); err != nil {
				return nil, err
			}
		}
		out[names[d.Source]+" -> "+names[d.Target]+" "+d.Traffic.Protocol] = v
	}
	return out, nil
}

// Compare lists every edge and value of got that is not as want says,
// each value within tol(want) of it.
func Compare(got, want EdgeValues, tol func(want float64) float64) []string {
	var problems []string
	for _, k := range sortedKeys(want) {
		g, ok := got[k]
		if !ok {
			problems = append(problems, "missing edge "+k)
			continue
		}
		keys := slices.Sorted(slices.Values(append(sortedKeys(g), sortedKeys(want[k])...)))
		for _, key := range slices.Compact(keys) {
			w, wok := want[k][key]
			x, gok := g[key]
			switch {
			case !gok:
				problems = append(problems, fmt.Sprintf("%s: no %s, want %g", k, key, w))
			case !wok:
				problems = append(problems, fmt.Sprintf("%s: %s=%g, want none", k, key, x))
			case math.Abs(x-w) > tol(w):
				problems = append(problems, fmt.Sprintf("%s: %s=%g, want %g", k, key, x, w))
			}
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			problems = append(problems, "unexpected edge "+k)
		}
	}
	return problems
}

// Relative is a tolerance of r times the expected value.
func Relative(r float64) func(float64) float64 {
	return func(w float64) float64 { return r * math.Max(math.Abs(w), 1e-9) }
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
