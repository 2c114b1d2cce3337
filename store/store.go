// Package store is meshlens's embedded single-node Prometheus: Prometheus's
// own TSDB, PromQL engine, scrape manager and service discovery, and its
// HTTP API v1 with the remote-write receiver, wired as one component.
package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/grafana/regexp"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/route"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/meshlens/meshlens/scraping"
)

// Options configure the store.
type Options struct {
	// DataDir holds the TSDB.
	DataDir string
	// Retention is how long samples are kept. Default 15 days, as Prometheus.
	Retention time.Duration
	// Config holds the scrape configuration (global and scrape_configs of
	// Prometheus's own format); nil scrapes nothing.
	Config *config.Config
	// RemoteWriteReceiver serves /api/v1/write.
	RemoteWriteReceiver bool
	// ListenAddress is reported by the API (status/flags, target URLs).
	ListenAddress string
	// QueryTimeout bounds each PromQL query. Default 2m.
	QueryTimeout time.Duration
	// RuleConcurrency is how many rules of a group that read none of each
	// other's series are evaluated at once, besides the group's own
	// goroutine (Prometheus's concurrent-rule-eval feature, and its
	// --rules.max-concurrent-evals). The graph's rule group is such rules,
	// one of them most of the group's work: evaluated one after the other,
	// the others wait behind it. Default 4, as Prometheus's; 1 or less
	// evaluates every rule in turn (negative values mean 1).
	RuleConcurrency int
	// Flags are shown by /api/v1/status/flags.
	Flags   map[string]string
	Version string
	Logger  *slog.Logger
	// Registerer takes meshlens's own metrics about the store (meshlens_store_*).
	Registerer prometheus.Registerer
}

// DefaultRuleConcurrency is Options.RuleConcurrency's default.
const DefaultRuleConcurrency = 4

// Store is a running embedded Prometheus.
type Store struct {
	opts   Options
	logger *slog.Logger

	db      *tsdb.DB
	engine  *promql.Engine
	scraper *scraping.Scraper
	// rules evaluates the configuration's rule_files (recording rules,
	// such as the graph's); ruleFiles are their names, globs expanded.
	rules     *rules.Manager
	ruleFiles []string
	// internal holds the metrics of Prometheus's packages (prometheus_*),
	// apiMetrics those of the HTTP API (kept apart, see newAPI).
	internal, apiMetrics *prometheus.Registry

	started time.Time
	ready   atomic.Bool
	handler http.Handler
	// answers lends the API's answers their buffers.
	answers answerBuffers

	closeOnce sync.Once
}

// Open opens (or creates) the TSDB and builds every component; Run starts them.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention <= 0 {
		opts.Retention = 15 * 24 * time.Hour
	}
	if opts.ListenAddress == "" {
		// The targets API derives global URLs from it and reports an error without one.
		opts.ListenAddress = "127.0.0.1:9090"
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 2 * time.Minute
	}
	if opts.Config == nil {
		cfg, err := config.Load("", opts.Logger)
		if err != nil {
			return nil, err
		}
		opts.Config = cfg
	}
	if opts.DataDir == "" {
		return nil, errors.New("store needs a data directory")
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	s := &Store{opts: opts, logger: opts.Logger, internal: prometheus.NewRegistry(), apiMetrics: prometheus.NewRegistry(), started: time.Now()}

	tsdbOpts := tsdb.DefaultOptions()
	tsdbOpts.RetentionDuration = opts.Retention.Milliseconds()
	db, err := tsdb.Open(opts.DataDir, opts.Logger.With("component", "tsdb"), s.internal, tsdbOpts, nil)
	if err != nil {
		return nil, fmt.Errorf("open TSDB in %s: %w", opts.DataDir, err)
	}
	s.db = db

	s.engine = promql.NewEngine(promql.EngineOpts{
		Logger:               opts.Logger.With("component", "query engine"),
		Reg:                  s.internal,
		MaxSamples:           50_000_000,
		Timeout:              opts.QueryTimeout,
		LookbackDelta:        5 * time.Minute,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               parser.NewParser(parser.Options{}),
	})

	s.scraper, err = scraping.New(db, s.internal, opts.Logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(newTargetHealth(s.scraper.Manager)); err != nil {
			s.scraper.Close()
			db.Close()
			return nil, err
		}
	}
	if err := s.scraper.ApplyConfig(opts.Config); err != nil {
		s.scraper.Close()
		db.Close()
		return nil, err
	}
	if opts.RuleConcurrency == 0 {
		opts.RuleConcurrency = DefaultRuleConcurrency
	}
	s.rules = rules.NewManager(&rules.ManagerOptions{
		AppendableV2: db, Queryable: db,
		ConcurrentEvalsEnabled: opts.RuleConcurrency > 1, MaxConcurrentEvals: int64(max(opts.RuleConcurrency, 1)),
		QueryFunc:  rules.EngineQueryFunc(s.engine, db),
		NotifyFunc: func(context.Context, string, ...*rules.Alert) {}, // no Alertmanager: alerts only show in /api/v1/alerts
		Context:    context.Background(),
		Logger:     opts.Logger.With("component", "rule manager"),
		Registerer: s.internal,
		Parser:     parser.NewParser(parser.Options{}),
	})
	if err := s.loadRuleFiles(opts.Config); err != nil {
		s.scraper.Close()
		db.Close()
		return nil, err
	}
	s.handler = s.newHandler()
	return s, nil
}

// loadRuleFiles expands the rule_files globs of cfg and checks every file,
// so that a bad rule fails Open with the file's own error messages.
func (s *Store) loadRuleFiles(cfg *config.Config) error {
	var files []string
	for _, pattern := range cfg.RuleFiles {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return fmt.Errorf("rule_files: %q: %w", pattern, err)
		}
		files = append(files, matches...)
	}
	g := cfg.GlobalConfig
	if _, errs := s.rules.LoadGroups(time.Duration(g.EvaluationInterval), g.ExternalLabels, "", nil, false, files...); len(errs) > 0 {
		return fmt.Errorf("rule_files: %w", errors.Join(errs...))
	}
	s.ruleFiles = files
	return nil
}

// Run discovers and scrapes targets, and evaluates rules, until ctx is done.
func (s *Store) Run(ctx context.Context) error {
	var g run.Group
	s.scraper.Add(&g)
	// Rule groups start only once the manager runs: update it here, where
	// it is sure to be stopped again.
	glob := s.opts.Config.GlobalConfig
	if err := s.rules.Update(time.Duration(glob.EvaluationInterval), s.ruleFiles, glob.ExternalLabels, "", nil); err != nil {
		return fmt.Errorf("rule_files: %w", err)
	}
	g.Add(func() error { s.rules.Run(); return nil }, func(error) { s.rules.Stop() })
	g.Add(func() error { <-ctx.Done(); return nil }, func(error) {})
	s.ready.Store(true)
	err := g.Run()
	s.ready.Store(false)
	return err
}

// Close flushes and closes the TSDB. Call it after Run has returned.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.scraper.Close()
		err = s.db.Close()
	})
	return err
}

// Handler serves the Prometheus HTTP API under /api/v1, /-/healthy, /-/ready
// and the store's own metrics on /metrics.
func (s *Store) Handler() http.Handler { return s.handler }

// Engine is the PromQL engine, for queries inside the process.
func (s *Store) Engine() *promql.Engine { return s.engine }

// Queryable reads the TSDB, for queries inside the process.
func (s *Store) Queryable() storage.Queryable { return s.db }

// Gatherer gathers the metrics of Prometheus's own packages inside the store.
func (s *Store) Gatherer() prometheus.Gatherer {
	return prometheus.Gatherers{s.internal, s.apiMetrics}
}

func (s *Store) newHandler() http.Handler {
	api := newAPI(s, s.apiMetrics)
	api.ClearCodecs()
	api.InstallCodec(s.answers.codec())
	router := route.New()
	api.Register(router.WithPrefix("/api/v1"))

	mux := http.NewServeMux()
	mux.Handle("/api/v1/", s.answers.handler(router))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "meshlens store is Healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "meshlens store is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "meshlens store is Ready.")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "meshlens store: the Prometheus HTTP API is under /api/v1 (e.g. /api/v1/query?query=up).\n")
	})
	return mux
}

func (s *Store) runtimeInfo() (runtimeInfo, error) {
	host, _ := os.Hostname()
	cwd, _ := os.Getwd()
	return runtimeInfo{
		StartTime: s.started, CWD: cwd, Hostname: host, ServerTime: time.Now().UTC(),
		ReloadConfigSuccess: true, LastConfigTime: s.started,
		GoroutineCount: runtime.NumGoroutine(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GOGC: os.Getenv("GOGC"), GODEBUG: os.Getenv("GODEBUG"), StorageRetention: s.opts.Retention.String(),
	}, nil
}

var anyOrigin = regexp.MustCompile(`^(?s:.*)$`)
