package metrics

// Dashboard is a page of charts, in the shape of Kiali's monitoring
// dashboards (/api/namespaces/{ns}/{kind}/{name}/dashboard): what a
// details page draws in one request.
type Dashboard struct {
	Title        string        `json:"title"`
	Charts       []Chart       `json:"charts"`
	Aggregations []Aggregation `json:"aggregations"`
	// Rows are the rows the charts take, Spans their widths out of 12.
	Rows int `json:"rows"`
}

// Chart is one metric's series, with how to draw them.
type Chart struct {
	Name    string   `json:"name"`
	Unit    string   `json:"unit"`
	Spans   int      `json:"spans"`
	Metrics []Metric `json:"metrics"`
	// Error says why a chart that was asked for has no series.
	Error string `json:"error,omitempty"`
}

// Aggregation is a label the page may split the series by.
type Aggregation struct {
	Label       string `json:"label" yaml:"label"`
	DisplayName string `json:"displayName" yaml:"displayName"`
}

// charts are the dashboard's charts in order: the metric each draws, its
// title and unit (rates per second: ops, bytes, messages, connections).
var charts = []struct{ metric, name, unit string }{
	{RequestCount, "Request volume", "ops"},
	{RequestErrorCount, "Request errors", "ops"},
	{RequestDuration, "Request duration", "ms"},
	{RequestSize, "Request size", "bytes"},
	{ResponseSize, "Response size", "bytes"},
	{RequestThroughput, "Request throughput", "Bps"},
	{ResponseThroughput, "Response throughput", "Bps"},
	{GRPCReceived, "gRPC received", "msgrate"},
	{GRPCSent, "gRPC sent", "msgrate"},
	{TCPOpened, "TCP opened", "connrate"},
	{TCPClosed, "TCP closed", "connrate"},
	{TCPReceived, "TCP received", "Bps"},
	{TCPSent, "TCP sent", "Bps"},
}

// NewDashboard lays out an answer read with o: one chart for each metric
// o asked for, titled by direction, with the labels that split the
// series on this side (the local entity's version, the remote one's
// namespace, app and version, the answer's code, status and flags).
func NewDashboard(a *Answer, o Options) Dashboard {
	d := Dashboard{Title: "Inbound Metrics", Rows: 2, Charts: []Chart{}}
	local, remote := "destination", "source"
	remoteNamespace := "source_workload_namespace"
	if o.Direction == "outbound" {
		d.Title = "Outbound Metrics"
		local, remote = "source", "destination"
		remoteNamespace = "destination_service_namespace"
	}
	asked := map[string]bool{}
	for _, f := range o.Filters {
		asked[f] = true
	}
	for _, c := range charts {
		if len(asked) > 0 && !asked[c.metric] {
			continue
		}
		series := a.Metrics[c.metric]
		if series == nil {
			series = []Metric{}
		}
		d.Charts = append(d.Charts, Chart{Name: c.name, Unit: c.unit, Spans: 4, Metrics: series})
	}
	d.Aggregations = []Aggregation{
		{Label: local + "_canonical_revision", DisplayName: "Local version"},
		{Label: remoteNamespace, DisplayName: "Remote namespace"},
		{Label: remote + "_canonical_service", DisplayName: "Remote app"},
		{Label: remote + "_canonical_revision", DisplayName: "Remote version"},
		{Label: "response_code", DisplayName: "Response code"},
		{Label: "grpc_response_status", DisplayName: "GRPC status"},
		{Label: "response_flags", DisplayName: "Response flags"},
	}
	return d
}
