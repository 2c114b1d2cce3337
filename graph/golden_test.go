package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/graph/graphtest"
	"github.com/meshlens/meshlens/promclient"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// seriesFile is the golden graphs' input: bookinfo's series, written by
// hand in promqltest's load notation.
const seriesFile = "testdata/bookinfo.series"

var goldenCases = []struct {
	name string
	opts graph.Options
}{
	{"bookinfo_app", graph.Options{Type: graph.TypeApp, InjectServiceNodes: true, BoxBy: []string{"app"}}},
	{"bookinfo_versionedApp", graph.Options{Type: graph.TypeVersionedApp, InjectServiceNodes: true, BoxBy: []string{"app", "namespace"}}},
	{"bookinfo_workload", graph.Options{Type: graph.TypeWorkload}},
	{"bookinfo_service", graph.Options{Type: graph.TypeService}},
	{"bookinfo_workload_avg_response", graph.Options{Type: graph.TypeWorkload, ResponseTime: "avg", Throughput: "response"}},
	{"bookinfo_reviews_node", graph.Options{Type: graph.TypeVersionedApp, InjectServiceNodes: true, Focus: &graph.Focus{Namespace: "bookinfo", Kind: "applications", Name: "reviews"}}},
}

func goldenOptions(o graph.Options) graph.Options {
	o.Namespaces = []string{"bookinfo"}
	o.Duration = time.Minute
	o.QueryTime = time.Unix(graphtest.At, 0)
	return o
}

func TestGolden(t *testing.T) {
	series, err := os.ReadFile(seriesFile)
	if err != nil {
		t.Fatal(err)
	}
	st := promqltest.LoadedStorage(t, expand(t, string(series)))
	querier := promclient.NewEngine(promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery), st, graphtest.Interval)
	for _, c := range goldenCases {
		t.Run(c.name+" matches its golden files", func(t *testing.T) {
			g, err := graph.NewBuilder(querier, nil).Build(context.Background(), goldenOptions(c.opts))
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
