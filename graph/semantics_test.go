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
	"github.com/meshlens/meshlens/traffic"
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

// TestAGraphAskedWhileTheRulesWriteReadsTheLastWholeEvaluation: a ruler
// writes an evaluation's series one rule after another, the marker last.
// A graph asked in between (every recorded series of the evaluation at
// its time written, ten times too large, the marker not yet) answers what
// it answered before the evaluation began, in as many queries and with
// the same warnings; once the marker is written, it reads that evaluation.
func TestAGraphAskedWhileTheRulesWriteReadsTheLastWholeEvaluation(t *testing.T) {
	var tc graphtest.Case
	for _, c := range graphtest.Cases {
		if c.Name == "response times and throughput from the destination's histograms" {
			tc = c
		}
	}
	want, err := graphtest.ParseEdges(tc.Want)
	if err != nil || !want.Has("rt") || !want.Has("tp") {
		t.Fatalf("the case: %v, %q", err, tc.Want)
	}
	ctx := context.Background()
	o := tc.GraphOptions()
	st := promqltest.LoadedStorage(t, expand(t, tc.Load))
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	querier := promclient.NewEngine(engine, st, graphtest.Interval)
	step := int64(graphtest.Interval / time.Second)
	evaluateRules(t, st, engine, graphtest.Interval, step, graphtest.At-step)
	before, err := graph.NewBuilder(querier, nil).Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	report(t, "whole evaluations", graphtest.Compare(graphtest.Of(before), want, graphtest.Relative(1e-6)))

	// Half of the evaluation at the graph's time.
	last, err := querier.Query(ctx, `{__name__=~"meshlens_edge:.+"}`, time.Unix(graphtest.At-step, 0))
	if err != nil || len(last) == 0 {
		t.Fatalf("recorded series: %v, %d", err, len(last))
	}
	for i := range last {
		last[i].Value *= 10
	}
	write(t, st, graphtest.At, last)
	during, err := graph.NewBuilder(querier, nil).Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	report(t, "an evaluation half written", graphtest.Compare(graphtest.Of(during), graphtest.Of(before), graphtest.Relative(1e-9)))
	if during.Queries != before.Queries || strings.Join(during.Warnings, "\n") != strings.Join(before.Warnings, "\n") {
		t.Errorf("an evaluation half written: %d queries, warnings %q; before it began: %d, %q", during.Queries, during.Warnings, before.Queries, before.Warnings)
	}

	// The marker: the evaluation is whole, and read.
	write(t, st, graphtest.At, promclient.Vector{{Metric: labels.FromStrings(labels.MetricName, "meshlens_rules:evaluations",
		traffic.RulesLabel, traffic.RulesLabelValue(graphtest.Interval)), Value: 1}})
	after, err := graph.NewBuilder(querier, nil).Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if problems := graphtest.Compare(graphtest.Of(after), graphtest.Of(before), graphtest.Relative(1e-3)); len(problems) == 0 {
		t.Error("the evaluation written whole is not read: the graph is the same as before it")
	}
}

// write appends v's samples to st at the time at (Unix seconds).
func write(t *testing.T, st *teststorage.TestStorage, at int64, v promclient.Vector) {
	t.Helper()
	app := st.Appender(context.Background())
	for _, s := range v {
		if _, err := app.Append(0, s.Metric, at*1000, s.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}
