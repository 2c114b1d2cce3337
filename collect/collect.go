// Package collect is meshlens's collector, what `prometheus --agent` is:
// Prometheus's service discovery and scrape manager append to the agent
// write-ahead log (tsdb/agent), and the remote-write queue manager
// (storage/remote) sends it on, signed with SigV4 where the configuration
// says so. It stores nothing it can query; the store, Amazon Managed
// Service for Prometheus, Mimir or Thanos receive what it sends.
package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	_ "github.com/prometheus/prometheus/discovery/file" // file_sd_configs
	_ "github.com/prometheus/prometheus/discovery/http" // http_sd_configs
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/agent"
	"github.com/prometheus/prometheus/util/logging"
)

// Options configure a collector.
type Options struct {
	// Config is a Prometheus configuration: global, scrape_configs and
	// remote_write are read.
	Config *config.Config
	// WALDir holds the agent's write-ahead log.
	WALDir string
	// Thinning is applied to every scrape job.
	Thinning Thinning
	// FlushDeadline bounds how long shutting down waits for the queues to
	// send what they hold. Default 1m, as Prometheus.
	FlushDeadline time.Duration
	Logger        *slog.Logger
}

// Collector is a running agent.
type Collector struct {
	opts   Options
	logger *slog.Logger

	db        *agent.DB
	remote    *remote.Storage
	storage   storage.Storage // the agent WAL, and the remote storage's tracker of what was appended
	discovery *discovery.Manager
	scrape    *scrape.Manager
	// internal holds the metrics of Prometheus's packages, under the names
	// Prometheus's agent gives them (prometheus_remote_storage_*,
	// prometheus_agent_*, prometheus_target_*, prometheus_sd_*).
	internal *prometheus.Registry

	ready           atomic.Bool
	cancelDiscovery context.CancelFunc
}

// scrapeManager hands the scrape manager to the remote-write queues, which
// read the targets' metadata from it.
type scrapeManager struct{ m *scrape.Manager }

func (s scrapeManager) Get() (*scrape.Manager, error) { return s.m, nil }

// Open opens (or creates) the write-ahead log and builds every component;
// Run starts them.
func Open(opts Options) (*Collector, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushDeadline <= 0 {
		opts.FlushDeadline = time.Minute
	}
	if opts.Config == nil {
		return nil, errors.New("collect needs a configuration")
	}
	if opts.WALDir == "" {
		return nil, errors.New("collect needs a directory for its write-ahead log")
	}
	if err := opts.Thinning.Apply(opts.Config); err != nil {
		return nil, fmt.Errorf("scrape config: %w", err)
	}
	if err := os.MkdirAll(opts.WALDir, 0o755); err != nil {
		return nil, fmt.Errorf("create the write-ahead log's directory: %w", err)
	}
	c := &Collector{opts: opts, logger: opts.Logger, internal: prometheus.NewRegistry()}

	var sm scrapeManager
	// The agent keeps no blocks: there is no oldest sample for remote read.
	startTime := func() (int64, error) { return math.MaxInt64, nil }
	c.remote = remote.NewStorage(opts.Logger.With("component", "remote"), c.internal, startTime, opts.WALDir, opts.FlushDeadline, &sm, false)
	db, err := agent.Open(opts.Logger.With("component", "agent"), c.internal, c.remote, opts.WALDir, agent.DefaultOptions())
	if err != nil {
		c.remote.Close()
		return nil, fmt.Errorf("open the write-ahead log in %s: %w", opts.WALDir, err)
	}
	db.SetWriteNotified(c.remote)
	c.db = db
	c.storage = storage.NewFanout(opts.Logger, db, c.remote)

	sdMetrics, err := discovery.CreateAndRegisterSDMetrics(c.internal)
	if err != nil {
		c.storage.Close()
		return nil, fmt.Errorf("service discovery metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancelDiscovery = cancel
	c.discovery = discovery.NewManager(ctx, opts.Logger.With("component", "discovery manager scrape"), c.internal, sdMetrics, discovery.Name("scrape"))
	c.scrape, err = scrape.NewManager(&scrape.Options{DiscoveryReloadOnStartup: true},
		opts.Logger.With("component", "scrape manager"), logging.NewJSONFileLogger, nil, c.storage, c.internal)
	if err != nil {
		cancel()
		c.storage.Close()
		return nil, fmt.Errorf("scrape manager: %w", err)
	}
	sm.m = c.scrape
	if err := c.applyConfig(opts.Config); err != nil {
		cancel()
		c.storage.Close()
		return nil, err
	}
	return c, nil
}

func (c *Collector) applyConfig(cfg *config.Config) error {
	if err := c.remote.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("remote_write: %w", err)
	}
	if err := c.scrape.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("scrape config: %w", err)
	}
	scfgs, err := cfg.GetScrapeConfigs()
	if err != nil {
		return fmt.Errorf("scrape config: %w", err)
	}
	sd := make(map[string]discovery.Configs, len(scfgs))
	for _, sc := range scfgs {
		sd[sc.JobName] = sc.ServiceDiscoveryConfigs
	}
	if err := c.discovery.ApplyConfig(sd); err != nil {
		return fmt.Errorf("service discovery config: %w", err)
	}
	return nil
}

// Run discovers and scrapes targets until ctx is done; the queues send
// what is scraped as it reaches the write-ahead log.
func (c *Collector) Run(ctx context.Context) error {
	var g run.Group
	g.Add(func() error { return c.discovery.Run() }, func(error) { c.cancelDiscovery() })
	g.Add(func() error { return c.scrape.Run(c.discovery.SyncCh()) }, func(error) { c.scrape.Stop() })
	g.Add(func() error { <-ctx.Done(); return nil }, func(error) {})
	c.ready.Store(true)
	err := g.Run()
	c.ready.Store(false)
	return err
}

// Close flushes the queues (for at most the flush deadline) and closes the
// write-ahead log. Call it after Run has returned.
func (c *Collector) Close() error {
	c.cancelDiscovery()
	return c.storage.Close()
}

// Gatherer gathers the metrics of Prometheus's packages inside the collector.
func (c *Collector) Gatherer() prometheus.Gatherer { return c.internal }

// Handler serves /-/healthy and /-/ready (ready once scraping); the
// command serves Gatherer's metrics beside it.
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "meshlens collect is Healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !c.ready.Load() {
			http.Error(w, "meshlens collect is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "meshlens collect is Ready.")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "meshlens collect: scraping and sending by remote write; its metrics are on /metrics.")
	})
	return mux
}
