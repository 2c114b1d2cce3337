package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"gopkg.in/yaml.v3"

	"github.com/meshlens/meshlens/collect"
	"github.com/meshlens/meshlens/config"
)

type collectConfig struct {
	configFile     string
	remoteWriteURL string
	sigv4Region    string
	targets        []string
	fileSD         []string
	metricsPath    string
	interval       time.Duration
	thinning       string
	walDir         string
	listenAddr     string
	flushDeadline  time.Duration
}

func registerCollect(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c collectConfig
	names := make([]string, len(collect.Thinnings))
	for i, t := range collect.Thinnings {
		names[i] = string(t)
	}
	cmd := app.Command("collect", "Scrape the sidecars and send what is scraped by remote write, as `prometheus --agent` does: a write-ahead log, retried and sharded queues, SigV4 for Amazon Managed Service for Prometheus.")
	cmd.Flag("config.file", "Prometheus configuration file: global, scrape_configs and remote_write (with sigv4, authorization, basic_auth, tls_config, queue_config, write_relabel_configs), as Prometheus and the ADOT collector read it.").StringVar(&c.configFile)
	cmd.Flag("config", "Same as --config.file.").Hidden().StringVar(&c.configFile)
	cmd.Flag("remote-write.url", "Where to send, added to the file's remote_write: e.g. https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-…/api/v1/remote_write.").StringVar(&c.remoteWriteURL)
	cmd.Flag("sigv4.region", "Sign what goes to --remote-write.url with AWS SigV4 for this region (service aps), with the AWS default credentials.").StringVar(&c.sigv4Region)
	cmd.Flag("scrape.target", "A sidecar to scrape, host:port (Istio's merged metrics are on :15020); repeatable. Added to the file's scrape_configs as job envoy-stats.").StringsVar(&c.targets)
	cmd.Flag("scrape.file-sd", "A file_sd file (JSON or YAML) listing sidecars to scrape; repeatable.").StringsVar(&c.fileSD)
	cmd.Flag("scrape.metrics-path", "Path scraped on --scrape.target and --scrape.file-sd targets.").Default("/stats/prometheus").StringVar(&c.metricsPath)
	cmd.Flag("scrape.interval", "Scrape interval of --scrape.target and --scrape.file-sd targets, and the default of a file that does not set one.").Default("15s").DurationVar(&c.interval)
	cmd.Flag("thinning", "Drop what the console does not read before it is sent: "+strings.Join(names, ", ")+" (see the README for what each keeps).").Default(string(collect.ThinningNone)).StringVar(&c.thinning)
	cmd.Flag("storage.agent.path", "Where the write-ahead log is kept.").Default("data-agent/").StringVar(&c.walDir)
	cmd.Flag("web.listen-address", "Address of /metrics, /-/healthy and /-/ready.").Default("127.0.0.1:9095").StringVar(&c.listenAddr)
	cmd.Flag("remote-write.flush-deadline", "How long to keep sending what is queued when stopping.").Default("1m").DurationVar(&c.flushDeadline)
	commands["collect"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runCollect(ctx, c, logger, out)
	}
}

// collectScrapeJob is the job of the sidecars named on the command line,
// as Istio's Prometheus add-on names its Envoy stats job.
const collectScrapeJob = "envoy-stats"

// loadCollectConfig reads the file and adds what the flags say.
func loadCollectConfig(c collectConfig, logger *slog.Logger) (*promconfig.Config, error) {
	text := ""
	if c.configFile != "" {
		b, err := os.ReadFile(c.configFile)
		if err != nil {
			return nil, fmt.Errorf("--config.file: %w", err)
		}
		// A file that does not say its scrape interval gets the flag's
		// (15s, Istio's) rather than Prometheus's default minute.
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("--config.file=%s: %w", c.configFile, err)
		}
		if doc == nil {
			doc = map[string]any{}
		}
		global, _ := doc["global"].(map[string]any)
		if global == nil {
			global = map[string]any{}
		}
		if _, set := global["scrape_interval"]; !set {
			global["scrape_interval"] = model.Duration(c.interval).String()
			doc["global"] = global
			if b, err = yaml.Marshal(doc); err != nil {
				return nil, err
			}
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
	extra.Global = map[string]any{"scrape_interval": model.Duration(c.interval).String(), "scrape_timeout": model.Duration(min(10*time.Second, c.interval)).String()}
	if len(c.targets) > 0 || len(c.fileSD) > 0 {
		job := map[string]any{"job_name": collectScrapeJob, "metrics_path": c.metricsPath}
		if len(c.targets) > 0 {
			job["static_configs"] = []any{map[string]any{"targets": c.targets}}
		}
		if len(c.fileSD) > 0 {
			job["file_sd_configs"] = []any{map[string]any{"files": c.fileSD}}
		}
		extra.ScrapeConfigs = append(extra.ScrapeConfigs, job)
	}
	if c.remoteWriteURL != "" {
		rw := map[string]any{"url": c.remoteWriteURL}
		if c.sigv4Region != "" {
			rw["sigv4"] = map[string]any{"region": c.sigv4Region}
		}
		extra.RemoteWrite = append(extra.RemoteWrite, rw)
	} else if c.sigv4Region != "" {
		return nil, fmt.Errorf("--sigv4.region signs what goes to --remote-write.url: give that too (or put sigv4 in the file's remote_write)")
	}
	b, err := yaml.Marshal(extra)
	if err != nil {
		return nil, err
	}
	fromFlags, err := promconfig.Load(string(b), logger)
	if err != nil {
		return nil, err
	}
	cfg := fromFlags
	if text != "" {
		if cfg, err = promconfig.Load(text, logger); err != nil {
			return nil, fmt.Errorf("--config.file=%s: %w", c.configFile, err)
		}
		for _, sc := range fromFlags.ScrapeConfigs {
			for _, have := range cfg.ScrapeConfigs {
				if have.JobName == sc.JobName {
					return nil, fmt.Errorf("--config.file=%s already has a job %s: list the targets there, or rename the job", c.configFile, sc.JobName)
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
		return nil, fmt.Errorf("nothing to scrape: give --scrape.target, --scrape.file-sd, or scrape_configs in --config.file")
	}
	if len(cfg.RemoteWriteConfigs) == 0 {
		return nil, fmt.Errorf("nowhere to send: give --remote-write.url, or remote_write in --config.file")
	}
	return cfg, nil
}

func runCollect(ctx context.Context, c collectConfig, logger *slog.Logger, out io.Writer) error {
	thinning, err := collect.ParseThinning(c.thinning)
	if err != nil {
		return usageError{fmt.Errorf("--thinning: %w", err)}
	}
	cfg, err := loadCollectConfig(c, logger)
	if err != nil {
		return usageError{err}
	}
	// Missing AWS credentials are a start-up error that says what to set,
	// not a stream of refused writes.
	for i, rw := range cfg.RemoteWriteConfigs {
		if rw.SigV4Config == nil {
			continue
		}
		if _, err := config.SigV4RoundTripper(ctx, rw.SigV4Config, http.DefaultTransport); err != nil {
			return usageError{fmt.Errorf("remote_write %d (%s): %w", i+1, rw.URL.Redacted(), err)}
		}
	}
	l, err := listen("web.listen-address", c.listenAddr)
	if err != nil {
		return err
	}
	col, err := collect.Open(collect.Options{Config: cfg, WALDir: c.walDir, Thinning: thinning, FlushDeadline: c.flushDeadline, Logger: logger})
	if err != nil {
		l.Close()
		return err
	}
	defer col.Close()
	scfgs, _ := cfg.GetScrapeConfigs()
	fmt.Fprintf(out, "meshlens collect: %d scrape job(s), sending to %d remote write endpoint(s), write-ahead log in %s, metrics on http://%s/metrics\n",
		len(scfgs), len(cfg.RemoteWriteConfigs), c.walDir, l.Addr())
	reg := newRegistry()
	var g run.Group
	addContext(&g, ctx)
	addActor(&g, col.Run)
	addServer(&g, l, withPprof(withRegistry(col.Handler(), prometheus.Gatherers{reg, col.Gatherer()})))
	return g.Run()
}
