package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/graph/graphtest"
	"github.com/meshlens/meshlens/promclient"
)

// Ten minutes of bookinfo, worked out by hand: reviews-v2 starts failing
// half its requests at 300s (a second request a second, 503, reported by
// both sides), productpage stops calling ratings at 255s, and reviews-v2
// starts calling ratings at 420s. Compared at 600s with 240s, a minute's
// rate window each.
const compareSeries = `
load 15s
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="-"} _x20 0+15x20
  istio_requests_total{reporter="source", src="bookinfo/productpage-v1", dst="bookinfo/reviews/reviews-v2", response_code="503", response_flags="-"} _x20 0+15x20
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/details/details-v1"} 0+15x40
  istio_requests_total{reporter="destination", src="bookinfo/productpage-v1", dst="bookinfo/ratings/ratings-v1"} 0+15x17
  istio_requests_total{reporter="destination", src="bookinfo/reviews-v2", dst="bookinfo/ratings/ratings-v1"} _x28 0+15x12
`

func TestCompareMarksWhatChangedSinceAnEarlierGraph(t *testing.T) {
	st := promqltest.LoadedStorage(t, expand(t, compareSeries))
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := promclient.NewEngine(engine, st, graphtest.Interval)
	o := graphtest.Case{}.GraphOptions()
	g, err := graph.NewBuilder(q, nil).Compare(context.Background(), o, time.Unix(240, 0), graph.DefaultThresholds)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		change     graph.Change
		rate, errs *[2]float64
	}
	wants := map[string]want{
		"productpage-v1 -> reviews-v2 http": {graph.ChangeChanged, &[2]float64{1, 2}, &[2]float64{0, 50}},
		"productpage-v1 -> details-v1 http": {graph.ChangeSame, &[2]float64{1, 1}, &[2]float64{0, 0}},
		"productpage-v1 -> ratings-v1 http": {change: graph.ChangeGone},
		"reviews-v2 -> ratings-v1 http":     {change: graph.ChangeNew},
	}
	got := map[string]*graph.Delta{}
	for _, e := range g.Edges() {
		got[e.Source.Label()+" -> "+e.Dest.Label()+" "+e.Protocol] = e.Compare
	}
	if len(got) != len(wants) {
		t.Errorf("edges %v, want those of %v", keys(got), keys(wants))
	}
	near := func(a, b *[2]float64) bool {
		if a == nil || b == nil {
			return a == b
		}
		return abs(a[0]-b[0]) < 1e-6 && abs(a[1]-b[1]) < 1e-6
	}
	for edge, w := range wants {
		d := got[edge]
		if d == nil {
			t.Errorf("%s: no comparison", edge)
			continue
		}
		if d.Change != w.change {
			t.Errorf("%s: %s, want %s", edge, d.Change, w.change)
		}
		if w.rate != nil && !near(d.Rate, w.rate) {
			t.Errorf("%s: rate %v, want %v", edge, d.Rate, w.rate)
		}
		if w.errs != nil && !near(d.ErrorShare, w.errs) {
			t.Errorf("%s: error share %v, want %v", edge, d.ErrorShare, w.errs)
		}
	}
	var buf bytes.Buffer
	if err := g.WriteJSON(&buf, ""); err != nil {
		t.Fatal(err)
	}
	var answer struct {
		CompareTo int64 `json:"compareTo"`
	}
	json.Unmarshal(buf.Bytes(), &answer)
	if answer.CompareTo != 240 || !strings.Contains(buf.String(), `"compare":{"change":"changed","rate":[1,2],"errorShare":[0,50]}`) {
		t.Errorf("the JSON answer lacks the comparison: %.600s", buf.String())
	}
}

func TestThresholdsDecideWhatCountsAsChanged(t *testing.T) {
	st := promqltest.LoadedStorage(t, expand(t, compareSeries))
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q := promclient.NewEngine(engine, st, graphtest.Interval)
	// Doubling the rate is a move of a half: under a threshold of 0.6, and
	// 50 points of errors under one of 60, it is the same edge.
	g, err := graph.NewBuilder(q, nil).Compare(context.Background(), graphtest.Case{}.GraphOptions(), time.Unix(240, 0), graph.Thresholds{Rate: 0.6, ErrorShare: 60, ResponseTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range g.Edges() {
		if e.Source.Label() == "productpage-v1" && e.Dest.Label() == "reviews-v2" && e.Compare.Change != graph.ChangeSame {
			t.Errorf("under high thresholds: %s", e.Compare.Change)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
