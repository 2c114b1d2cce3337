package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meshlens/meshlens/graph"
)

func registerRules(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var (
		interval  time.Duration
		quantiles string
	)
	cmd := app.Command("rules", "Print the recording rules that make graphs fast (per-edge response times), as a Prometheus rule file: "+
		"for rule_files of Prometheus or 'meshlens store', or the rulers of AMP, Mimir and Thanos. Without them graphs still work, computing response times from the histogram buckets.")
	cmd.Flag("interval", "Evaluation interval: the scrape interval of the data (rates are over twice this).").Default("15s").DurationVar(&interval)
	cmd.Flag("quantiles", "Response time quantiles to record, comma-separated (50, 95, 99); each costs the rate of every duration bucket of every edge at each evaluation. Others are computed from the buckets when a graph asks.").
		Default(strings.Join(graph.DefaultRecordedQuantiles, ",")).StringVar(&quantiles)
	commands["rules"] = func(_ context.Context, _ *slog.Logger, out io.Writer) error {
		b, err := graph.RecordingRules(interval, splitComma(quantiles)...)
		if err != nil {
			return usageError{fmt.Errorf("--interval %s --quantiles %s: %w", interval, quantiles, err)}
		}
		_, err = out.Write(b)
		return err
	}
}

// writeRules writes the graph's recording rules for data scraped every
// interval to path.
func writeRules(path string, interval time.Duration) error {
	b, err := graph.RecordingRules(interval)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write the graph's recording rules: %w", err)
	}
	return nil
}
