package console

import (
	"context"
	"net/http"

	"github.com/meshlens/meshlens/grafana"
)

// WithGrafana serves "View in Grafana" links found by l.
func (s *Server) WithGrafana(l *grafana.Linker) *Server {
	s.grafana = l
	return s
}

// grafanaInfo is Kiali's /api/grafana answer.
type grafanaInfo struct {
	ExternalLinks []grafana.Link `json:"externalLinks"`
	Reason        string         `json:"reason,omitempty"`
}

// grafanaLinks answers /api/grafana: the configured dashboards' links, a
// reason instead of a URL for a dashboard Grafana lacks or when Grafana
// does not answer. Credentials stay in the console.
func (s *Server) grafanaLinks(w http.ResponseWriter, r *http.Request) {
	if s.grafana == nil {
		writeJSON(w, grafanaInfo{ExternalLinks: []grafana.Link{}, Reason: "Grafana is not configured (external_services.grafana in the file of serve or demo --config)"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	writeJSON(w, grafanaInfo{ExternalLinks: s.grafana.Links(ctx)})
}
