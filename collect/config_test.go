package collect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func configFile(t *testing.T, yml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(f, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// An ADOT collector's or Prometheus's file for AMP, as users bring it.
const ampFile = `
scrape_configs:
  - job_name: kubernetes-pods
    static_configs: [{targets: ["10.0.0.7:15020"]}]
    metrics_path: /stats/prometheus
  - job_name: slow
    scrape_interval: 1m
    static_configs: [{targets: ["10.0.0.8:15020"]}]
remote_write:
  - url: https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write
    sigv4: {region: us-west-2, role_arn: "arn:aws:iam::123456789012:role/amp-ingest"}
    queue_config: {max_samples_per_send: 1000, max_shards: 200, capacity: 2500}
  - url: https://mimir.internal/api/v1/push
    queue_config: {retry_on_http_429: false}
    write_relabel_configs:
      - {source_labels: [__name__], regex: "envoy_.*", action: drop}
`

func TestLoadConfigReadsAnAMPFileWithTheCollectorsDefaultsWhereItIsSilent(t *testing.T) {
	cfg, err := LoadConfig(Flags{ConfigFile: configFile(t, ampFile), Interval: 15 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	scfgs, _ := cfg.GetScrapeConfigs()
	if got := []model.Duration{scfgs[0].ScrapeInterval, scfgs[1].ScrapeInterval}; got[0] != model.Duration(15*time.Second) || got[1] != model.Duration(time.Minute) {
		t.Errorf("scrape intervals %v: want 15s where the file is silent, 1m where the job says so", got)
	}
	amp, mimir := cfg.RemoteWriteConfigs[0], cfg.RemoteWriteConfigs[1]
	if amp.SigV4Config == nil || amp.SigV4Config.Region != "us-west-2" || amp.SigV4Config.RoleARN == "" {
		t.Errorf("sigv4 not read: %+v", amp.SigV4Config)
	}
	if !amp.QueueConfig.RetryOnRateLimit || amp.QueueConfig.MaxSamplesPerSend != 1000 || amp.QueueConfig.MaxShards != 200 {
		t.Errorf("AMP's queue: %+v; want the file's values and 429 retried", amp.QueueConfig)
	}
	if mimir.QueueConfig.RetryOnRateLimit || len(mimir.WriteRelabelConfigs) != 1 {
		t.Errorf("Mimir's queue: the file's retry_on_http_429: false and its relabelling must stay: %+v", mimir.QueueConfig)
	}
}

func TestLoadConfigAddsWhatTheFlagsSay(t *testing.T) {
	cfg, err := LoadConfig(Flags{
		ConfigFile: configFile(t, ampFile), Targets: []string{"127.0.0.1:15020"}, MetricsPath: "/stats/prometheus", Interval: 30 * time.Second,
		RemoteWriteURL: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-2/api/v1/remote_write", SigV4Region: "eu-west-1",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	scfgs, _ := cfg.GetScrapeConfigs()
	last := scfgs[len(scfgs)-1]
	if len(scfgs) != 3 || last.JobName != ScrapeJob || last.MetricsPath != "/stats/prometheus" || last.ScrapeInterval != model.Duration(30*time.Second) {
		t.Errorf("the flags' job: %d jobs, last %s %s every %s", len(scfgs), last.JobName, last.MetricsPath, last.ScrapeInterval)
	}
	rw := cfg.RemoteWriteConfigs[len(cfg.RemoteWriteConfigs)-1]
	if len(cfg.RemoteWriteConfigs) != 3 || rw.SigV4Config == nil || rw.SigV4Config.Region != "eu-west-1" || !rw.QueueConfig.RetryOnRateLimit {
		t.Errorf("the flags' remote write: %d endpoints, last %+v", len(cfg.RemoteWriteConfigs), rw)
	}
}

func TestLoadConfigSaysWhatIsMissingOrWrong(t *testing.T) {
	v2 := configFile(t, "remote_write: [{url: 'http://127.0.0.1:9090/api/v1/write', protobuf_message: io.prometheus.write.v2.Request}]\n")
	withJob := configFile(t, "scrape_configs: [{job_name: envoy-stats, static_configs: [{targets: ['b:1']}]}]\nremote_write: [{url: 'http://127.0.0.1:9090/api/v1/write'}]\n")
	for _, c := range []struct {
		name  string
		flags Flags
		want  string
	}{
		{"nothing to scrape", Flags{RemoteWriteURL: "http://127.0.0.1:9090/api/v1/write"}, "--scrape.target"},
		{"nowhere to send", Flags{Targets: []string{"127.0.0.1:15020"}}, "--remote-write.url"},
		{"a region without a URL", Flags{Targets: []string{"127.0.0.1:15020"}, SigV4Region: "us-west-2"}, "--remote-write.url"},
		{"remote write 2.0 without the flag", Flags{ConfigFile: v2, Targets: []string{"a:1"}}, "--remote-write.enable-v2"},
		{"the flags' job in the file already", Flags{ConfigFile: withJob, Targets: []string{"a:1"}}, "already has a job envoy-stats"},
		{"a file that is not there", Flags{ConfigFile: "no/such/file.yml"}, "--config.file"},
	} {
		c.flags.Interval = 15 * time.Second
		if _, err := LoadConfig(c.flags, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
	if _, err := LoadConfig(Flags{ConfigFile: v2, Targets: []string{"a:1"}, Interval: time.Second, EnableV2: true}, nil); err != nil {
		t.Errorf("remote write 2.0 with the flag: %v", err)
	}
}

func TestLoadConfigAddsTheKubernetesJobsWithAKubeconfig(t *testing.T) {
	cfg, err := LoadConfig(Flags{Kubeconfig: "/home/me/.kube/config", RemoteWriteURL: "http://127.0.0.1:9090/api/v1/write", Interval: 15 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range cfg.ScrapeConfigs {
		names = append(names, sc.JobName)
	}
	if strings.Join(names, ",") != "kubernetes-pods,envoy-stats,istiod" {
		t.Errorf("jobs %v", names)
	}
}
