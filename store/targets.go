package store

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/scrape"
)

// targetHealth exports how many scrape targets are up, down or not yet
// scraped, per job, so that a sidecar that serves garbage, hangs or is gone
// shows up in meshlens's own metrics as well as in `up` and /api/v1/targets.
type targetHealth struct {
	scrape *scrape.Manager
	desc   *prometheus.Desc
}

func newTargetHealth(m *scrape.Manager) *targetHealth {
	return &targetHealth{scrape: m, desc: prometheus.NewDesc("meshlens_store_scrape_targets",
		"Scrape targets of the embedded store by job and health (up, down, unknown).", []string{"job", "health"}, nil)}
}

func (t *targetHealth) Describe(ch chan<- *prometheus.Desc) { ch <- t.desc }

func (t *targetHealth) Collect(ch chan<- prometheus.Metric) {
	for job, targets := range t.scrape.TargetsActive() {
		counts := map[scrape.TargetHealth]int{scrape.HealthGood: 0, scrape.HealthBad: 0, scrape.HealthUnknown: 0}
		for _, target := range targets {
			counts[target.Health()]++
		}
		for health, n := range counts {
			ch <- prometheus.MustNewConstMetric(t.desc, prometheus.GaugeValue, float64(n), job, string(health))
		}
	}
}
