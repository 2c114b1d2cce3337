package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/config"

	"github.com/meshlens/meshlens/store"
)

type storeConfig struct {
	configFile  string
	dataDir     string
	retention   time.Duration
	listenAddr  string
	remoteWrite bool
	ruleEvals   int
}

func registerStore(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c storeConfig
	cmd := app.Command("store", "Run the embedded single-node store alone: Prometheus's TSDB, PromQL and HTTP API, scraping what its config says and receiving remote write.")
	cmd.Flag("config.file", "Prometheus configuration file (global, scrape_configs, rule_files such as `meshlens rules` prints); without it the store only receives remote write.").StringVar(&c.configFile)
	cmd.Flag("storage.tsdb.path", "Where the store keeps its data.").Default("data/").StringVar(&c.dataDir)
	cmd.Flag("storage.tsdb.retention.time", "How long samples are kept.").Default("15d").SetValue(&durationValue{&c.retention})
	cmd.Flag("web.listen-address", "Address of the Prometheus HTTP API.").Default("127.0.0.1:9090").StringVar(&c.listenAddr)
	cmd.Flag("web.enable-remote-write-receiver", "Accept remote write on /api/v1/write.").Default("true").BoolVar(&c.remoteWrite)
	cmd.Flag("rules.max-concurrent-evals", "How many rules of a group that do not read each other's series are evaluated at once, besides the group's own turn (Prometheus's concurrent-rule-eval); 1 evaluates them one after the other.").
		Default(strconv.Itoa(store.DefaultRuleConcurrency)).IntVar(&c.ruleEvals)
	commands["store"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runStore(ctx, c, logger, out)
	}
}

func runStore(ctx context.Context, c storeConfig, logger *slog.Logger, out io.Writer) error {
	var cfg *config.Config
	if c.configFile != "" {
		b, err := os.ReadFile(c.configFile)
		if err != nil {
			return usageError{fmt.Errorf("--config.file: %w", err)}
		}
		if cfg, err = config.Load(string(b), logger); err != nil {
			return usageError{fmt.Errorf("--config.file=%s: %w", c.configFile, err)}
		}
	}
	l, err := listen("web.listen-address", c.listenAddr)
	if err != nil {
		return err
	}
	reg := newRegistry()
	s, err := store.Open(store.Options{
		DataDir: c.dataDir, Retention: c.retention, Config: cfg,
		RemoteWriteReceiver: c.remoteWrite, ListenAddress: l.Addr().String(), Version: version,
		Logger: logger, Registerer: reg, RuleConcurrency: max(c.ruleEvals, 1),
		Flags: map[string]string{"config.file": c.configFile, "storage.tsdb.path": c.dataDir, "storage.tsdb.retention.time": c.retention.String(),
			"rules.max-concurrent-evals": strconv.Itoa(c.ruleEvals)},
	})
	if err != nil {
		l.Close()
		return err
	}
	defer s.Close()
	fmt.Fprintf(out, "meshlens store: Prometheus API on http://%s/api/v1/, data in %s\n", l.Addr(), c.dataDir)
	var g run.Group
	addContext(&g, ctx)
	addActor(&g, s.Run)
	addServer(&g, l, withPprof(withRegistry(s.Handler(), prometheus.Gatherers{reg, s.Gatherer()})))
	return g.Run()
}
