package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/config"

	"github.com/meshlens/meshlens/console"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/simulate"
	"github.com/meshlens/meshlens/store"
	"github.com/meshlens/meshlens/validate"
)

type meshFlags struct {
	services    int
	namespaces  int
	seed        uint64
	metricsOnly bool
	loadRate    float64
	scenario    string
	callTimeout time.Duration
}

func (m *meshFlags) register(cmd *kingpin.CmdClause) {
	cmd.Flag("services", "Simulate a synthetic layered mesh of this many services instead of bookinfo (every fourth service has two versions).").IntVar(&m.services)
	cmd.Flag("namespaces", "Namespaces of the synthetic mesh (default: one per 80 services).").IntVar(&m.namespaces)
	cmd.Flag("seed", "Seed of the synthetic mesh: the same seed builds the same mesh.").Default("1").Uint64Var(&m.seed)
	cmd.Flag("metrics-only", "Emit the sidecars' metrics without running the services (for large synthetic meshes).").BoolVar(&m.metricsOnly)
	cmd.Flag("load.rate", "Requests per second sent into the mesh from outside.").Default("5").Float64Var(&m.loadRate)
	cmd.Flag("scenario", "YAML file of faults to set at start (faults: [{namespace, workload, errorRate, errorCode, delay, down, abort, injectDelay}]) and mTLS per namespace (mtls: {bookinfo: false}).").ExistingFileVar(&m.scenario)
	cmd.Flag("call-timeout", "Timeout of each call between simulated workloads.").Default("2s").DurationVar(&m.callTimeout)
}

func (m *meshFlags) mesh() (*simulate.Mesh, string, error) {
	if m.services <= 0 {
		mesh := simulate.Bookinfo()
		return mesh, "bookinfo", nil
	}
	mesh, err := simulate.Synthetic(simulate.SyntheticOptions{Services: m.services, Namespaces: m.namespaces, Seed: m.seed})
	if err != nil {
		return nil, "", usageError{err}
	}
	return mesh, fmt.Sprintf("synthetic mesh (seed %d)", m.seed), nil
}

// start runs the mesh the flags describe, with its faults and load.
func (m *meshFlags) start(logger *slog.Logger, reg prometheus.Registerer) (simulate.Runner, *simulate.LoadGenerator, string, error) {
	mesh, name, err := m.mesh()
	if err != nil {
		return nil, nil, "", err
	}
	faults := simulate.NewFaults(mesh)
	if m.scenario != "" {
		sc, err := simulate.LoadScenario(m.scenario)
		if err != nil {
			return nil, nil, "", usageError{err}
		}
		if err := sc.Apply(mesh); err != nil {
			return nil, nil, "", usageError{fmt.Errorf("scenario %s: %w", m.scenario, err)}
		}
		for _, f := range sc.Faults {
			if err := faults.Set(f); err != nil {
				return nil, nil, "", usageError{fmt.Errorf("scenario %s: %w", m.scenario, err)}
			}
		}
	}
	if m.metricsOnly {
		e, err := simulate.NewEmitter(simulate.EmitterOptions{Mesh: mesh, Faults: faults, Rate: m.loadRate, Logger: logger})
		return e, nil, name, err
	}
	sim, err := simulate.Start(simulate.Options{Mesh: mesh, Faults: faults, CallTimeout: m.callTimeout, Logger: logger})
	if err != nil {
		return nil, nil, "", err
	}
	return sim, simulate.NewLoadGenerator(sim, m.loadRate, reg), name, nil
}

type demoConfig struct {
	mesh           meshFlags
	scrapeInterval time.Duration
	dataDir        string
	retention      time.Duration
	storeAddr      string
	web            webFlags
	printConfig    bool
	configFile     string
}

func registerDemo(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c demoConfig
	cmd := app.Command("demo", "Run a simulated Istio mesh, scrape it into the embedded store and serve the Prometheus API, all in one process.")
	c.mesh.register(cmd)
	cmd.Flag("scrape-interval", "How often the sidecars are scraped (Istio's Prometheus add-on uses 15s).").Default("15s").DurationVar(&c.scrapeInterval)
	cmd.Flag("data-dir", "Where the store keeps its data (default: a temporary directory removed on exit).").StringVar(&c.dataDir)
	cmd.Flag("storage.tsdb.retention.time", "How long samples are kept.").Default("15d").SetValue(&durationValue{&c.retention})
	cmd.Flag("store.listen-address", "Address of the store's Prometheus HTTP API.").Default("127.0.0.1:9090").StringVar(&c.storeAddr)
	c.web.register(cmd, "Address of the console (UI and API, and the simulator's control API under /api/simulate).")
	cmd.Flag("config", "The console's YAML config file, laid out as Kiali's: the demo reads health_config, external_services.grafana and .istio, and istio_namespace (its store is its own Prometheus).").StringVar(&c.configFile)
	cmd.Flag("print-prometheus-config", "Print a prometheus.yml that scrapes the running demo's sidecars (through http_sd on --web.listen-address), and exit.").BoolVar(&c.printConfig)
	commands["demo"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		if c.printConfig {
			fmt.Fprint(out, demoPrometheusConfig(c.web.listenAddr, c.scrapeInterval))
			return nil
		}
		d, err := startDemo(c, logger)
		if err != nil {
			return err
		}
		d.printBanner(out)
		return d.run(ctx)
	}
}

// demoPrometheusConfig is the prometheus.yml another Prometheus uses to
// scrape the same sidecars as the demo's embedded store.
func demoPrometheusConfig(webAddr string, interval time.Duration) string {
	return simulate.ScrapeConfig{Interval: interval, TargetsURL: "http://" + webAddr + "/api/simulate/targets"}.YAML()
}

// demo is everything `meshlens demo` runs.
type demo struct {
	logger     *slog.Logger
	meshName   string
	runner     simulate.Runner
	load       *simulate.LoadGenerator
	store      *store.Store
	storeL     net.Listener
	webL       net.Listener
	web        http.Handler
	prefix     string
	console    *console.Server
	dataDir    string
	removeData bool
	configFile string
	started    time.Time
}

func startDemo(c demoConfig, logger *slog.Logger) (_ *demo, err error) {
	d := &demo{logger: logger, started: time.Now()}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if c.scrapeInterval <= 0 {
		return nil, usageError{fmt.Errorf("--scrape-interval must be positive, got %s", c.scrapeInterval)}
	}
	file, err := loadConfig(c.configFile, logger)
	if err != nil {
		return nil, err
	}
	if file.ExternalServices.Prometheus.URL != "" {
		logger.Warn("config file: external_services.prometheus is ignored; the demo reads its own store", "component", "config", "file", c.configFile)
	}
	parts, err := consoleSettings(file)
	if err != nil {
		return nil, err
	}
	if d.storeL, err = listen("store.listen-address", c.storeAddr); err != nil {
		return nil, err
	}
	if _, err := console.NormalizePrefix(c.web.routePrefix); err != nil {
		return nil, usageError{fmt.Errorf("--web.route-prefix: %w", err)}
	}
	if d.webL, err = listen("web.listen-address", c.web.listenAddr); err != nil {
		return nil, err
	}
	d.dataDir = c.dataDir
	if d.dataDir == "" {
		if d.dataDir, err = os.MkdirTemp("", "meshlens-demo-"); err != nil {
			return nil, err
		}
		d.removeData = true
	}
	reg := newRegistry()
	if d.runner, d.load, d.meshName, err = c.mesh.start(logger, reg); err != nil {
		return nil, err
	}
	sdDir := filepath.Join(d.dataDir, "sd")
	if err := os.MkdirAll(sdDir, 0o755); err != nil {
		return nil, err
	}
	targetsFile := filepath.Join(sdDir, "simulator.json")
	if err := simulate.WriteTargetsFile(targetsFile, d.runner.Targets()); err != nil {
		return nil, fmt.Errorf("write scrape targets: %w", err)
	}
	rulesFile := filepath.Join(d.dataDir, "meshlens-rules.yml")
	if err := writeRules(rulesFile, c.scrapeInterval); err != nil {
		return nil, err
	}
	yml := simulate.ScrapeConfig{Interval: c.scrapeInterval, TargetsFile: targetsFile, RuleFiles: []string{rulesFile}}.YAML()
	d.configFile = filepath.Join(d.dataDir, "prometheus.yml")
	if err := os.WriteFile(d.configFile, []byte(yml), 0o644); err != nil {
		return nil, err
	}
	cfg, err := config.Load(yml, logger)
	if err != nil {
		return nil, fmt.Errorf("scrape config: %w", err)
	}
	d.store, err = store.Open(store.Options{
		DataDir: filepath.Join(d.dataDir, "tsdb"), Retention: c.retention, Config: cfg,
		RemoteWriteReceiver: true, ListenAddress: d.storeL.Addr().String(), Version: version,
		Flags:  map[string]string{"scrape-interval": c.scrapeInterval.String(), "data-dir": d.dataDir},
		Logger: logger, Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	querier := promclient.NewShared(promclient.NewEngine(d.store.Engine(), d.store.Queryable(), c.scrapeInterval), 8, reg)
	d.console = parts.console(querier, reg, logger)
	// The simulator's pods are the truth: one of every workload, none of
	// one a fault took down.
	inv, loadErrs := simulate.NewInventory(d.runner)
	for _, e := range loadErrs {
		logger.Error("the simulated mesh's manifests do not load", "component", "demo", "err", e)
	}
	d.console.WithInventory(inv, validate.Options{RootNamespace: file.IstioNamespace}, reg)
	o := c.web.options(reg, prometheus.Gatherers{reg, d.store.Gatherer()}, answers(querier))
	o.Mounts = map[string]http.Handler{"/api/simulate/": simulate.ControlHandler(d.runner)}
	if d.web, err = d.console.Web(o); err != nil {
		return nil, err
	}
	d.prefix, _ = console.NormalizePrefix(c.web.routePrefix)
	return d, nil
}

func (d *demo) printBanner(out io.Writer) {
	mesh := d.runner.Mesh()
	namespaces := map[string]bool{}
	for _, w := range mesh.Workloads {
		namespaces[w.Namespace] = true
	}
	storeURL := "http://" + d.storeL.Addr().String()
	webURL := "http://" + d.webL.Addr().String() + d.prefix
	query := `sum(rate(istio_requests_total{reporter="destination"}[1m])) by (destination_workload)`
	fmt.Fprintf(out, "meshlens demo: %s, %d workloads in %d namespaces\n", d.meshName, len(mesh.Workloads), len(namespaces))
	fmt.Fprintf(out, "  Prometheus API  %s/api/v1/   (scraping every sidecar; rates appear after two scrapes)\n", storeURL)
	fmt.Fprintf(out, "  console         %s/graph?namespaces=%s\n", webURL, d.namespaces())
	if sim, ok := d.runner.(*simulate.Sim); ok {
		fmt.Fprintf(out, "  mesh ingress    %s\n", sim.IngressURL())
	}
	fmt.Fprintf(out, "  graph API       %s/api/namespaces/graph?namespaces=%s\n", webURL, d.namespaces())
	fmt.Fprintf(out, "  faults          %s/api/simulate/faults\n", webURL)
	fmt.Fprintf(out, "  scrape config   %s\n", d.configFile)
	if d.removeData {
		fmt.Fprintf(out, "  data            %s (removed on exit; keep it with --data-dir)\n", d.dataDir)
	} else {
		fmt.Fprintf(out, "  data            %s\n", d.dataDir)
	}
	fmt.Fprintf(out, "Try:\n  curl -s %s/api/v1/query --data-urlencode 'query=%s'\n", storeURL, query)
	fmt.Fprintf(out, "  %s/api/v1/query?query=%s\n", storeURL, url.QueryEscape(query))
	fmt.Fprintf(out, "Press Ctrl-C to stop.\n")
}

// run serves until ctx is done or a component fails, then stops everything
// in order and flushes the store.
func (d *demo) run(ctx context.Context) error {
	var g run.Group
	addContext(&g, ctx)
	addActor(&g, d.store.Run)
	addActor(&g, d.runner.Run)
	if d.load != nil {
		addActor(&g, d.load.Run)
	}
	addServer(&g, d.storeL, withPprof(d.store.Handler()))
	addServer(&g, d.webL, d.web)
	d.logger.Info("demo started", "component", "demo", "took", time.Since(d.started).Round(time.Millisecond))
	err := g.Run()
	d.close()
	d.logger.Info("demo stopped", "component", "demo")
	return err
}

// addActor runs f until g stops.
func addActor(g *run.Group, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	g.Add(func() error { return f(ctx) }, func(error) { cancel() })
}

func (d *demo) close() {
	if d.runner != nil {
		d.runner.Close()
	}
	if d.store != nil {
		if err := d.store.Close(); err != nil {
			d.logger.Error("closing the store", "component", "demo", "err", err)
		}
	}
	for _, l := range []net.Listener{d.storeL, d.webL} {
		if l != nil {
			l.Close()
		}
	}
	if d.removeData && d.dataDir != "" {
		os.RemoveAll(d.dataDir)
	}
}

// namespaces lists the mesh's namespaces, comma-separated, for example URLs.
func (d *demo) namespaces() string {
	seen := map[string]bool{}
	var out []string
	for _, w := range d.runner.Mesh().Workloads {
		if !seen[w.Namespace] {
			seen[w.Namespace] = true
			out = append(out, w.Namespace)
		}
	}
	return strings.Join(out, ",")
}
