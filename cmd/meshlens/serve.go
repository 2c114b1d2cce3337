package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meshlens/meshlens/console"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/metrics"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/validate"
)

type serveConfig struct {
	prometheusURL  string
	scrapeInterval time.Duration
	timeout        time.Duration
	listenAddr     string
	inventoryFiles []string
}

func registerServe(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c serveConfig
	cmd := app.Command("serve", "Serve the console's API against a Prometheus HTTP API (stateless; scale it out behind a load balancer).")
	cmd.Flag("prometheus.url", "URL of the Prometheus HTTP API.").Default("http://127.0.0.1:9090").StringVar(&c.prometheusURL)
	cmd.Flag("prometheus.scrape-interval", "Scrape interval of the data, when the server does not serve its config (AMP, Mimir).").DurationVar(&c.scrapeInterval)
	cmd.Flag("prometheus.timeout", "Timeout of each query.").Default("30s").DurationVar(&c.timeout)
	cmd.Flag("web.listen-address", "Address of the console.").Default("127.0.0.1:20001").StringVar(&c.listenAddr)
	cmd.Flag("inventory.file", "Kubernetes/Istio YAML file or directory to serve validations from (repeatable).").StringsVar(&c.inventoryFiles)
	commands["serve"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runServe(ctx, c, logger, out)
	}
}

func runServe(ctx context.Context, c serveConfig, logger *slog.Logger, out io.Writer) error {
	q, err := promclient.NewHTTP(promclient.HTTPOptions{URL: c.prometheusURL, Timeout: c.timeout, ScrapeInterval: c.scrapeInterval})
	if err != nil {
		return usageError{err}
	}
	l, err := listen("web.listen-address", c.listenAddr)
	if err != nil {
		return err
	}
	reg := newRegistry()
	srv := console.New(graph.NewBuilder(q, reg), logger).WithHealth(health.NewChecker(q, nil)).WithMetrics(metrics.NewReader(q))
	if len(c.inventoryFiles) > 0 {
		snap, errs := inventory.Load(c.inventoryFiles, nil)
		for _, e := range errs {
			if e.Warning {
				logger.Warn("inventory object read with a remark", "component", "inventory", "err", e)
				continue
			}
			logger.Warn("inventory file not loaded", "component", "inventory", "err", e)
		}
		srv.WithInventory(inventory.NewStatic(snap), validate.Options{}, reg)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", srv.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "meshlens is Healthy.") })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "meshlens is Ready.") })
	fmt.Fprintf(out, "meshlens serve: console API on http://%s/api/ against %s\n", l.Addr(), c.prometheusURL)
	var g run.Group
	addContext(&g, ctx)
	addServer(&g, l, mux)
	return g.Run()
}
