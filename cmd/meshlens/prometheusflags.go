package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meshlens/meshlens/amp"
	"github.com/meshlens/meshlens/config"
	"github.com/meshlens/meshlens/promclient"
)

// prometheusFlags are the flags of every command that queries a
// Prometheus (serve, graph): the console's config file, and flags that win
// over it.
type prometheusFlags struct {
	configFile     string
	prometheusURL  string
	scrapeInterval time.Duration
	timeout        time.Duration
	ampAlias       string
	ampRegion      string
	// Which flags the user set: those win over the config file.
	urlSet, intervalSet, timeoutSet bool
}

func (f *prometheusFlags) register(cmd *kingpin.CmdClause) {
	cmd.Flag("config", "The console's YAML config file, laid out as Kiali's (external_services.prometheus with its auth: none, basic, bearer, sigv4; .grafana, health_config, istio_namespace, server); flags set on the command line win.").StringVar(&f.configFile)
	cmd.Flag("prometheus.url", "URL of the Prometheus HTTP API (Prometheus, the demo's store, Thanos, Mimir, an AMP workspace's https://aps-workspaces.REGION.amazonaws.com/workspaces/ws-…/).").Default("http://127.0.0.1:9090").IsSetByUser(&f.urlSet).StringVar(&f.prometheusURL)
	cmd.Flag("prometheus.scrape-interval", "Scrape interval of the data, when the server does not serve its config (AMP, Mimir, Thanos).").IsSetByUser(&f.intervalSet).DurationVar(&f.scrapeInterval)
	cmd.Flag("prometheus.timeout", "Timeout of each query.").Default("30s").IsSetByUser(&f.timeoutSet).DurationVar(&f.timeout)
	cmd.Flag("amp.workspace-alias", "Query the Amazon Managed Service for Prometheus workspace with this alias (looked up as `aws amp list-workspaces --alias` does), signing with SigV4 unless the config file says otherwise.").StringVar(&f.ampAlias)
	cmd.Flag("amp.region", "Region of --amp.workspace-alias; default the AWS configuration's (AWS_REGION).").StringVar(&f.ampRegion)
}

// open loads the config file, puts the flags over it (and an AMP alias's
// workspace), and returns the file and a querier of the Prometheus it
// names, signing, authenticating and sending headers as the file says.
func (f *prometheusFlags) open(ctx context.Context, logger *slog.Logger) (*config.Config, *promclient.HTTP, error) {
	file, err := loadConfig(f.configFile, logger)
	if err != nil {
		return nil, nil, err
	}
	p := &file.ExternalServices.Prometheus
	if !f.urlSet && p.URL != "" {
		f.prometheusURL = p.URL
	}
	if !f.intervalSet && p.ScrapeInterval() > 0 {
		f.scrapeInterval = p.ScrapeInterval()
	}
	if !f.timeoutSet && p.Timeout() > 0 {
		f.timeout = p.Timeout()
	}
	if f.ampAlias != "" {
		if f.urlSet {
			return nil, nil, usageError{fmt.Errorf("give --prometheus.url or --amp.workspace-alias, not both")}
		}
		c, err := amp.New(ctx, f.ampRegion)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--amp.workspace-alias: %w", err)}
		}
		w, err := c.WorkspaceByAlias(ctx, f.ampAlias)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--amp.workspace-alias: %w", err)}
		}
		f.prometheusURL = w.PrometheusEndpoint
		if p.Auth.Type == "" || p.Auth.Type == "none" {
			p.Auth = config.Auth{Type: "sigv4", Region: f.ampRegion}
		}
	}
	rt, err := p.Auth.RoundTripper(ctx, p.CustomHeaders, "prometheus")
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("external_services.prometheus.auth: %w", err)}
	}
	q, err := promclient.NewHTTP(promclient.HTTPOptions{URL: f.prometheusURL, Timeout: f.timeout, ScrapeInterval: f.scrapeInterval, RoundTripper: rt})
	if err != nil {
		return nil, nil, usageError{err}
	}
	return file, q, nil
}
