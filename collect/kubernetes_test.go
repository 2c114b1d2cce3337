package collect

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// What Kubernetes discovery gives for a target (role pod: one per
// container port; role endpoints: one per endpoint port), run through each
// job's relabelling, with what Prometheus then scrapes beside it.
func TestKubernetesJobsScrapeEachProxyOnceByIstiosConventions(t *testing.T) {
	cfg, err := config.Load(KubernetesJobs(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]*config.ScrapeConfig{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = sc
	}
	pod := func(extra ...string) labels.Labels {
		kv := append([]string{
			"__address__", "10.1.2.3:9080", "__scheme__", "http",
			"__meta_kubernetes_namespace", "bookinfo", "__meta_kubernetes_pod_name", "reviews-v2-5c8f7d9b4-x7k2p",
			"__meta_kubernetes_pod_ip", "10.1.2.3", "__meta_kubernetes_pod_phase", "Running",
			"__meta_kubernetes_pod_label_app", "reviews", "__meta_kubernetes_pod_label_version", "v2",
			"__meta_kubernetes_pod_container_port_name", "http",
		}, extra...)
		return labels.FromStrings(kv...)
	}
	merged := []string{
		"__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true",
		"__meta_kubernetes_pod_annotation_prometheus_io_port", "15020",
		"__meta_kubernetes_pod_annotation_prometheus_io_path", "/stats/prometheus",
	}
	scraped := `{__address__="10.1.2.3:15020", __metrics_path__="/stats/prometheus", __scheme__="http", app="reviews", namespace="bookinfo", pod="reviews-v2-5c8f7d9b4-x7k2p", version="v2"}`
	for _, c := range []struct {
		name, job string
		target    labels.Labels
		want      string // what is left to scrape, "" when dropped
	}{
		{"an injected pod with metrics merging, scraped on the agent's port", "kubernetes-pods", pod(merged...), scraped},
		{"the same pod is not scraped again on Envoy's port", "envoy-stats", pod(append(merged, "__meta_kubernetes_pod_container_port_name", "http-envoy-prom")...), ""},
		{"a pod without merging, scraped on Envoy's port", "envoy-stats", labels.NewBuilder(pod()).Set("__meta_kubernetes_pod_container_port_name", "http-envoy-prom").Set("__address__", "10.1.2.3:15090").Labels(),
			`{__address__="10.1.2.3:15090", __metrics_path__="/stats/prometheus", __scheme__="http", app="reviews", namespace="bookinfo", pod="reviews-v2-5c8f7d9b4-x7k2p", version="v2"}`},
		{"an application port of a pod without merging is not scraped", "envoy-stats", pod(), ""},
		{"a pod without the annotation is not scraped by kubernetes-pods", "kubernetes-pods", pod(), ""},
		{"an IPv6 pod gets brackets", "kubernetes-pods", labels.NewBuilder(pod(merged...)).Set("__meta_kubernetes_pod_ip", "fd00:10:244::7").Set("__address__", "[fd00:10:244::7]:9080").Labels(),
			`{__address__="[fd00:10:244::7]:15020", __metrics_path__="/stats/prometheus", __scheme__="http", app="reviews", namespace="bookinfo", pod="reviews-v2-5c8f7d9b4-x7k2p", version="v2"}`},
		{"a finished pod is not scraped", "kubernetes-pods", labels.NewBuilder(pod(merged...)).Set("__meta_kubernetes_pod_phase", "Succeeded").Labels(), ""},
		{"istiod's monitoring port", "istiod", labels.FromStrings("__address__", "10.1.0.9:15014", "__scheme__", "http",
			"__meta_kubernetes_namespace", "istio-system", "__meta_kubernetes_service_name", "istiod", "__meta_kubernetes_endpoint_port_name", "http-monitoring", "__meta_kubernetes_pod_name", "istiod-7d9f6c5b8-abcde"),
			`{__address__="10.1.0.9:15014", __metrics_path__="/metrics", __scheme__="http", namespace="istio-system", pod="istiod-7d9f6c5b8-abcde"}`},
		{"istiod's xDS port is not scraped", "istiod", labels.FromStrings("__address__", "10.1.0.9:15010", "__meta_kubernetes_namespace", "istio-system",
			"__meta_kubernetes_service_name", "istiod", "__meta_kubernetes_endpoint_port_name", "grpc-xds"), ""},
	} {
		// Prometheus sets the job's path before relabelling.
		lb := labels.NewBuilder(c.target).Set("__metrics_path__", jobs[c.job].MetricsPath)
		got := ""
		if relabel.ProcessBuilder(lb, jobs[c.job].RelabelConfigs...) {
			// Discovery's own labels go once relabelling is done.
			lb.Range(func(l labels.Label) {
				if strings.HasPrefix(l.Name, "__meta_") {
					lb.Del(l.Name)
				}
			})
			got = lb.Labels().String()
		}
		if got != c.want {
			t.Errorf("%s (job %s):\n got %s\nwant %s", c.name, c.job, orDropped(got), orDropped(c.want))
		}
	}
}

func TestKubernetesJobsReadAKubeconfigWhenGiven(t *testing.T) {
	cfg, err := config.Load(KubernetesJobs("/home/me/.kube/config"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ScrapeConfigs) != 3 {
		t.Fatalf("%d jobs, want kubernetes-pods, envoy-stats and istiod", len(cfg.ScrapeConfigs))
	}
	for _, sc := range cfg.ScrapeConfigs {
		if got := sc.ServiceDiscoveryConfigs[0]; got == nil {
			t.Errorf("%s has no discovery", sc.JobName)
		}
	}
}
