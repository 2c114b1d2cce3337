package collect

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"
)

// Thinning is a preset of metric relabelling that drops what the console
// never reads before it is stored or sent.
type Thinning string

const (
	// ThinningNone keeps everything scraped.
	ThinningNone Thinning = "none"
	// ThinningKiali drops the metrics and labels Kiali's documentation
	// lists as unneeded by its console (its "reduce metrics" guide).
	ThinningKiali Thinning = "kiali"
	// ThinningKialiStrict also drops the request and response size
	// histograms' buckets and the pod labels the console does not read.
	ThinningKialiStrict Thinning = "kiali-strict"
)

// Thinnings are the presets, in the order --help lists them.
var Thinnings = []Thinning{ThinningNone, ThinningKiali, ThinningKialiStrict}

// The regular expressions below are Kiali's list, kept as it words them, so
// that a reader can hold one against the other.
const (
	kialiUnneededMetrics = `istio_agent_.*|istiod_.*|istio_build|citadel_.*|galley_.*|pilot_[^psx].*|envoy_cluster_[^u].*|envoy_cluster_update.*|envoy_listener_[^dh].*|envoy_server_[^mu].*|envoy_wasm_.*`
	kialiUnneededLabels  = `chart|destination_app|destination_version|heritage|.*operator.*|istio.*|release|security_istio_io_.*|service_istio_io_.*|sidecar_istio_io_inject|source_app|source_version`
	// Size quantiles are the only readers of these buckets (the metrics
	// page's request and response size percentiles); averages come from
	// _sum and _count, which stay.
	strictUnneededMetrics = `istio_request_bytes_bucket|istio_response_bytes_bucket`
	// Labels Kubernetes discovery copies from a pod's own labels, which the
	// console reads from the inventory, never from series. The pod and
	// instance labels stay: without them two pods' series would collide.
	strictUnneededLabels = `app|version|pod_template_hash|controller_revision_hash|statefulset_kubernetes_io_pod_name|app_kubernetes_io_.*|helm_sh_chart`
)

// ParseThinning reads a preset's name.
func ParseThinning(s string) (Thinning, error) {
	for _, t := range Thinnings {
		if string(t) == s {
			return t, nil
		}
	}
	names := make([]string, len(Thinnings))
	for i, t := range Thinnings {
		names[i] = string(t)
	}
	return "", fmt.Errorf("unknown thinning %q: choose one of %s", s, strings.Join(names, ", "))
}

// RelabelConfigs are the preset's metric_relabel_configs.
func (t Thinning) RelabelConfigs() []*relabel.Config {
	dropMetrics := func(re string) *relabel.Config {
		return &relabel.Config{SourceLabels: model.LabelNames{model.MetricNameLabel}, Separator: ";", Regex: relabel.MustNewRegexp(re), Action: relabel.Drop, Replacement: "$1", NameValidationScheme: model.UTF8Validation}
	}
	dropLabels := func(re string) *relabel.Config {
		return &relabel.Config{Separator: ";", Regex: relabel.MustNewRegexp(re), Action: relabel.LabelDrop, Replacement: "$1", NameValidationScheme: model.UTF8Validation}
	}
	switch t {
	case ThinningKiali:
		return []*relabel.Config{dropMetrics(kialiUnneededMetrics), dropLabels(kialiUnneededLabels)}
	case ThinningKialiStrict:
		return []*relabel.Config{dropMetrics(kialiUnneededMetrics + "|" + strictUnneededMetrics), dropLabels(kialiUnneededLabels + "|" + strictUnneededLabels)}
	}
	return nil
}

// Apply appends the preset to every scrape job's metric_relabel_configs,
// after the job's own, so that a user's relabelling sees every label.
func (t Thinning) Apply(cfg *config.Config) error {
	rcs := t.RelabelConfigs()
	if len(rcs) == 0 {
		return nil
	}
	scfgs, err := cfg.GetScrapeConfigs()
	if err != nil {
		return err
	}
	for _, sc := range scfgs {
		sc.MetricRelabelConfigs = append(sc.MetricRelabelConfigs, rcs...)
	}
	// The jobs of scrape_config_files are read anew at each call: keep the
	// thinned ones in the configuration itself.
	cfg.ScrapeConfigs, cfg.ScrapeConfigFiles = scfgs, nil
	return nil
}

// YAML is the preset as a metric_relabel_configs list, for a Prometheus or
// an ADOT collector that should thin as the collector does.
func (t Thinning) YAML() (string, error) {
	rcs := t.RelabelConfigs()
	if len(rcs) == 0 {
		return "metric_relabel_configs: []\n", nil
	}
	b, err := yaml.Marshal(map[string]any{"metric_relabel_configs": rcs})
	return string(b), err
}
