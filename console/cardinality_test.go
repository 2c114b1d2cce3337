package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/cardinality"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/promclient"
)

func (s *shifted) LabelNames(ctx context.Context, start, end time.Time) ([]string, error) {
	return s.Engine.LabelNames(ctx, start.Add(-s.by), end.Add(-s.by))
}

// /api/cardinality answers what `meshlens cardinality` prints: here two
// series, one of a metric kiali drops.
func TestCardinalityAPICountsSeriesAndWhatKialiLeaves(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 15s
  istio_requests_total{reporter="destination", source_app="productpage", destination_workload="details-v1"} 0+1x40
  istio_agent_go_goroutines{pod="details-v1-1"} 50x40
`)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := &shifted{Engine: promclient.NewEngine(engine, st, 15*time.Second), by: time.Duration(time.Now().Unix()-600) * time.Second}
	shared := promclient.NewShared(q, 4, nil)
	ts := httptest.NewServer(New(graph.NewBuilder(shared, nil), nil).WithTelemetry(shared).Handler())
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/api/cardinality?top=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r cardinality.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if r.Series != 2 || len(r.Metrics) != 1 || len(r.Presets) != 3 || r.Presets[1].Name != "kiali" || r.Presets[1].Series != 1 ||
		len(r.Presets[1].DroppedLabels) != 1 || r.Presets[1].DroppedLabels[0] != "source_app" {
		t.Errorf("report %+v: want 2 series, the top metric only, and kiali leaving 1 series without source_app", r)
	}
	for _, bad := range []string{"top=0", "top=lots", "top=100000"} {
		code, body := getJSON(t, ts.URL+"/api/cardinality?"+bad)
		if code != http.StatusBadRequest || body["error"] == nil {
			t.Errorf("%s: %d %v, want 400 saying what top takes", bad, code, body)
		}
	}
}
