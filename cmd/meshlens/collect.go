package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

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
	enableV2       bool
	printThinning  string
	kubernetes     bool
	kubeconfig     string
	aggregate      string
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
	cmd.Flag("kubernetes", "Find the proxies and istiod through the Kubernetes API, in the cluster the collector runs in, as Istio's Prometheus does: pods annotated prometheus.io/scrape (metrics merging, :15020), the Envoy port of the others (*-envoy-prom, :15090), istiod's http-monitoring port.").BoolVar(&c.kubernetes)
	cmd.Flag("kubernetes.kubeconfig", "As --kubernetes, from outside the cluster, with this kubeconfig file.").StringVar(&c.kubeconfig)
	cmd.Flag("scrape.target", "A sidecar to scrape, host:port (Istio's merged metrics are on :15020); repeatable. Added to the file's scrape_configs as job envoy-stats.").StringsVar(&c.targets)
	cmd.Flag("scrape.file-sd", "A file_sd file (JSON or YAML) listing sidecars to scrape; repeatable.").StringsVar(&c.fileSD)
	cmd.Flag("scrape.metrics-path", "Path scraped on --scrape.target and --scrape.file-sd targets.").Default("/stats/prometheus").StringVar(&c.metricsPath)
	cmd.Flag("scrape.interval", "Scrape interval of --scrape.target and --scrape.file-sd targets, and the default of a file that does not set one.").Default("15s").DurationVar(&c.interval)
	cmd.Flag("thinning", "Drop what the console does not read before it is sent: "+strings.Join(names, ", ")+" (see the README for what each keeps).").Default(string(collect.ThinningNone)).StringVar(&c.thinning)
	cmd.Flag("print-thinning", "Print a --thinning preset as metric_relabel_configs for a Prometheus's or ADOT collector's scrape job, and exit.").PlaceHolder("PRESET").StringVar(&c.printThinning)
	cmd.Flag("aggregate", "workload: sum Istio's counters over pod and instance before they are sent, each pod followed across its restarts (a workload's series instead of one per pod); none: send each pod's.").Default("none").EnumVar(&c.aggregate, "none", "workload")
	cmd.Flag("storage.agent.path", "Where the write-ahead log is kept.").Default("data-agent/").StringVar(&c.walDir)
	cmd.Flag("web.listen-address", "Address of /metrics, /-/healthy and /-/ready.").Default("127.0.0.1:9095").StringVar(&c.listenAddr)
	cmd.Flag("remote-write.enable-v2", "Allow protobuf_message io.prometheus.write.v2.Request in remote_write (remote write 2.0, a release candidate).").BoolVar(&c.enableV2)
	cmd.Flag("remote-write.flush-deadline", "How long to keep sending what is queued when stopping.").Default("1m").DurationVar(&c.flushDeadline)
	commands["collect"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runCollect(ctx, c, logger, out)
	}
}

func runCollect(ctx context.Context, c collectConfig, logger *slog.Logger, out io.Writer) error {
	if c.printThinning != "" {
		t, err := collect.ParseThinning(c.printThinning)
		if err != nil {
			return usageError{fmt.Errorf("--print-thinning: %w", err)}
		}
		y, err := t.YAML()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# meshlens collect --thinning %s, for a scrape job\n%s", t, y)
		return nil
	}
	thinning, err := collect.ParseThinning(c.thinning)
	if err != nil {
		return usageError{fmt.Errorf("--thinning: %w", err)}
	}
	cfg, err := collect.LoadConfig(collect.Flags{
		ConfigFile: c.configFile, RemoteWriteURL: c.remoteWriteURL, SigV4Region: c.sigv4Region,
		Targets: c.targets, FileSD: c.fileSD, MetricsPath: c.metricsPath, Interval: c.interval, EnableV2: c.enableV2,
		Kubernetes: c.kubernetes, Kubeconfig: c.kubeconfig,
	}, logger)
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
	col, err := collect.Open(collect.Options{Config: cfg, WALDir: c.walDir, Thinning: thinning, FlushDeadline: c.flushDeadline,
		AggregateWorkloads: c.aggregate == "workload", Logger: logger})
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
