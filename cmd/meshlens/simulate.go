package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/alecthomas/kingpin/v2"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meshlens/meshlens/simulate"
)

func registerSimulate(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var (
		m          meshFlags
		listenAddr string
	)
	cmd := app.Command("simulate", "Run a simulated Istio mesh on loopback, with sidecar metrics for any Prometheus to scrape (targets through http_sd).")
	m.register(cmd)
	cmd.Flag("listen-address", "Address of the control API: /api/simulate/targets (http_sd) and /api/simulate/faults.").Default("127.0.0.1:15000").StringVar(&listenAddr)
	commands["simulate"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runSimulate(ctx, m, listenAddr, logger, out)
	}
}

func runSimulate(ctx context.Context, m meshFlags, listenAddr string, logger *slog.Logger, out io.Writer) error {
	l, err := listen("listen-address", listenAddr)
	if err != nil {
		return err
	}
	reg := newRegistry()
	runner, load, name, err := m.start(logger, reg)
	if err != nil {
		l.Close()
		return err
	}
	defer runner.Close()
	fmt.Fprintf(out, "meshlens simulate: %s, %d workloads; control API on http://%s/api/simulate/\n", name, len(runner.Mesh().Workloads), l.Addr())
	if sim, ok := runner.(*simulate.Sim); ok {
		fmt.Fprintf(out, "  mesh ingress %s\n", sim.IngressURL())
	}
	fmt.Fprintf(out, "Prometheus config to scrape it:\n%s", simulate.ScrapeConfig{TargetsURL: "http://" + l.Addr().String() + "/api/simulate/targets"}.YAML())
	var g run.Group
	addContext(&g, ctx)
	addActor(&g, runner.Run)
	if load != nil {
		addActor(&g, load.Run)
	}
	addServer(&g, l, withPprof(withRegistry(simulate.ControlHandler(runner), reg)))
	return g.Run()
}

// withRegistry adds /metrics with meshlens's own metrics to h.
func withRegistry(h http.Handler, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.Handle("/", h)
	return mux
}
