package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlens/meshlens/cardinality"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/promclient"
)

// cardinalityReport answers /api/cardinality?top=N&graphDuration=1m&graphRefresh=15s:
// what `meshlens cardinality` prints, as JSON (cardinality.Report), with
// the scrape interval's source in the warnings when it was assumed. The
// graph's query cost is measured by building the graph page's default
// graph once (graphRefresh=0 leaves it out).
func (s *Server) cardinalityReport(w http.ResponseWriter, r *http.Request) {
	src, ok := s.telemetry.(cardinality.Source)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this console's Prometheus cannot list label names: cardinality needs a Prometheus HTTP API")
		return
	}
	top := 10
	if v := r.URL.Query().Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "top must be a whole number from 1 to 1000, e.g. top=10")
			return
		}
		top = n
	}
	graphDuration, graphEvery := time.Minute, 15*time.Second
	if v := r.URL.Query().Get("graphDuration"); v != "" {
		d, err := seconds("graphDuration", v)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if d > graph.MaxDuration {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("graphDuration %s is longer than %s", model.Duration(d), model.Duration(graph.MaxDuration)))
			return
		}
		graphDuration = d
	}
	if v := r.URL.Query().Get("graphRefresh"); v == "0" {
		graphEvery = 0
	} else if v != "" {
		d, err := seconds("graphRefresh", v)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error()+"; 0 leaves the graph's cost out")
			return
		}
		graphEvery = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	interval, err := s.telemetry.ScrapeInterval(ctx)
	if errors.Is(err, promclient.ErrIntervalAssumed) {
		warningHeaders(w, []string{err.Error()})
	} else if err != nil {
		writeError(w, statusOf(err), "scrape interval: "+err.Error())
		return
	}
	var refresh cardinality.GraphRefresh
	if sc, ok := s.telemetry.(promclient.SampleCounter); ok && graphEvery > 0 {
		if refresh, err = cardinality.MeasureGraph(ctx, sc, s.telemetry, graphDuration, graphEvery); err != nil {
			writeError(w, statusOf(err), "the graph's query cost: "+err.Error())
			return
		}
	}
	rep, err := cardinality.Measure(ctx, src, cardinality.Options{ScrapeInterval: interval, Top: top, Graph: refresh})
	if err != nil {
		writeError(w, statusOf(err), "cardinality: "+err.Error())
		return
	}
	writeJSON(w, rep)
}
