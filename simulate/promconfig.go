package simulate

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// JobName is the scrape job of the sidecars, the name Istio's Prometheus
// add-on gives its Envoy stats job.
const JobName = "envoy-stats"

// ScrapeConfig says how a Prometheus finds the simulator's sidecars: from a
// file_sd file (the embedded store) or an http_sd URL (any other Prometheus).
type ScrapeConfig struct {
	Interval    time.Duration
	TargetsFile string
	TargetsURL  string
	// RuleFiles are rule files for the Prometheus to evaluate (the graph's
	// recording rules).
	RuleFiles []string
}

// YAML renders a Prometheus configuration that scrapes the sidecars. It uses
// only fields Prometheus 2.x and 3.x both accept, so Debian's Prometheus
// reads it as it is.
func (c ScrapeConfig) YAML() string {
	interval := c.Interval
	if interval <= 0 {
		interval = 15 * time.Second
	}
	timeout := min(10*time.Second, interval)
	var b strings.Builder
	fmt.Fprintf(&b, "# Scrapes the sidecars of the mesh that meshlens simulates.\n")
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n", model.Duration(interval), model.Duration(timeout))
	if len(c.RuleFiles) > 0 {
		fmt.Fprintf(&b, "rule_files:\n")
		for _, f := range c.RuleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %s\n", JobName)
	if c.TargetsFile != "" {
		fmt.Fprintf(&b, "    file_sd_configs:\n      - files: [%q]\n        refresh_interval: 30s\n", c.TargetsFile)
	}
	if c.TargetsURL != "" {
		fmt.Fprintf(&b, "    http_sd_configs:\n      - url: %q\n        refresh_interval: 15s\n", c.TargetsURL)
	}
	return b.String()
}
