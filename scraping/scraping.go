// Package scraping runs Prometheus's service discovery and scrape manager
// together, as a Prometheus configuration's scrape_configs say, appending
// what is scraped to one storage: the store's TSDB, or the collector's
// write-ahead log.
package scraping

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	_ "github.com/prometheus/prometheus/discovery/file"       // file_sd_configs
	_ "github.com/prometheus/prometheus/discovery/http"       // http_sd_configs
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // kubernetes_sd_configs
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/logging"
)

// Scraper is a discovery manager feeding a scrape manager.
type Scraper struct {
	discovery *discovery.Manager
	// Manager is the scrape manager, for the targets API and metadata.
	Manager *scrape.Manager
	cancel  context.CancelFunc
}

// New builds both managers; their metrics go to reg.
func New(app storage.AppendableV2, reg prometheus.Registerer, logger *slog.Logger) (*Scraper, error) {
	sdMetrics, err := discovery.CreateAndRegisterSDMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("service discovery metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scraper{cancel: cancel}
	s.discovery = discovery.NewManager(ctx, logger.With("component", "discovery manager scrape"), reg, sdMetrics, discovery.Name("scrape"))
	s.Manager, err = scrape.NewManager(&scrape.Options{DiscoveryReloadOnStartup: true},
		logger.With("component", "scrape manager"), logging.NewJSONFileLogger, nil, app, reg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("scrape manager: %w", err)
	}
	return s, nil
}

// ApplyConfig gives both managers cfg's scrape_configs.
func (s *Scraper) ApplyConfig(cfg *config.Config) error {
	if err := s.Manager.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("scrape config: %w", err)
	}
	scfgs, err := cfg.GetScrapeConfigs()
	if err != nil {
		return fmt.Errorf("scrape config: %w", err)
	}
	sd := make(map[string]discovery.Configs, len(scfgs))
	for _, c := range scfgs {
		sd[c.JobName] = c.ServiceDiscoveryConfigs
	}
	if err := s.discovery.ApplyConfig(sd); err != nil {
		return fmt.Errorf("service discovery config: %w", err)
	}
	return nil
}

// Add runs both in g, until g stops.
func (s *Scraper) Add(g *run.Group) {
	g.Add(func() error { return s.discovery.Run() }, func(error) { s.cancel() })
	g.Add(func() error { return s.Manager.Run(s.discovery.SyncCh()) }, func(error) { s.Manager.Stop() })
}

// Close stops discovery when the Scraper never ran.
func (s *Scraper) Close() { s.cancel() }
