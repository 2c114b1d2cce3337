package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meshlens/meshlens/amp"
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
	var upload ampRulesFlags
	cmd.Flag("amp.workspace-id", "Put the rules into this Amazon Managed Service for Prometheus workspace's ruler (a rule groups namespace), instead of printing them.").PlaceHolder("ws-…").StringVar(&upload.workspaceID)
	cmd.Flag("amp.workspace-alias", "Put the rules into the workspace with this alias (looked up as `aws amp list-workspaces --alias` does).").StringVar(&upload.alias)
	cmd.Flag("amp.region", "The workspace's region; default the AWS configuration's (AWS_REGION).").StringVar(&upload.region)
	cmd.Flag("amp.namespace", "Name of the rule groups namespace: created, or replaced when it exists.").Default("meshlens-graph").StringVar(&upload.namespace)
	cmd.Flag("amp.wait", "How long to wait for the workspace to take the rules.").Default("2m").DurationVar(&upload.wait)
	commands["rules"] = func(ctx context.Context, _ *slog.Logger, out io.Writer) error {
		b, err := graph.RecordingRules(interval, splitComma(quantiles)...)
		if err != nil {
			return usageError{fmt.Errorf("--interval %s --quantiles %s: %w", interval, quantiles, err)}
		}
		if upload.workspaceID != "" || upload.alias != "" {
			return putRulesIntoAMP(ctx, upload, b, out)
		}
		_, err = out.Write(b)
		return err
	}
}

type ampRulesFlags struct {
	workspaceID, alias, region, namespace string
	wait                                  time.Duration
}

func putRulesIntoAMP(ctx context.Context, f ampRulesFlags, rules []byte, out io.Writer) error {
	if f.workspaceID != "" && f.alias != "" {
		return usageError{errors.New("give --amp.workspace-id or --amp.workspace-alias, not both")}
	}
	c, err := amp.New(ctx, f.region)
	if err != nil {
		return usageError{err}
	}
	id := f.workspaceID
	if f.alias != "" {
		w, err := c.WorkspaceByAlias(ctx, f.alias)
		if err != nil {
			return err
		}
		id = w.ID
	}
	msg, err := c.PutRules(ctx, id, f.namespace, rules, f.wait)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "meshlens rules: "+msg)
	return nil
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
