package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlens/meshlens/config"
	"github.com/meshlens/meshlens/console"
	"github.com/meshlens/meshlens/grafana"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/metrics"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/validate"
)

type serveConfig struct {
	prometheusFlags
	web            webFlags
	inventoryFiles []string
	maxQueries     int
}

// webFlags are the console's web flags, the same for serve and demo.
type webFlags struct {
	listenAddr  string
	listenSet   bool
	routePrefix string
	enablePprof bool
}

func (f *webFlags) register(cmd *kingpin.CmdClause, listenHelp string) {
	cmd.Flag("web.listen-address", listenHelp).Default("127.0.0.1:20001").IsSetByUser(&f.listenSet).StringVar(&f.listenAddr)
	cmd.Flag("web.route-prefix", "Path under which the console (UI, API, /metrics) is served, for a reverse proxy that forwards a sub-path; /kiali also answers, for links saved from Kiali.").Default("/").StringVar(&f.routePrefix)
	cmd.Flag("web.enable-pprof", "Serve Go's profiles under /debug/pprof/ on the console's address.").BoolVar(&f.enablePprof)
}

// options are the console's web options these flags set.
func (f webFlags) options(reg *prometheus.Registry, gatherer prometheus.Gatherer, ready func(context.Context) error) console.WebOptions {
	return console.WebOptions{RoutePrefix: f.routePrefix, Gatherer: gatherer, Registerer: reg, Ready: ready, EnablePprof: f.enablePprof}
}

// answers is a readiness check: q answers a query.
func answers(q promclient.Querier) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := q.Query(ctx, "vector(1)", time.Now())
		return err
	}
}

func registerServe(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c serveConfig
	cmd := app.Command("serve", "Serve the console's API against a Prometheus HTTP API (stateless; scale it out behind a load balancer).")
	c.prometheusFlags.register(cmd)
	cmd.Flag("prometheus.max-concurrent-queries", "Queries in flight to the Prometheus at most, for all requests together; identical ones are sent once.").Default("8").IntVar(&c.maxQueries)
	c.web.register(cmd, "Address of the console (UI and API).")
	cmd.Flag("inventory.file", "Kubernetes/Istio YAML file or directory to serve validations from (repeatable).").StringsVar(&c.inventoryFiles)
	commands["serve"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runServe(ctx, c, logger, out)
	}
}

func runServe(ctx context.Context, c serveConfig, logger *slog.Logger, out io.Writer) error {
	file, httpQ, err := c.prometheusFlags.open(ctx, logger)
	if err != nil {
		return err
	}
	if !c.web.listenSet && file.Server.Port > 0 {
		c.web.listenAddr = net.JoinHostPort(file.Server.Address, strconv.Itoa(file.Server.Port))
	}
	parts, err := consoleSettings(file)
	if err != nil {
		return err
	}
	if _, err := console.NormalizePrefix(c.web.routePrefix); err != nil {
		return usageError{fmt.Errorf("--web.route-prefix: %w", err)}
	}
	l, err := listen("web.listen-address", c.web.listenAddr)
	if err != nil {
		return err
	}
	reg := newRegistry()
	// Every graph, health and metrics query of every browser tab goes
	// through one bound, shared where they ask the same.
	q := promclient.NewShared(httpQ, c.maxQueries, reg)
	srv := parts.console(q, reg, logger)
	if len(c.inventoryFiles) > 0 {
		snap, errs := inventory.Load(c.inventoryFiles, nil)
		for _, e := range errs {
			if e.Warning {
				logger.Warn("inventory object read with a remark", "component", "inventory", "err", e)
				continue
			}
			logger.Warn("inventory file not loaded", "component", "inventory", "err", e)
		}
		srv.WithInventory(inventory.NewStatic(snap), validate.Options{RootNamespace: file.IstioNamespace}, reg)
	}
	web, err := srv.Web(c.web.options(reg, reg, answers(httpQ)))
	if err != nil {
		l.Close()
		return err
	}
	prefix, _ := console.NormalizePrefix(c.web.routePrefix)
	fmt.Fprintf(out, "meshlens serve: console on http://%s%s/ against %s\n", l.Addr(), prefix, httpQ.URL())
	var g run.Group
	addContext(&g, ctx)
	addServer(&g, l, web)
	return g.Run()
}

// loadConfig reads the console's config file (an empty one when path is
// empty), logging what in it is not read.
func loadConfig(path string, logger *slog.Logger) (*config.Config, error) {
	if path == "" {
		return &config.Config{}, nil
	}
	file, warnings, err := config.Load(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--config: %w", err)}
	}
	for _, w := range warnings {
		logger.Warn("config file", "component", "config", "file", path, "warning", w)
	}
	return file, nil
}

// consoleParts are what a config file sets of the console: read and
// checked before anything starts, for serve and demo alike.
type consoleParts struct {
	tolerances *health.Config
	// linker is nil when Grafana is not enabled.
	linker *grafana.Linker
	custom []metrics.CustomDashboard
}

// consoleSettings reads the console's parts from a config file.
func consoleSettings(file *config.Config) (consoleParts, error) {
	p := consoleParts{custom: file.ExternalServices.CustomDashboards}
	var err error
	if p.tolerances, err = health.NewConfig(file.HealthConfig.Rate); err != nil {
		return p, usageError{fmt.Errorf("health_config: %w", err)}
	}
	if gf := file.ExternalServices.Grafana; gf.Enabled {
		if p.linker, err = grafanaLinker(gf, file.ExternalServices.Istio.IstioIdentityDomain); err != nil {
			return p, usageError{fmt.Errorf("external_services.grafana: %w", err)}
		}
	}
	return p, nil
}

// console is the console's API on q: graph, health (the graph's appender
// judging by the same tolerances), metrics, Grafana's links and custom
// dashboards.
func (p consoleParts) console(q *promclient.Shared, reg prometheus.Registerer, logger *slog.Logger) *console.Server {
	srv := console.New(graph.NewBuilder(q, reg).WithHealth(p.tolerances), logger).
		WithHealth(health.NewChecker(q, p.tolerances)).WithMetrics(metrics.NewReader(q)).WithCustomDashboards(p.custom).
		WithTelemetry(q)
	if p.linker != nil {
		srv.WithGrafana(p.linker)
	}
	return srv
}

// kialiDashboards are the dashboards Kiali links to when its config names
// none, with the variables it fills in.
var kialiDashboards = []grafana.LinkConfig{
	{Name: grafana.ServiceTitle, Variables: map[string]string{"namespace": "var-namespace", "service": "var-service", "datasource": "var-datasource"}},
	{Name: grafana.WorkloadTitle, Variables: map[string]string{"namespace": "var-namespace", "workload": "var-workload", "datasource": "var-datasource"}},
}

// grafanaLinker finds the configured dashboards through Grafana's
// in-cluster URL (its URL when none), for links on its URL.
func grafanaLinker(g config.Grafana, serviceDomain string) (*grafana.Linker, error) {
	if g.Address() == "" {
		return nil, fmt.Errorf("url or external_url (Grafana as browsers reach it) is required")
	}
	at := g.InClusterAddress()
	rt, err := g.Auth.RoundTripper(context.Background(), nil, "grafana")
	if err != nil {
		return nil, err
	}
	client, err := grafana.NewClient(at, rt)
	if err != nil {
		return nil, err
	}
	dashboards := kialiDashboards
	if len(g.Dashboards) > 0 {
		dashboards = nil
		for _, d := range g.Dashboards {
			dashboards = append(dashboards, grafana.LinkConfig{Name: d.Name, Variables: d.Variables})
		}
	}
	return grafana.NewLinker(client, grafana.LinkerOptions{ExternalURL: g.Address(), Dashboards: dashboards, ServiceDomain: serviceDomain, DatasourceUID: g.DatasourceUID}), nil
}
