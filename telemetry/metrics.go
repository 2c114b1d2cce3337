// Package telemetry is meshlens's contract with Istio: the names of the
// standard metrics and labels that sidecars emit, the histogram buckets they
// use, and the only place where PromQL is written (see Selector).
package telemetry

// Istio standard metrics, as emitted by every sidecar and gateway.
const (
	RequestsTotal               = "istio_requests_total"
	RequestDurationMilliseconds = "istio_request_duration_milliseconds"
	RequestBytes                = "istio_request_bytes"
	ResponseBytes               = "istio_response_bytes"
	TCPSentBytesTotal           = "istio_tcp_sent_bytes_total"
	TCPReceivedBytesTotal       = "istio_tcp_received_bytes_total"
	TCPConnectionsOpenedTotal   = "istio_tcp_connections_opened_total"
	TCPConnectionsClosedTotal   = "istio_tcp_connections_closed_total"
	// gRPC streaming message counters.
	RequestMessagesTotal  = "istio_request_messages_total"
	ResponseMessagesTotal = "istio_response_messages_total"
)

// Istio standard label names.
const (
	Reporter = "reporter"

	SourceWorkload          = "source_workload"
	SourceWorkloadNamespace = "source_workload_namespace"
	SourcePrincipal         = "source_principal"
	SourceApp               = "source_app"
	SourceVersion           = "source_version"
	SourceCanonicalService  = "source_canonical_service"
	SourceCanonicalRevision = "source_canonical_revision"
	SourceCluster           = "source_cluster"

	DestinationWorkload          = "destination_workload"
	DestinationWorkloadNamespace = "destination_workload_namespace"
	DestinationPrincipal         = "destination_principal"
	DestinationApp               = "destination_app"
	DestinationVersion           = "destination_version"
	DestinationService           = "destination_service"
	DestinationServiceName       = "destination_service_name"
	DestinationServiceNamespace  = "destination_service_namespace"
	DestinationCanonicalService  = "destination_canonical_service"
	DestinationCanonicalRevision = "destination_canonical_revision"
	DestinationCluster           = "destination_cluster"

	RequestProtocol          = "request_protocol"
	ResponseCode             = "response_code"
	GRPCResponseStatus       = "grpc_response_status"
	ResponseFlags            = "response_flags"
	ConnectionSecurityPolicy = "connection_security_policy"
)

// Values Istio gives some labels.
const (
	ReporterSource      = "source"
	ReporterDestination = "destination"

	// Unknown is what Istio writes where it does not know a peer's attribute.
	Unknown = "unknown"

	SecurityMutualTLS = "mutual_tls"
	SecurityNone      = "none"

	ProtocolHTTP = "http"
	ProtocolGRPC = "grpc"
	ProtocolTCP  = "tcp"

	// NoFlags is the response_flags value of a request Envoy saw complete normally.
	NoFlags = "-"

	// DefaultCluster is the cluster name Istio reports when none is configured.
	DefaultCluster = "Kubernetes"
)

// peerLabels are the labels describing one side of a request, without their
// source_/destination_ prefix; destination adds the service labels.
var peerLabels = []string{"workload", "workload_namespace", "principal", "app", "version", "canonical_service", "canonical_revision", "cluster"}

// RequestLabels is the full standard label set of the request metrics
// (istio_requests_total, the duration and size histograms, gRPC message counters).
var RequestLabels = buildLabels(RequestProtocol, ResponseCode, GRPCResponseStatus, ResponseFlags, ConnectionSecurityPolicy)

// TCPLabels is the standard label set of the TCP metrics: no response code.
var TCPLabels = buildLabels(RequestProtocol, ResponseFlags, ConnectionSecurityPolicy)

func buildLabels(extra ...string) []string {
	out := []string{Reporter}
	for _, l := range peerLabels {
		out = append(out, "source_"+l)
	}
	for _, l := range peerLabels {
		out = append(out, "destination_"+l)
	}
	out = append(out, DestinationService, DestinationServiceName, DestinationServiceNamespace)
	return append(out, extra...)
}

// StandardLabels returns the label names every series of metric carries,
// or nil when metric is not an Istio standard metric. Histogram series
// (_bucket, _sum, _count) carry their metric's labels (plus le).
func StandardLabels(metric string) []string {
	switch metric {
	case RequestsTotal, RequestMessagesTotal, ResponseMessagesTotal:
		return RequestLabels
	case TCPSentBytesTotal, TCPReceivedBytesTotal, TCPConnectionsOpenedTotal, TCPConnectionsClosedTotal:
		return TCPLabels
	}
	for _, h := range Histograms {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if metric == h+suffix {
				return RequestLabels
			}
		}
	}
	return nil
}

// Histograms are the standard metrics that sidecars emit as histograms.
var Histograms = []string{RequestDurationMilliseconds, RequestBytes, ResponseBytes}

// DefaultBuckets are the upper bounds (excluding +Inf) of Envoy's default
// histogram buckets, which sidecars use both for durations in milliseconds
// and for sizes in bytes.
var DefaultBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}
