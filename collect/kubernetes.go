package collect

import (
	"fmt"
	"strconv"
)

// KubernetesJobs are the scrape jobs that find a mesh's proxies and istiod
// through the Kubernetes API, as Istio's own Prometheus add-on scrapes
// them (kubeconfig empty: in-cluster, as a pod):
//   - kubernetes-pods: pods annotated prometheus.io/scrape "true", on the
//     port and path of prometheus.io/port and prometheus.io/path. The
//     sidecar injector writes these for metrics merging (the agent's
//     :15020/stats/prometheus serving Envoy's and the application's
//     metrics together), which is Istio's default.
//   - envoy-stats: the Envoy port 15090 (a container port named
//     *-envoy-prom), /stats/prometheus, of pods without that annotation
//     (merging turned off), so that no proxy is scraped twice.
//   - istiod: the control plane's http-monitoring port (15014).
//
// Every job keeps the pod's namespace, name and labels, and leaves out
// pods that have finished.
func KubernetesJobs(kubeconfig string) string {
	sd := "kubernetes_sd_configs: [{role: pod}]"
	sdEndpoints := "kubernetes_sd_configs: [{role: endpoints, namespaces: {names: [istio-system]}}]"
	if kubeconfig != "" {
		sd = fmt.Sprintf("kubernetes_sd_configs: [{role: pod, kubeconfig_file: %s}]", strconv.Quote(kubeconfig))
		sdEndpoints = fmt.Sprintf("kubernetes_sd_configs: [{role: endpoints, kubeconfig_file: %s, namespaces: {names: [istio-system]}}]", strconv.Quote(kubeconfig))
	}
	return `scrape_configs:
  - job_name: kubernetes-pods
    ` + sd + `
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: "true", action: keep}
      - {source_labels: [__meta_kubernetes_pod_phase], regex: Pending|Succeeded|Failed|Completed, action: drop}
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path], regex: (.+), target_label: __metrics_path__}
      # The annotation's port on the pod's IP, in brackets when it is IPv6.
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip], regex: '(\d+);([0-9.]+)', replacement: '$2:$1', target_label: __address__}
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip], regex: '(\d+);([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)', replacement: '[$2]:$1', target_label: __address__}
` + podLabels + `
  - job_name: envoy-stats
    metrics_path: /stats/prometheus
    ` + sd + `
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_container_port_name], regex: '.*-envoy-prom', action: keep}
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: "true", action: drop}
      - {source_labels: [__meta_kubernetes_pod_phase], regex: Pending|Succeeded|Failed|Completed, action: drop}
` + podLabels + `
  - job_name: istiod
    ` + sdEndpoints + `
    relabel_configs:
      - {source_labels: [__meta_kubernetes_service_name, __meta_kubernetes_endpoint_port_name], regex: istiod;http-monitoring, action: keep}
      - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
`
}

// podLabels copy a pod's namespace, name and labels onto its series.
const podLabels = `      - {regex: __meta_kubernetes_pod_label_(.+), action: labelmap}
      - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}`
