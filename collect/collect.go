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
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/agent"

	"github.com/meshlens/meshlens/scraping"
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
	// ReplayMaxAge bounds how far back a start resumes from a savepoint.
	// Default 2h (the agent keeps at most 4h of log).
	ReplayMaxAge time.Duration
	// ReplayTimeout bounds how long a start may spend sending what the
	// queues owed before scraping resumes. Default 5m.
	ReplayTimeout time.Duration
	// SavepointInterval is how often savepoints are saved. Default 5s.
	SavepointInterval time.Duration
	// AggregateWorkloads sums Istio's counters over AggregatedLabels (pod,
	// instance) before they are kept and sent (see aggregator).
	AggregateWorkloads bool
	Logger             *slog.Logger
}

// Collector is a running agent.
type Collector struct {
	opts   Options
	logger *slog.Logger

	db      *agent.DB
	remote  *remote.Storage
	storage storage.Storage // the agent WAL, and the remote storage's tracker of what was appended
	scraper *scraping.Scraper
	// internal holds the metrics of Prometheus's packages, under the names
	// Prometheus's agent gives them (prometheus_remote_storage_*,
	// prometheus_agent_*, prometheus_target_*, prometheus_sd_*).
	internal *prometheus.Registry

	ready atomic.Bool

	replay *replayMetrics
	// sentUntil is each queue's savepoint (see savepoint.go).
	sentUntil map[string]int64
	// minInterval is the shortest scrape interval of the configuration,
	// which bounds the savepoints' margin.
	minInterval time.Duration
	// queues keeps the remote storage's metrics, of which the queues'
	// highest acknowledged timestamps make the savepoints.
	queues *keepingRegisterer
	// aggregate, when set, sums Istio's counters over pods.
	aggregate *aggregator
}

// keepingRegisterer registers as the one it wraps does, and keeps what it
// registered: Prometheus unregisters a queue's metrics when the queue
// stops, after its last flush, whose progress the last savepoint wants.
type keepingRegisterer struct {
	prometheus.Registerer
	mu   sync.Mutex
	kept []prometheus.Collector
}

func (k *keepingRegisterer) Register(c prometheus.Collector) error {
	if err := k.Registerer.Register(c); err != nil {
		return err
	}
	k.mu.Lock()
	k.kept = append(k.kept, c)
	k.mu.Unlock()
	return nil
}

func (k *keepingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := k.Register(c); err != nil {
			panic(err)
		}
	}
}

// gather gathers what was ever registered, registered or not now.
func (k *keepingRegisterer) gather() ([]*dto.MetricFamily, error) {
	r := prometheus.NewRegistry()
	k.mu.Lock()
	for _, c := range k.kept {
		r.Register(c) // a collector registered twice is gathered once
	}
	k.mu.Unlock()
	return r.Gather()
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
	if opts.ReplayMaxAge <= 0 {
		opts.ReplayMaxAge = 2 * time.Hour
	}
	if opts.ReplayTimeout <= 0 {
		opts.ReplayTimeout = 5 * time.Minute
	}
	if opts.SavepointInterval <= 0 {
		opts.SavepointInterval = 5 * time.Second
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
	sentUntil, err := loadSavepoints(opts.WALDir)
	if corrupt, ok := errors.AsType[errCorruptSavepoints](err); ok {
		// Collecting matters more than what the file held: keep it aside
		// for a look, and start as if it were the first time.
		opts.Logger.Error("The savepoints do not read: what the queues owed when the collector stopped is not sent again", "err", err, "kept_as", corrupt.path+".corrupt")
		os.Rename(corrupt.path, corrupt.path+".corrupt")
		sentUntil, err = map[string]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	scfgs, err := opts.Config.GetScrapeConfigs()
	if err != nil {
		return nil, fmt.Errorf("scrape config: %w", err)
	}
	c := &Collector{opts: opts, logger: opts.Logger, internal: prometheus.NewRegistry(), sentUntil: sentUntil}
	for _, sc := range scfgs {
		if d := time.Duration(sc.ScrapeInterval); c.minInterval == 0 || d < c.minInterval {
			c.minInterval = d
		}
	}
	c.replay = newReplayMetrics(c.internal)
	c.queues = &keepingRegisterer{Registerer: c.internal}

	var sm scrapeManager
	// The agent keeps no blocks: there is no oldest sample for remote read.
	startTime := func() (int64, error) { return math.MaxInt64, nil }
	c.remote = remote.NewStorage(opts.Logger.With("component", "remote"), c.queues, startTime, opts.WALDir, opts.FlushDeadline, &sm, false)
	db, err := agent.Open(opts.Logger.With("component", "agent"), c.internal, c.remote, opts.WALDir, agent.DefaultOptions())
	if err != nil {
		c.remote.Close()
		return nil, fmt.Errorf("open the write-ahead log in %s: %w", opts.WALDir, err)
	}
	db.SetWriteNotified(c.remote)
	c.db = db
	c.storage = storage.NewFanout(opts.Logger, db, c.remote)

	var scraped storage.AppendableV2 = c.storage
	if opts.AggregateWorkloads {
		c.aggregate = newAggregator(c.storage, AggregatedLabels, time.Duration(opts.Config.GlobalConfig.ScrapeInterval), opts.Logger.With("component", "aggregate"))
		scraped = c.aggregate
	}
	c.scraper, err = scraping.New(scraped, c.internal, opts.Logger)
	if err != nil {
		c.storage.Close()
		return nil, err
	}
	sm.m = c.scraper.Manager
	if err := c.scraper.ApplyConfig(opts.Config); err != nil {
		c.scraper.Close()
		c.storage.Close()
		return nil, err
	}
	return c, nil
}

// Run first sends what each queue owed when the collector last stopped
// (from its savepoint to now), then starts the queues, which send what is
// scraped from then on as it reaches the write-ahead log, and discovers and
// scrapes targets until ctx is done.
func (c *Collector) Run(ctx context.Context) error {
	start := time.Now()
	c.resume(ctx, start.UnixMilli())
	if ctx.Err() != nil {
		return nil
	}
	if err := c.remote.ApplyConfig(c.opts.Config); err != nil {
		return fmt.Errorf("remote_write: %w", err)
	}
	var g run.Group
	// The savepoints (which return when ctx ends, and so stop the group)
	// and the aggregation stop when any actor does.
	bgctx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	g.Add(func() error { c.keepSavepoints(bgctx); return nil }, func(error) { stopBackground() })
	if c.aggregate != nil {
		g.Add(func() error { c.aggregate.run(bgctx); return nil }, func(error) { stopBackground() })
	}
	c.scraper.Add(&g)
	c.ready.Store(true)
	err := g.Run()
	c.ready.Store(false)
	return err
}

// Close flushes the queues (for at most the flush deadline), closes the
// write-ahead log and saves how far the queues got. Call it after Run has
// returned.
func (c *Collector) Close() error {
	c.scraper.Close()
	err := c.storage.Close()
	c.saveSavepoints()
	return err
}

// resume sends, for each queue with a savepoint, the samples the log holds
// after it and up to until; the queues themselves start from until. A
// queue without one (a first start, a new receiver) owed nothing: its
// savepoint starts at until.
func (c *Collector) resume(ctx context.Context, until int64) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReplayTimeout)
	defer cancel()
	oldest := until - c.opts.ReplayMaxAge.Milliseconds()
	for _, rw := range c.opts.Config.RemoteWriteConfigs {
		key := queueKey(rw)
		from, ok := c.sentUntil[key]
		if ok && from < until {
			if from < oldest {
				c.logger.Warn("A savepoint is older than the replay's maximum age: what was scraped before that is not sent", "queue", key,
					"savepoint", time.UnixMilli(from), "max_age", c.opts.ReplayMaxAge)
				from = oldest
			}
			if err := replayQueue(ctx, walDirOf(c.opts.WALDir), rw, c.opts.Config.GlobalConfig.ExternalLabels, from, until, c.logger, c.replay); err != nil {
				c.logger.Error("Could not resume from a savepoint", "queue", key, "err", err)
			}
		}
		c.sentUntil[key] = until
		c.replay.savepoint.WithLabelValues(key).Set(float64(until) / 1000)
	}
	if err := writeSavepoints(c.opts.WALDir, c.sentUntil); err != nil {
		c.logger.Error("Could not save savepoints", "dir", c.opts.WALDir, "err", err)
	}
}

// keepSavepoints saves the savepoints every SavepointInterval until ctx ends.
func (c *Collector) keepSavepoints(ctx context.Context) {
	t := time.NewTicker(c.opts.SavepointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.saveSavepoints()
		}
	}
}

// saveSavepoints moves each queue's savepoint to its highest acknowledged
// timestamp less the margin, and writes them when one moved.
func (c *Collector) saveSavepoints() {
	mfs, err := c.queues.gather()
	if err != nil {
		c.logger.Warn("Could not read the queues' progress", "err", err)
	}
	moved := false
	for _, mf := range mfs {
		if mf.GetName() != "prometheus_remote_storage_queue_highest_sent_timestamp_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var name, url string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "remote_name":
					name = l.GetValue()
				case "url":
					url = l.GetValue()
				}
			}
			sent := int64(m.GetGauge().GetValue()) * 1000
			if sent <= 0 {
				continue
			}
			for _, rw := range c.opts.Config.RemoteWriteConfigs {
				if (rw.Name != "" && rw.Name != name) || rw.URL.Redacted() != url {
					continue
				}
				key := queueKey(rw)
				if until := sent - savepointMargin(rw, c.minInterval).Milliseconds(); until > c.sentUntil[key] {
					c.sentUntil[key] = until
					c.replay.savepoint.WithLabelValues(key).Set(float64(until) / 1000)
					moved = true
				}
			}
		}
	}
	if moved {
		if err := writeSavepoints(c.opts.WALDir, c.sentUntil); err != nil {
			c.logger.Error("Could not save savepoints", "dir", c.opts.WALDir, "err", err)
		}
	}
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
