// Package grafana writes Istio's six Grafana dashboards as code (the titles,
// template variables and metrics users know from Istio's own; panels of our
// own), pushes them to a Grafana through its HTTP API, and makes the
// "View in Grafana" links the console shows.
package grafana

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The dashboards' titles, as Istio names them (and Kiali's config links
// to them by).
const (
	MeshTitle         = "Istio Mesh Dashboard"
	ServiceTitle      = "Istio Service Dashboard"
	WorkloadTitle     = "Istio Workload Dashboard"
	ControlPlaneTitle = "Istio Control Plane Dashboard"
	PerformanceTitle  = "Istio Performance Dashboard"
	WasmTitle         = "Istio Wasm Extension Dashboard"
)

// Dashboard is one dashboard, built.
type Dashboard struct {
	Title string
	UID   string
	// JSON is the dashboard model Grafana stores.
	JSON json.RawMessage
}

// datasource is every panel's datasource: the dashboard's variable.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// panel is a time series panel of one or more PromQL expressions, each
// with its legend.
func panel(title, unit string, width uint32, exprs ...string) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Unit(unit).Span(width).Height(8).Datasource(datasource)
	for i := 0; i+1 < len(exprs); i += 2 {
		p = p.WithTarget(prometheus.NewDataqueryBuilder().Expr(exprs[i]).LegendFormat(exprs[i+1]).RefId(string(rune('A' + i/2))))
	}
	return p
}

// variables every dashboard has: the Prometheus datasource, and its
// queries' label values.
func withDatasource(b *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
	return b.WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"))
}

func labelValues(name, label, query string) *dashboard.QueryVariableBuilder {
	q := fmt.Sprintf("label_values(%s, %s)", query, label)
	return dashboard.NewQueryVariableBuilder(name).Label(name).Datasource(datasource).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).Definition(q).Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
}

func base(title, uid, description string) *dashboard.DashboardBuilder {
	return withDatasource(dashboard.NewDashboardBuilder(title).Uid(uid).Description(description).
		Tags([]string{"istio", "meshlens"}).Time("now-30m", "now").Refresh("30s").Timezone(common.TimeZoneBrowser))
}

// All builds the six dashboards, each with a stable uid.
func All() ([]Dashboard, error) {
	builders := []struct {
		uid string
		b   *dashboard.DashboardBuilder
	}{
		{"meshlens-istio-mesh", mesh()},
		{"meshlens-istio-service", service()},
		{"meshlens-istio-workload", workload()},
		{"meshlens-istio-control-plane", controlPlane()},
		{"meshlens-istio-performance", performance()},
		{"meshlens-istio-wasm", wasm()},
	}
	var out []Dashboard
	for _, d := range builders {
		built, err := d.b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.uid, err)
		}
		// Every panel and row its own id, in order: Grafana links to panels
		// by id (viewPanel=N).
		for i, p := range built.Panels {
			id := uint32(i + 1)
			if p.Panel != nil {
				p.Panel.Id = &id
			}
			if p.RowPanel != nil {
				p.RowPanel.Id = id
			}
		}
		b, err := json.MarshalIndent(built, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.uid, err)
		}
		out = append(out, Dashboard{Title: *built.Title, UID: d.uid, JSON: b})
	}
	return out, nil
}

func mesh() *dashboard.DashboardBuilder {
	return base(MeshTitle, "meshlens-istio-mesh", "The whole mesh: request volume, success rate, errors, and the traffic of every service and workload.").
		WithRow(dashboard.NewRowBuilder("Global")).
		WithPanel(panel("Global request volume", "reqps", 6,
			`round(sum(rate(istio_requests_total{reporter=~"destination|waypoint"}[$__rate_interval])), 0.01)`, "requests")).
		WithPanel(panel("Global success rate (non-5xx responses)", "percentunit", 6,
			`sum(rate(istio_requests_total{reporter=~"destination|waypoint", response_code!~"5.."}[$__rate_interval])) / sum(rate(istio_requests_total{reporter=~"destination|waypoint"}[$__rate_interval]))`, "success rate")).
		WithPanel(panel("4xxs", "reqps", 6,
			`round(sum(rate(istio_requests_total{reporter=~"destination|waypoint", response_code=~"4.."}[$__rate_interval])), 0.01)`, "4xx")).
		WithPanel(panel("5xxs", "reqps", 6,
			`round(sum(rate(istio_requests_total{reporter=~"destination|waypoint", response_code=~"5.."}[$__rate_interval])), 0.01)`, "5xx")).
		WithRow(dashboard.NewRowBuilder("Services and workloads")).
		WithPanel(panel("HTTP/gRPC requests by destination service", "reqps", 12,
			`sum by (destination_service) (rate(istio_requests_total{reporter=~"destination|waypoint"}[$__rate_interval]))`, "{{destination_service}}")).
		WithPanel(panel("HTTP/gRPC requests by destination workload", "reqps", 12,
			`sum by (destination_workload_namespace, destination_workload) (rate(istio_requests_total{reporter="destination"}[$__rate_interval]))`, "{{destination_workload}}.{{destination_workload_namespace}}")).
		WithPanel(panel("TCP bytes received by destination workload", "Bps", 12,
			`sum by (destination_workload_namespace, destination_workload) (rate(istio_tcp_received_bytes_total{reporter="destination"}[$__rate_interval]))`, "{{destination_workload}}.{{destination_workload_namespace}}")).
		WithPanel(panel("TCP bytes sent by destination workload", "Bps", 12,
			`sum by (destination_workload_namespace, destination_workload) (rate(istio_tcp_sent_bytes_total{reporter="destination"}[$__rate_interval]))`, "{{destination_workload}}.{{destination_workload_namespace}}"))
}

func service() *dashboard.DashboardBuilder {
	sel := `reporter=~"destination|waypoint", destination_service=~"$service"`
	return base(ServiceTitle, "meshlens-istio-service", "One service: who calls it, how much, how fast, with which answers.").
		WithVariable(labelValues("namespace", "destination_service_namespace", "istio_requests_total")).
		WithVariable(labelValues("service", "destination_service", `istio_requests_total{destination_service_namespace=~"$namespace"}`)).
		WithRow(dashboard.NewRowBuilder("General")).
		WithPanel(panel("Client request volume", "reqps", 8, `round(sum(rate(istio_requests_total{`+sel+`}[$__rate_interval])), 0.01)`, "requests")).
		WithPanel(panel("Client success rate (non-5xx responses)", "percentunit", 8,
			`sum(rate(istio_requests_total{`+sel+`, response_code!~"5.."}[$__rate_interval])) / sum(rate(istio_requests_total{`+sel+`}[$__rate_interval]))`, "success rate")).
		WithPanel(panel("Client request duration", "ms", 8,
			`histogram_quantile(0.50, sum by (le) (rate(istio_request_duration_milliseconds_bucket{`+sel+`}[$__rate_interval])))`, "P50",
			`histogram_quantile(0.90, sum by (le) (rate(istio_request_duration_milliseconds_bucket{`+sel+`}[$__rate_interval])))`, "P90",
			`histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{`+sel+`}[$__rate_interval])))`, "P99")).
		WithRow(dashboard.NewRowBuilder("Client workloads")).
		WithPanel(panel("Incoming requests by source workload and response code", "reqps", 12,
			`round(sum by (source_workload, source_workload_namespace, response_code) (rate(istio_requests_total{`+sel+`}[$__rate_interval])), 0.01)`, "{{source_workload}}.{{source_workload_namespace}} : {{response_code}}")).
		WithPanel(panel("Incoming request size by source", "decbytes", 12,
			`histogram_quantile(0.90, sum by (source_workload, le) (rate(istio_request_bytes_bucket{`+sel+`}[$__rate_interval])))`, "{{source_workload}} P90")).
		WithPanel(panel("Response size by source", "decbytes", 12,
			`histogram_quantile(0.90, sum by (source_workload, le) (rate(istio_response_bytes_bucket{`+sel+`}[$__rate_interval])))`, "{{source_workload}} P90")).
		WithPanel(panel("Bytes received from incoming TCP connections", "Bps", 12,
			`round(sum by (source_workload) (rate(istio_tcp_received_bytes_total{`+sel+`}[$__rate_interval])), 0.01)`, "{{source_workload}}"))
}

func workload() *dashboard.DashboardBuilder {
	in := `reporter=~"destination|waypoint", destination_workload_namespace=~"$namespace", destination_workload=~"$workload"`
	out := `reporter=~"source|waypoint", source_workload_namespace=~"$namespace", source_workload=~"$workload"`
	return base(WorkloadTitle, "meshlens-istio-workload", "One workload: its inbound and its outbound traffic.").
		WithVariable(labelValues("namespace", "destination_workload_namespace", "istio_requests_total")).
		WithVariable(labelValues("workload", "destination_workload", `istio_requests_total{destination_workload_namespace=~"$namespace"}`)).
		WithRow(dashboard.NewRowBuilder("Inbound")).
		WithPanel(panel("Incoming request volume", "reqps", 8, `round(sum(rate(istio_requests_total{`+in+`}[$__rate_interval])), 0.01)`, "requests")).
		WithPanel(panel("Incoming success rate (non-5xx responses)", "percentunit", 8,
			`sum(rate(istio_requests_total{`+in+`, response_code!~"5.."}[$__rate_interval])) / sum(rate(istio_requests_total{`+in+`}[$__rate_interval]))`, "success rate")).
		WithPanel(panel("Incoming request duration", "ms", 8,
			`histogram_quantile(0.50, sum by (le) (rate(istio_request_duration_milliseconds_bucket{`+in+`}[$__rate_interval])))`, "P50",
			`histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{`+in+`}[$__rate_interval])))`, "P99")).
		WithPanel(panel("Incoming requests by source and response code", "reqps", 12,
			`round(sum by (source_workload, source_workload_namespace, response_code) (rate(istio_requests_total{`+in+`}[$__rate_interval])), 0.01)`, "{{source_workload}}.{{source_workload_namespace}} : {{response_code}}")).
		WithPanel(panel("Bytes received from incoming TCP connections", "Bps", 12,
			`round(sum by (source_workload) (rate(istio_tcp_received_bytes_total{`+in+`}[$__rate_interval])), 0.01)`, "{{source_workload}}")).
		WithRow(dashboard.NewRowBuilder("Outbound")).
		WithPanel(panel("Outgoing request volume", "reqps", 8, `round(sum(rate(istio_requests_total{`+out+`}[$__rate_interval])), 0.01)`, "requests")).
		WithPanel(panel("Outgoing success rate (non-5xx responses)", "percentunit", 8,
			`sum(rate(istio_requests_total{`+out+`, response_code!~"5.."}[$__rate_interval])) / sum(rate(istio_requests_total{`+out+`}[$__rate_interval]))`, "success rate")).
		WithPanel(panel("Outgoing requests by destination service and response code", "reqps", 8,
			`round(sum by (destination_service, response_code) (rate(istio_requests_total{`+out+`}[$__rate_interval])), 0.01)`, "{{destination_service}} : {{response_code}}"))
}

func controlPlane() *dashboard.DashboardBuilder {
	return base(ControlPlaneTitle, "meshlens-istio-control-plane", "istiod: its resources, xDS pushes and connections, and how fast proxies converge.").
		WithRow(dashboard.NewRowBuilder("Deployed versions and resources")).
		WithPanel(panel("Pilot versions", "short", 8, `sum by (tag) (istio_build{component="pilot"})`, "version ({{tag}})")).
		WithPanel(panel("Memory", "bytes", 8, `process_resident_memory_bytes{app="istiod"}`, "resident {{pod}}",
			`go_memstats_heap_alloc_bytes{app="istiod"}`, "heap {{pod}}")).
		WithPanel(panel("CPU", "short", 8, `sum by (pod) (irate(process_cpu_seconds_total{app="istiod"}[$__rate_interval]))`, "{{pod}}")).
		WithRow(dashboard.NewRowBuilder("Pushes")).
		WithPanel(panel("Pilot pushes", "ops", 8, `sum by (type) (irate(pilot_xds_pushes[$__rate_interval]))`, "{{type}}")).
		WithPanel(panel("Pilot errors", "short", 8, `sum by (type) (pilot_total_xds_rejects)`, "rejected {{type}}",
			`sum(pilot_total_xds_internal_errors)`, "internal errors")).
		WithPanel(panel("Proxy push time", "s", 8,
			`histogram_quantile(0.99, sum by (le) (rate(pilot_proxy_convergence_time_bucket[$__rate_interval])))`, "p99",
			`histogram_quantile(0.50, sum by (le) (rate(pilot_proxy_convergence_time_bucket[$__rate_interval])))`, "p50")).
		WithPanel(panel("XDS active connections", "short", 12, `sum(pilot_xds)`, "connections")).
		WithPanel(panel("Conflicts", "short", 12, `pilot_conflict_inbound_listener`, "inbound listeners",
			`pilot_conflict_outbound_listener_tcp_over_current_tcp`, "outbound listeners (tcp over current tcp)"))
}

func performance() *dashboard.DashboardBuilder {
	return base(PerformanceTitle, "meshlens-istio-performance", "What the mesh costs: proxy and control plane CPU and memory, against the traffic it carries.").
		WithRow(dashboard.NewRowBuilder("vCPU usage")).
		WithPanel(panel("vCPU per 1k requests (proxies)", "short", 12,
			`(sum(irate(container_cpu_usage_seconds_total{container="istio-proxy"}[$__rate_interval])) / (round(sum(irate(istio_requests_total{reporter="destination"}[$__rate_interval])), 0.001) / 1000))`, "proxies")).
		WithPanel(panel("vCPU (proxies and istiod)", "short", 12,
			`sum(rate(container_cpu_usage_seconds_total{container="istio-proxy"}[$__rate_interval]))`, "proxies",
			`sum(rate(process_cpu_seconds_total{app="istiod"}[$__rate_interval]))`, "istiod")).
		WithRow(dashboard.NewRowBuilder("Memory and data rates")).
		WithPanel(panel("Memory (proxies)", "bytes", 12,
			`sum(container_memory_working_set_bytes{container="istio-proxy"})`, "working set",
			`sum(envoy_server_memory_allocated)`, "envoy allocated")).
		WithPanel(panel("Bytes transferred", "Bps", 12,
			`sum(irate(istio_response_bytes_sum{reporter="destination"}[$__rate_interval]))`, "HTTP/gRPC",
			`sum(irate(istio_tcp_sent_bytes_total{reporter="destination"}[$__rate_interval])) + sum(irate(istio_tcp_received_bytes_total{reporter="destination"}[$__rate_interval]))`, "TCP"))
}

func wasm() *dashboard.DashboardBuilder {
	return base(WasmTitle, "meshlens-istio-wasm", "WebAssembly extensions in the proxies: VMs, remote fetches and the agent's module cache.").
		WithRow(dashboard.NewRowBuilder("Wasm VMs")).
		WithPanel(panel("Wasm active VMs", "short", 12,
			`avg(envoy_wasm_envoy_wasm_runtime_null_active)`, "native",
			`avg(envoy_wasm_envoy_wasm_runtime_v8_active)`, "v8")).
		WithPanel(panel("Wasm VM creations", "short", 12,
			`avg(rate(envoy_wasm_envoy_wasm_runtime_v8_created[$__rate_interval]))`, "v8")).
		WithRow(dashboard.NewRowBuilder("Remote modules")).
		WithPanel(panel("Wasm remote load fetches", "short", 12,
			`avg(envoy_wasm_remote_load_fetch_successes)`, "successes",
			`avg(envoy_wasm_remote_load_fetch_failures)`, "failures")).
		WithPanel(panel("Wasm module cache (istio-agent)", "short", 12,
			`avg(istio_agent_wasm_cache_entries)`, "entries",
			`avg(rate(istio_agent_wasm_cache_lookup_count{hit="true"}[$__rate_interval]))`, "hits",
			`avg(rate(istio_agent_wasm_remote_fetch_count{result!="success"}[$__rate_interval]))`, "fetch failures"))
}
