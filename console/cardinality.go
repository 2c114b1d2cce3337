package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/meshlens/meshlens/cardinality"
	"github.com/meshlens/meshlens/promclient"
)

// cardinalityReport answers /api/cardinality?top=N: what `meshlens
// cardinality` prints, as JSON (cardinality.Report), with the scrape
// interval's source in the warnings when it was assumed.
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
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	interval, err := s.telemetry.ScrapeInterval(ctx)
	if errors.Is(err, promclient.ErrIntervalAssumed) {
		warningHeaders(w, []string{err.Error()})
	} else if err != nil {
		writeError(w, statusOf(err), "scrape interval: "+err.Error())
		return
	}
	rep, err := cardinality.Measure(ctx, src, cardinality.Options{ScrapeInterval: interval, Top: top})
	if err != nil {
		writeError(w, statusOf(err), "cardinality: "+err.Error())
		return
	}
	writeJSON(w, rep)
}
