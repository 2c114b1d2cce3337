package simulate

import (
	"fmt"
	"net/http"
	"time"
)

// IstioVersion is the Istio release the simulated control plane says it is.
const IstioVersion = "1.28.1"

// controlPlane serves what the mesh's other parts expose beside the
// sidecars' request metrics, on one page: istiod's own metrics (build,
// xDS connections and pushes, proxy convergence, process), the proxies'
// resource use as the kubelet's cAdvisor reports it, and Wasm extension
// metrics, summed over the mesh. Counters grow with time from the start,
// as a real control plane's would: what Istio's control plane,
// performance and Wasm dashboards read.
type controlPlane struct {
	start   time.Time
	proxies int
	now     func() time.Time
}

func newControlPlane(m *Mesh) *controlPlane {
	proxies := 0
	for _, w := range m.Workloads {
		if !w.NoSidecar {
			proxies++
		}
	}
	return &controlPlane{start: time.Now(), proxies: proxies, now: time.Now}
}

// controlPlaneTarget labels the control plane's page as Istio's Prometheus
// add-on labels istiod's pod.
func controlPlaneTarget(address, path string) Target {
	return Target{Address: address, MetricsPath: path, Labels: map[string]string{"namespace": "istio-system", "pod": "istiod-7d4f8b6c9-sim", "app": "istiod"}}
}

func (c *controlPlane) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	t := c.now().Sub(c.start).Seconds()
	n := float64(c.proxies)
	// Every proxy gets each of its four xDS types pushed about twice a
	// minute; nine in ten pushes converge within a second.
	pushes := n * t / 30
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# TYPE istio_build gauge")
	p(`istio_build{component="pilot",tag=%q} 1`, IstioVersion)
	p("# TYPE pilot_xds gauge")
	p(`pilot_xds{version=%q} %g`, IstioVersion, n)
	p("# TYPE pilot_xds_pushes counter")
	for _, typ := range []string{"cds", "eds", "lds", "rds"} {
		p(`pilot_xds_pushes{type=%q} %g`, typ, pushes)
	}
	p("# TYPE pilot_total_xds_rejects counter")
	p(`pilot_total_xds_rejects{type="cds"} 0`)
	p("# TYPE pilot_total_xds_internal_errors counter")
	p("pilot_total_xds_internal_errors 0")
	p("# TYPE pilot_proxy_convergence_time histogram")
	for _, b := range []struct {
		le    string
		share float64
	}{{"0.1", 0.5}, {"0.5", 0.8}, {"1", 0.9}, {"3", 0.98}, {"5", 0.99}, {"10", 1}, {"20", 1}, {"30", 1}, {"+Inf", 1}} {
		p(`pilot_proxy_convergence_time_bucket{le=%q} %g`, b.le, 4*pushes*b.share)
	}
	p("pilot_proxy_convergence_time_sum %g", 4*pushes*0.3)
	p("pilot_proxy_convergence_time_count %g", 4*pushes)
	p("# TYPE pilot_conflict_inbound_listener gauge")
	p("pilot_conflict_inbound_listener 0")
	p("# TYPE pilot_conflict_outbound_listener_tcp_over_current_tcp gauge")
	p("pilot_conflict_outbound_listener_tcp_over_current_tcp 0")
	p("# TYPE process_resident_memory_bytes gauge")
	p("process_resident_memory_bytes %g", 80e6+0.2e6*n)
	p("# TYPE go_memstats_heap_alloc_bytes gauge")
	p("go_memstats_heap_alloc_bytes %g", 40e6+0.1e6*n)
	p("# TYPE process_cpu_seconds_total counter")
	p("process_cpu_seconds_total %g", t*(0.02+0.0005*n))
	// The proxies, summed: cAdvisor's container series and Envoy's own.
	p("# TYPE container_cpu_usage_seconds_total counter")
	p(`container_cpu_usage_seconds_total{container="istio-proxy"} %g`, t*0.004*n)
	p("# TYPE container_memory_working_set_bytes gauge")
	p(`container_memory_working_set_bytes{container="istio-proxy"} %g`, 45e6*n)
	p("# TYPE envoy_server_memory_allocated gauge")
	p("envoy_server_memory_allocated %g", 18e6*n)
	// One Wasm extension in every proxy, fetched once per proxy.
	p("# TYPE envoy_wasm_envoy_wasm_runtime_null_active gauge")
	p("envoy_wasm_envoy_wasm_runtime_null_active %g", n)
	p("# TYPE envoy_wasm_envoy_wasm_runtime_v8_active gauge")
	p("envoy_wasm_envoy_wasm_runtime_v8_active %g", n)
	p("# TYPE envoy_wasm_envoy_wasm_runtime_v8_created counter")
	p("envoy_wasm_envoy_wasm_runtime_v8_created %g", n+t/60)
	p("# TYPE envoy_wasm_remote_load_fetch_successes counter")
	p("envoy_wasm_remote_load_fetch_successes %g", n)
	p("# TYPE envoy_wasm_remote_load_fetch_failures counter")
	p("envoy_wasm_remote_load_fetch_failures 0")
	p("# TYPE istio_agent_wasm_cache_entries gauge")
	p("istio_agent_wasm_cache_entries 1")
	p("# TYPE istio_agent_wasm_cache_lookup_count counter")
	p(`istio_agent_wasm_cache_lookup_count{hit="true"} %g`, n*t/60)
	p(`istio_agent_wasm_cache_lookup_count{hit="false"} %g`, n)
	p("# TYPE istio_agent_wasm_remote_fetch_count counter")
	p(`istio_agent_wasm_remote_fetch_count{result="success"} %g`, n)
	p(`istio_agent_wasm_remote_fetch_count{result="fetch_failure"} %g`, t/600)
}
