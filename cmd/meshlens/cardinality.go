package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meshlens/meshlens/cardinality"
	"github.com/meshlens/meshlens/collect"
	"github.com/meshlens/meshlens/promclient"
)

type cardinalityConfig struct {
	prometheusFlags
	thinning      string
	graphDuration time.Duration
	graphEvery    time.Duration
	queryPrice    float64
	top           int
	prices        string
	output        string
}

func registerCardinality(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c cardinalityConfig
	cmd := app.Command("cardinality", "Count a Prometheus's active series per metric and per label, what each --thinning preset of `meshlens collect` would leave, and what the samples cost to ingest into Amazon Managed Service for Prometheus before and after.")
	c.prometheusFlags.register(cmd)
	cmd.Flag("top", "How many metrics and labels to list.").Default("10").IntVar(&c.top)
	cmd.Flag("thinning", "Show only this preset beside none (all are shown by default).").StringVar(&c.thinning)
	cmd.Flag("graph.duration", "Window of the console's graph whose query cost is measured (the graph page's default).").Default("1m").DurationVar(&c.graphDuration)
	cmd.Flag("graph.refresh", "Refresh interval of that graph (the graph page's default); 0 measures no graph.").Default("15s").DurationVar(&c.graphEvery)
	cmd.Flag("query-price", "AMP's price of a billion query samples processed, in USD.").Default("0.10").Float64Var(&c.queryPrice)
	cmd.Flag("prices", "AMP's ingestion price bands, upTo:usdPer10M cumulative samples a month, when they differ from those meshlens knows ("+pricesText(cardinality.AMPPrices)+", read "+cardinality.AMPPrices.Date+").").StringVar(&c.prices)
	cmd.Flag("output", "table or json.").Short('o').Default("table").EnumVar(&c.output, "table", "json")
	commands["cardinality"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runCardinality(ctx, c, logger, out)
	}
}

func pricesText(p cardinality.Prices) string {
	parts := make([]string, len(p.Tiers))
	for i, t := range p.Tiers {
		parts[i] = fmt.Sprintf("%g:%.2f", t.UpTo, t.USDPer10M)
	}
	return strings.Join(parts, ",")
}

func runCardinality(ctx context.Context, c cardinalityConfig, logger *slog.Logger, out io.Writer) error {
	prices := cardinality.AMPPrices
	if c.prices != "" {
		p, err := cardinality.ParsePrices(c.prices, "given with --prices")
		if err != nil {
			return usageError{fmt.Errorf("--prices: %w", err)}
		}
		prices = p
	}
	if c.thinning != "" {
		if _, err := collect.ParseThinning(c.thinning); err != nil {
			return usageError{fmt.Errorf("--thinning: %w", err)}
		}
	}
	_, q, err := c.prometheusFlags.open(ctx, logger)
	if err != nil {
		return err
	}
	interval, err := q.ScrapeInterval(ctx)
	intervalFrom := "the store's configuration"
	switch {
	case c.scrapeInterval > 0:
		intervalFrom = "configured"
	case errors.Is(err, promclient.ErrIntervalAssumed):
		intervalFrom = "assumed: the store does not say it; set --prometheus.scrape-interval"
	case err != nil:
		return fmt.Errorf("scrape interval of %s: %w", q.URL(), err)
	}
	prices.QueryUSDPerBillion = c.queryPrice
	var refresh cardinality.GraphRefresh
	if c.graphEvery > 0 {
		if refresh, err = cardinality.MeasureGraph(ctx, q, q, c.graphDuration, c.graphEvery); err != nil {
			return fmt.Errorf("the graph's query cost on %s: %w", q.URL(), err)
		}
	}
	r, err := cardinality.Measure(ctx, q, cardinality.Options{ScrapeInterval: interval, Top: c.top, Prices: prices, Graph: refresh})
	if err != nil {
		return fmt.Errorf("cardinality of %s: %w", q.URL(), err)
	}
	if c.thinning != "" {
		r.Presets = slices.DeleteFunc(r.Presets, func(p cardinality.Preset) bool {
			return p.Name != string(collect.ThinningNone) && p.Name != c.thinning
		})
	}
	if c.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(out, "%d active series at %s in %s, scraped every %s (%s)\n\n", r.Series, r.At.UTC().Format("2006-01-02 15:04:05Z"), q.URL(), r.ScrapeInterval, intervalFrom)
	fmt.Fprintf(out, "%-14s %12s %12s %18s %14s  %s\n", "THINNING", "SERIES", "SAMPLES/S", "SAMPLES/MONTH", "AMP $/MONTH", "LABELS DROPPED")
	for _, p := range r.Presets {
		fmt.Fprintf(out, "%-14s %12d %12.0f %18.0f %14.2f  %s\n", p.Name, p.Series, p.SamplesPerSecond, p.SamplesPerMonth, p.MonthlyUSD, strings.Join(p.DroppedLabels, ","))
	}
	fmt.Fprintf(out, "\n%-50s %12s\n", "METRIC", "SERIES")
	for _, m := range r.Metrics {
		fmt.Fprintf(out, "%-50s %12d\n", m.Name, m.Series)
	}
	fmt.Fprintf(out, "\n%-50s %12s %12s\n", "LABEL", "VALUES", "SERIES")
	for _, l := range r.Labels {
		fmt.Fprintf(out, "%-50s %12d %12d\n", l.Name, l.Values, l.Series)
	}
	if g := r.Graph; g != nil {
		fmt.Fprintf(out, "\nThe console's graph of %d namespaces over %s, refreshed every %s by one tab: %d query samples a refresh, %.0f a month, $%s a month",
			len(g.Namespaces), g.Duration, g.Every, g.SamplesPerRefresh, g.SamplesPerMonth, strconv.FormatFloat(g.MonthlyUSD, 'g', 3, 64))
		if g.SamplesPerRefresh == 0 {
			fmt.Fprint(out, " (the store does not report the samples its queries read)")
		}
		fmt.Fprintln(out, ".")
	}
	fmt.Fprintf(out, "\nAMP prices (%s): ingestion per 10 million samples a month %s; queries $%.2f per billion samples; a month is 730 hours.\n", r.Prices.Date, pricesText(r.Prices), r.Prices.QueryUSDPerBillion)
	return nil
}
