package console

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/meshlens/meshlens/promclient"
)

// replayReach is how far back /api/config looks for the store's first
// data: the web console's longest replay window.
const replayReach = 24 * time.Hour

// serverConfig is the part of Kiali's /api/config the web console reads,
// with what the store holds beside it.
type serverConfig struct {
	Prometheus prometheusConfig `json:"prometheus"`
}

type prometheusConfig struct {
	// GlobalScrapeInterval is in seconds, as Kiali's.
	GlobalScrapeInterval int64 `json:"globalScrapeInterval"`
	// DataSince is about when the store's data begins (Unix seconds),
	// looked for within replayReach; absent when the store holds no up
	// series to tell. Replay windows end there.
	DataSince int64 `json:"dataSince,omitempty"`
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	if s.telemetry == nil {
		writeError(w, http.StatusNotFound, "no Prometheus is configured for the console")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	var c serverConfig
	interval, _ := s.telemetry.ScrapeInterval(ctx)
	if interval <= 0 {
		interval = promclient.DefaultScrapeInterval
	}
	c.Prometheus.GlobalScrapeInterval = int64(interval / time.Second)
	since, ok, err := promclient.DataSince(ctx, s.telemetry, time.Now(), replayReach)
	if err != nil {
		writeError(w, statusOf(err), fmt.Sprintf("asking the Prometheus how far back its data reaches: %v", err))
		return
	}
	if ok {
		c.Prometheus.DataSince = since.Unix()
	}
	writeJSON(w, c)
}
