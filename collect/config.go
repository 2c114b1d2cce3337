package collect

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"gopkg.in/yaml.v3"
)

// ScrapeJob is the job of the sidecars named on the command line,
// as Istio's Prometheus add-on names its Envoy stats job.
const ScrapeJob = "envoy-stats"

// Flags are what the command line adds to the configuration file.
type Flags struct {
	ConfigFile     string
	RemoteWriteURL string
	SigV4Region    string
	Targets        []string
	FileSD         []string
	MetricsPath    string
	Interval       time.Duration
	// Kubernetes adds KubernetesJobs, in-cluster or, with Kubeconfig, from
	// outside.
	Kubernetes bool
	Kubeconfig string
	// EnableV2 lets remote_write use remote write 2.0, whose specification
	// is still a release candidate and whose wire format changed between
	// Prometheus releases.
	EnableV2 bool
}

// LoadConfig reads the configuration file (Prometheus's format) and adds
// what the flags say. Where the file is silent the collector's defaults
// differ from Prometheus's: the flags' scrape interval (15s, Istio's)
// rather than a minute, and throttled writes retried rather than dropped.
func LoadConfig(c Flags, logger *slog.Logger) (*config.Config, error) {
	text := ""
	if c.ConfigFile != "" {
		b, err := os.ReadFile(c.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("--config.file: %w", err)
		}
		// A file that does not say its scrape interval gets the flag's
		// (15s, Istio's) rather than Prometheus's default minute.
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("--config.file=%s: %w", c.ConfigFile, err)
		}
		if doc == nil {
			doc = map[string]any{}
		}
		global, _ := doc["global"].(map[string]any)
		if global == nil {
			global = map[string]any{}
		}
		if _, set := global["scrape_interval"]; !set {
			global["scrape_interval"] = model.Duration(c.Interval).String()
			doc["global"] = global
		}
		// A throttled write is retried unless the file says otherwise:
		// Prometheus drops it by default, and AMP throttles with 429.
		rws, _ := doc["remote_write"].([]any)
		for _, rw := range rws {
			if rw, ok := rw.(map[string]any); ok {
				q, _ := rw["queue_config"].(map[string]any)
				if q == nil {
					q = map[string]any{}
				}
				if _, set := q["retry_on_http_429"]; !set {
					q["retry_on_http_429"] = true
				}
				rw["queue_config"] = q
			}
		}
		if b, err = yaml.Marshal(doc); err != nil {
			return nil, err
		}
		text = string(b)
	}
	// What the flags add is written as configuration, so that Prometheus's
	// loader applies its defaults and checks to it as to the file.
	var extra struct {
		Global        map[string]any   `yaml:"global,omitempty"`
		ScrapeConfigs []map[string]any `yaml:"scrape_configs,omitempty"`
		RemoteWrite   []map[string]any `yaml:"remote_write,omitempty"`
	}
	extra.Global = map[string]any{"scrape_interval": model.Duration(c.Interval).String(), "scrape_timeout": model.Duration(min(10*time.Second, c.Interval)).String()}
	if len(c.Targets) > 0 || len(c.FileSD) > 0 {
		job := map[string]any{"job_name": ScrapeJob, "metrics_path": c.MetricsPath}
		if len(c.Targets) > 0 {
			job["static_configs"] = []any{map[string]any{"targets": c.Targets}}
		}
		if len(c.FileSD) > 0 {
			job["file_sd_configs"] = []any{map[string]any{"files": c.FileSD}}
		}
		extra.ScrapeConfigs = append(extra.ScrapeConfigs, job)
	}
	if c.Kubernetes || c.Kubeconfig != "" {
		var k8s struct {
			ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
		}
		if err := yaml.Unmarshal([]byte(KubernetesJobs(c.Kubeconfig)), &k8s); err != nil {
			return nil, err
		}
		extra.ScrapeConfigs = append(extra.ScrapeConfigs, k8s.ScrapeConfigs...)
	}
	if c.RemoteWriteURL != "" {
		rw := map[string]any{"url": c.RemoteWriteURL, "queue_config": map[string]any{"retry_on_http_429": true}}
		if c.SigV4Region != "" {
			rw["sigv4"] = map[string]any{"region": c.SigV4Region}
		}
		extra.RemoteWrite = append(extra.RemoteWrite, rw)
	} else if c.SigV4Region != "" {
		return nil, fmt.Errorf("--sigv4.region signs what goes to --remote-write.url: give that too (or put sigv4 in the file's remote_write)")
	}
	b, err := yaml.Marshal(extra)
	if err != nil {
		return nil, err
	}
	fromFlags, err := config.Load(string(b), logger)
	if err != nil {
		return nil, err
	}
	cfg := fromFlags
	if text != "" {
		if cfg, err = config.Load(text, logger); err != nil {
			return nil, fmt.Errorf("--config.file=%s: %w", c.ConfigFile, err)
		}
		for _, sc := range fromFlags.ScrapeConfigs {
			for _, have := range cfg.ScrapeConfigs {
				if have.JobName == sc.JobName {
					return nil, fmt.Errorf("--config.file=%s already has a job %s: list the targets there, or rename the job", c.ConfigFile, sc.JobName)
				}
			}
			cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, sc)
		}
		cfg.RemoteWriteConfigs = append(cfg.RemoteWriteConfigs, fromFlags.RemoteWriteConfigs...)
	}
	scfgs, err := cfg.GetScrapeConfigs()
	if err != nil {
		return nil, err
	}
	if len(scfgs) == 0 {
		return nil, fmt.Errorf("nothing to scrape: give --kubernetes, --scrape.target, --scrape.file-sd, or scrape_configs in --config.file")
	}
	if len(cfg.RemoteWriteConfigs) == 0 {
		return nil, fmt.Errorf("nowhere to send: give --remote-write.url, or remote_write in --config.file")
	}
	for _, rw := range cfg.RemoteWriteConfigs {
		if rw.ProtobufMessage != remoteapi.WriteV1MessageType && !c.EnableV2 {
			return nil, fmt.Errorf("remote_write to %s asks for protobuf_message %s: remote write 2.0 is still a release candidate; add --remote-write.enable-v2 to use it, or remove protobuf_message", rw.URL.Redacted(), rw.ProtobufMessage)
		}
	}
	return cfg, nil
}
