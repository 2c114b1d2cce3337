package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meshlens/meshlens/graph"
)

type graphConfig struct {
	prometheusFlags
	namespaces   string
	graphType    string
	duration     time.Duration
	queryTime    int64
	output       string
	inject       bool
	responseTime string
	rateTCP      string
	rateHTTP     string
	rateGRPC     string
	compareTo    string
}

func registerGraph(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c graphConfig
	cmd := app.Command("graph", "Print the mesh's traffic graph from any Prometheus API: a table of edges with rate, error %, response time and mTLS, or JSON, DOT, Mermaid.")
	c.prometheusFlags.register(cmd)
	// The names graph had before it took serve's.
	cmd.Flag("prometheus", "Same as --prometheus.url.").Hidden().IsSetByUser(&c.urlSet).StringVar(&c.prometheusURL)
	cmd.Flag("scrape-interval", "Same as --prometheus.scrape-interval.").Hidden().IsSetByUser(&c.intervalSet).DurationVar(&c.scrapeInterval)
	cmd.Flag("timeout", "Same as --prometheus.timeout.").Hidden().IsSetByUser(&c.timeoutSet).DurationVar(&c.timeout)
	cmd.Flag("namespaces", "Comma-separated namespaces to graph.").Required().StringVar(&c.namespaces)
	cmd.Flag("type", "Graph type: app, versionedApp, workload or service.").Default("workload").EnumVar(&c.graphType, "app", "versionedApp", "workload", "service")
	cmd.Flag("duration", "Rate window (widened to twice the scrape interval when shorter).").Default("10m").SetValue(&durationValue{&c.duration})
	cmd.Flag("query-time", "Unix time (seconds) of the graph, for replay; default now.").Int64Var(&c.queryTime)
	cmd.Flag("output", "table, json (Kiali's graph API shape), dot or mermaid.").Short('o').Default("table").EnumVar(&c.output, "table", "json", "dot", "mermaid")
	cmd.Flag("inject-service-nodes", "Draw the service between caller and callee.").BoolVar(&c.inject)
	cmd.Flag("response-time", "Response time shown: avg, 50, 95 or 99.").Default("95").EnumVar(&c.responseTime, "avg", "50", "95", "99")
	cmd.Flag("rate-http", "HTTP rate shown: requests or none, as Kiali's rateHttp.").Default("requests").EnumVar(&c.rateHTTP, "requests", "none")
	cmd.Flag("rate-grpc", "gRPC rate shown: requests, sent or received messages, total messages, or none, as Kiali's rateGrpc.").Default("requests").EnumVar(&c.rateGRPC, "requests", "sent", "received", "total", "none")
	cmd.Flag("rate-tcp", "TCP rate shown: sent (bytes the caller sent), received, total or none, as Kiali's rateTcp.").Default("sent").EnumVar(&c.rateTCP, "sent", "received", "total", "none")
	cmd.Flag("compare-to", "Compare with the same graph earlier: a duration back (1h) or a Unix time; marks each edge new, gone, changed or same.").StringVar(&c.compareTo)
	commands["graph"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		_, q, err := c.prometheusFlags.open(ctx, logger)
		if err != nil {
			return err
		}
		o := graph.Options{
			Namespaces: splitComma(c.namespaces), Type: graph.Type(c.graphType), Duration: c.duration,
			InjectServiceNodes: c.inject, ResponseTime: c.responseTime, Throughput: "request", RateTCP: c.rateTCP,
			RateHTTP: c.rateHTTP, RateGRPC: c.rateGRPC,
		}
		if c.queryTime > 0 {
			o.QueryTime = time.Unix(c.queryTime, 0)
		}
		var g *graph.Graph
		if c.compareTo != "" {
			before, err := graph.CompareTime(c.compareTo, o.QueryTime)
			if err != nil {
				return usageError{fmt.Errorf("--compare-to: %w", err)}
			}
			g, err = graph.NewBuilder(q, nil).Compare(ctx, o, before, graph.DefaultThresholds)
		} else {
			g, err = graph.NewBuilder(q, nil).Build(ctx, o)
		}
		if errors.Is(err, graph.ErrBadRequest) {
			return usageError{err}
		}
		if err != nil {
			return fmt.Errorf("graph from %s: %w", q.URL(), err)
		}
		for _, w := range g.Warnings {
			logger.Warn(w)
		}
		switch c.output {
		case "json":
			return g.WriteJSON(out, "  ")
		case "dot":
			return g.WriteDOT(out)
		case "mermaid":
			return g.WriteMermaid(out)
		}
		return g.WriteTable(out)
	}
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
