package graph

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"

	"github.com/meshlens/meshlens/traffic"
)

func TestRecordingRulesArePrometheusRules(t *testing.T) {
	b, err := RecordingRules(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("%v\n%s", errs, b)
	}
	if len(groups.Groups) != 1 || groups.Groups[0].Name != RuleGroup || groups.Groups[0].Interval != model.Duration(30*time.Second) {
		t.Fatalf("groups: %+v", groups.Groups)
	}
	var records []string
	labelSets := map[string]bool{}
	for _, r := range groups.Groups[0].Rules {
		if len(records) == 0 || records[len(records)-1] != r.Record {
			records = append(records, r.Record)
		}
		if strings.Contains(r.Expr, "rate(") && !strings.Contains(r.Expr, "[1m])") {
			t.Errorf("%s: rates are not over twice the interval: %s", r.Record, r.Expr)
		}
		// A rule's labels are what its selectors fix already: they must
		// not change the series, only tell the rules of one name apart.
		if r.Labels[traffic.RulesLabel] != traffic.RulesLabelValue(30*time.Second) {
			t.Errorf("%s: labels %v lack %s=%q", r.Record, r.Labels, traffic.RulesLabel, traffic.RulesLabelValue(30*time.Second))
		}
		for name, value := range r.Labels {
			if name == traffic.RulesLabel {
				continue
			}
			if !strings.Contains(r.Expr, name+"=\""+value+"\"") {
				t.Errorf("%s: label %s=%q is not one its expression selects: %s", r.Record, name, value, r.Expr)
			}
		}
		key := r.Record + fmt.Sprint(r.Labels)
		if labelSets[key] {
			t.Errorf("%s: two rules with labels %v (promtool: duplicate rules)", r.Record, r.Labels)
		}
		labelSets[key] = true
	}
	recorded := []string{recordedDuration + "p95", recordedDuration + "avg",
		recordedThroughput("istio_request_bytes"), recordedThroughput("istio_response_bytes")}
	if want := append(slices.Clone(recorded), ruleEvaluations); strings.Join(records, " ") != strings.Join(want, " ") {
		t.Errorf("records %v, want %v", records, want)
	}
	// One rule per scope where a union would be, none around a union.
	rules := groups.Groups[0].Rules
	if n := len(rules); n != 3+3+2*3+1 {
		t.Errorf("%d rules, want 13", n)
	}
	for _, r := range rules[:len(rules)-1] {
		if strings.Contains(r.Expr, " or ") {
			t.Errorf("%s: a union in one rule: %s", r.Record, r.Expr)
		}
	}
	// The marker, last, reads every recorded series of its rules, so that
	// a ruler writes it after them; its value stays 1.
	marker := rules[len(rules)-1]
	for _, name := range recorded {
		if !strings.Contains(marker.Expr, name+`{meshlens_rules="v2-30s"}`) {
			t.Errorf("the marker does not read %s: %s", name, marker.Expr)
		}
	}
	if !strings.HasPrefix(marker.Expr, "vector(1) or ") {
		t.Errorf("the marker is not vector(1) whatever it reads: %s", marker.Expr)
	}
	if _, err := RecordingRules(0); err == nil {
		t.Error("an interval of 0 was accepted")
	}
}

func TestRecordedQuantilesAreThoseAsked(t *testing.T) {
	records := func(qs ...string) []string {
		b, err := RecordingRules(30*time.Second, qs...)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "- record: "+recordedDuration); ok && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
		return out
	}
	if got := records(); strings.Join(got, " ") != "p95 avg" {
		t.Errorf("by default %v, want p95 and avg", got)
	}
	if got := records("99", "50", "95", "99"); strings.Join(got, " ") != "p50 p95 p99 avg" {
		t.Errorf("asked 99, 50, 95, 99: %v, want each once, in order", got)
	}
	if _, err := RecordingRules(30*time.Second, "90"); err == nil || !strings.Contains(err.Error(), "50, 95 or 99") {
		t.Errorf("quantile 90: %v, want an error naming those known", err)
	}
}

// TestTheMarkerIsWrittenAfterTheRecordedSeries loads the rules into
// Prometheus's rule manager, evaluating them in turn and at once: either
// way the marker comes after every rule it vouches for.
func TestTheMarkerIsWrittenAfterTheRecordedSeries(t *testing.T) {
	file, err := RecordingRules(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, concurrent := range []bool{false, true} {
		opts := &rules.ManagerOptions{Context: context.Background(), Parser: parser.NewParser(parser.Options{}),
			ConcurrentEvalsEnabled: concurrent, MaxConcurrentEvals: 4}
		m := rules.NewManager(opts)
		groups, errs := m.LoadGroups(30*time.Second, labels.EmptyLabels(), "", nil, false, path)
		if len(errs) > 0 || len(groups) != 1 {
			t.Fatalf("loading the rules: %v, %d groups", errs, len(groups))
		}
		var g *rules.Group
		for _, g = range groups {
		}
		rs := g.Rules()
		// In turn (no batches), in the file's order; at once, in batches,
		// each after the one before it.
		batches := opts.RuleConcurrencyController.SplitGroupIntoBatches(context.Background(), g)
		if batches == nil {
			for i := range rs {
				batches = append(batches, rules.ConcurrentRules{i})
			}
		}
		if concurrent && len(batches) < 2 {
			t.Fatalf("evaluated at once, the rules came in %d batch", len(batches))
		}
		last := batches[len(batches)-1]
		if len(last) != 1 || rs[last[0]].Name() != ruleEvaluations {
			t.Errorf("concurrent=%v: the last batch is %v, want the marker alone", concurrent, last)
		}
		for _, b := range batches[:len(batches)-1] {
			for _, i := range b {
				if rs[i].Name() == ruleEvaluations {
					t.Errorf("concurrent=%v: the marker is evaluated before the end", concurrent)
				}
			}
		}
	}
}
