package graph_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/meshlens/meshlens/collect"
	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/graph/graphtest"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic/traffictest"
)

// TestSemantics runs graphtest's cases (see there) through the raw queries,
// then through the recording rules evaluated over the same series by
// Prometheus's rule manager.
func TestSemantics(t *testing.T) {
	for _, tc := range graphtest.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			want, err := graphtest.ParseEdges(tc.Want)
			if err != nil {
				t.Fatal(err)
			}
			o := tc.GraphOptions()
			st := promqltest.LoadedStorage(t, expand(t, tc.Load))
			engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			querier := promclient.NewEngine(engine, st, graphtest.Interval)

			g, err := graph.NewBuilder(querier, nil).Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			report(t, "raw series", graphtest.Compare(graphtest.Of(g), want, graphtest.Relative(1e-6)))
			if w := tc.Warning; w != "" && !strings.Contains(strings.Join(g.Warnings, "\n"), w) {
				t.Errorf("warnings %q, want one that says %q", g.Warnings, w)
			}

			// The same series as the collector's kiali preset keeps them:
			// the graph reads none of what it drops (source_app,
			// destination_version and the like).
			thinned := promclient.NewEngine(engine, traffictest.Thinned(t, st, collect.ThinningKiali.RelabelConfigs()), graphtest.Interval)
			g, err = graph.NewBuilder(thinned, nil).Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			report(t, "kiali-thinned raw series", graphtest.Compare(graphtest.Of(g), want, graphtest.Relative(1e-6)))

			ri := tc.RulesInterval
			if ri == 0 {
				ri = graphtest.Interval
			}
			from, until := tc.RulesFrom, tc.RulesUntil
			if from == 0 {
				from = int64(ri / time.Second)
			}
			if until == 0 {
				until = graphtest.At
			}
			evaluateRules(t, st, engine, ri, from, until)
			reg := prometheus.NewRegistry()
			g, err = graph.NewBuilder(querier, reg).Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			tol := tc.RecordedTolerance
			if tol == 0 {
				tol = 1e-6
			}
			report(t, "recorded series", graphtest.Compare(graphtest.Of(g), want, graphtest.Relative(tol)))
			if want.Has("rt") && counted(t, reg, "meshlens_graph_response_times_total", "recorded") != 1 {
				t.Error("the response times did not come from the recorded series")
			}
			wantSource := tc.RecordedSource
			if wantSource == "" && want.Has("tp") {
				wantSource = "recorded"
			}
			if wantSource != "" && counted(t, reg, "meshlens_graph_throughput_total", wantSource) != 1 {
				t.Errorf("the throughput did not come from %s", wantSource)
			}
			if w := tc.RecordedWarning + tc.Warning; w != "" && !strings.Contains(strings.Join(g.Warnings, "\n"), w) {
				t.Errorf("warnings %q, want one that says %q", g.Warnings, w)
			}
		})
	}
}

func expand(t *testing.T, load string) string {
	t.Helper()
	s, err := graphtest.ExpandSeries(load)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func report(t *testing.T, path string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s:\n  %s", path, strings.Join(problems, "\n  "))
	}
}

// counted is the value of the counter name{source=source} in reg.
func counted(t *testing.T, reg *prometheus.Registry, name, source string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == source {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// evaluateRules evaluates the graph's recording rules over st, every
// interval from from to until (Unix seconds), as a Prometheus running them
// would, with Prometheus's own rule manager.
func evaluateRules(t *testing.T, st *teststorage.TestStorage, engine *promql.Engine, interval time.Duration, from, until int64) {
	t.Helper()
	file, err := graph.RecordingRules(interval)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, st),
		AppendableV2: st,
		Queryable:    st,
		Context:      context.Background(),
		Parser:       parser.NewParser(parser.Options{}),
	})
	groups, errs := m.LoadGroups(interval, labels.EmptyLabels(), "", nil, false, path)
	if len(errs) > 0 {
		t.Fatalf("loading the rules: %v", errs)
	}
	for ts := time.Duration(from) * time.Second; ts <= time.Duration(until)*time.Second; ts += interval {
		for _, g := range groups {
			g.Eval(context.Background(), time.Unix(0, 0).Add(ts))
		}
	}
}
