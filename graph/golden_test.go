package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/simulate"
)

var (
	update = flag.Bool("update", false, "rewrite the golden files under testdata/")
	record = flag.Bool("record", false, "record the query results under testdata/ from a live simulated bookinfo")
)

// recording is what the store answered each query of the golden graphs,
// in the Prometheus API's JSON.
type recording struct {
	QueryTime      int64                   `json:"queryTime"`
	ScrapeInterval string                  `json:"scrapeInterval"`
	Queries        map[string]model.Vector `json:"queries"`
}

// recorder queries a live store and remembers the answers.
type recorder struct {
	promclient.Querier
	mu  sync.Mutex
	rec recording
}

func (r *recorder) Query(ctx context.Context, q string, ts time.Time) (promclient.Vector, error) {
	v, err := r.Querier.Query(ctx, q, ts)
	if err == nil {
		out := make(model.Vector, 0, len(v))
		for _, s := range v {
			m := model.Metric{}
			s.Metric.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
			out = append(out, &model.Sample{Metric: m, Value: model.SampleValue(s.Value), Timestamp: model.TimeFromUnixNano(ts.UnixNano())})
		}
		r.mu.Lock()
		r.rec.Queries[q] = out
		r.mu.Unlock()
	}
	return v, err
}

// replay answers from a recording, and fails on any query it holds no
// answer for: a changed query means the recording must be made again.
type replay struct{ rec recording }

func (p replay) Query(_ context.Context, q string, _ time.Time) (promclient.Vector, error) {
	v, ok := p.rec.Queries[q]
	if !ok {
		if len(q) > 160 {
			q = q[:160] + "..."
		}
		return nil, fmt.Errorf("query not in the recording (run go test ./graph -run TestGolden -record -update): %s", q)
	}
	out := make(promclient.Vector, 0, len(v))
	for _, s := range v {
		b := labels.NewScratchBuilder(len(s.Metric))
		for k, v := range s.Metric {
			b.Add(string(k), string(v))
		}
		b.Sort()
		out = append(out, promclient.Sample{Metric: b.Labels(), Value: float64(s.Value)})
	}
	return out, nil
}

// LabelValues fails, for recorder and replay alike: the golden graphs keep
// every namespace matcher, as against a store that cannot list values.
func (replay) LabelValues(context.Context, string, time.Time, time.Time) ([]string, error) {
	return nil, errNoLabelValues
}

func (*recorder) LabelValues(context.Context, string, time.Time, time.Time) ([]string, error) {
	return nil, errNoLabelValues
}

var errNoLabelValues = errors.New("label values are not recorded")

func (p replay) ScrapeInterval(context.Context) (time.Duration, error) {
	d, err := model.ParseDuration(p.rec.ScrapeInterval)
	return time.Duration(d), err
}

var goldenCases = []struct {
	name string
	opts Options
}{
	{"bookinfo_app", Options{Type: TypeApp, InjectServiceNodes: true, BoxBy: []string{"app"}}},
	{"bookinfo_versionedApp", Options{Type: TypeVersionedApp, InjectServiceNodes: true, BoxBy: []string{"app", "namespace"}}},
	{"bookinfo_workload", Options{Type: TypeWorkload}},
	{"bookinfo_service", Options{Type: TypeService}},
	{"bookinfo_workload_avg_response", Options{Type: TypeWorkload, ResponseTime: "avg", Throughput: "response"}},
	{"bookinfo_reviews_node", Options{Type: TypeVersionedApp, InjectServiceNodes: true, Focus: &Focus{Namespace: "bookinfo", Kind: "applications", Name: "reviews"}}},
}

const recordingFile = "testdata/bookinfo_queries.json"

func goldenOptions(o Options, queryTime time.Time) Options {
	o.Namespaces = []string{"bookinfo"}
	o.Duration = 10 * time.Second
	o.QueryTime = queryTime
	return o
}

func recordQueries(t *testing.T) {
	l := startLive(t, 20)
	// A fault, so that the recording holds errors, and time for traffic on every edge.
	l.sim.Faults().Set(simulate.Fault{Namespace: "bookinfo", Workload: "reviews-v2", ErrorRate: 0.3})
	time.Sleep(15 * time.Second)
	rec := &recorder{Querier: l.querier, rec: recording{Queries: map[string]model.Vector{}, ScrapeInterval: model.Duration(liveInterval).String()}}
	now := time.Now().Truncate(time.Second)
	rec.rec.QueryTime = now.Unix()
	for _, c := range goldenCases {
		if _, err := NewBuilder(rec, nil).Build(context.Background(), goldenOptions(c.opts, now)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.MarshalIndent(rec.rec, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recordingFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGolden(t *testing.T) {
	if *record {
		recordQueries(t)
	}
	b, err := os.ReadFile(recordingFile)
	if err != nil {
		t.Fatal(err)
	}
	var rec recording
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases {
		t.Run(c.name+" matches its golden files", func(t *testing.T) {
			g, err := NewBuilder(replay{rec}, nil).Build(context.Background(), goldenOptions(c.opts, time.Unix(rec.QueryTime, 0)))
			if err != nil {
				t.Fatal(err)
			}
			for _, enc := range []struct {
				ext   string
				write func(*bytes.Buffer) error
			}{
				{".json", func(b *bytes.Buffer) error { return g.WriteJSON(b, "  ") }},
				{".dot", func(b *bytes.Buffer) error { return g.WriteDOT(b) }},
				{".mmd", func(b *bytes.Buffer) error { return g.WriteMermaid(b) }},
				{".txt", func(b *bytes.Buffer) error { return g.WriteTable(b) }},
			} {
				var buf bytes.Buffer
				if err := enc.write(&buf); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", c.name+enc.ext), buf.Bytes())
			}
			// The API writes it compact, nodes and edges encoded apart:
			// the same JSON.
			var compact, indented, want bytes.Buffer
			if err := g.WriteJSON(&compact, ""); err != nil {
				t.Fatal(err)
			}
			g.WriteJSON(&indented, "  ")
			if err := json.Compact(&want, indented.Bytes()); err != nil {
				t.Fatal(err)
			}
			if got := bytes.TrimSpace(compact.Bytes()); !bytes.Equal(got, bytes.TrimSpace(want.Bytes())) {
				t.Errorf("compact JSON is not the indented JSON compacted:\n%s\n%s", got, want.Bytes())
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", path, got)
	}
}
