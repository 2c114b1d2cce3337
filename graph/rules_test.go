package graph

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
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
	for _, r := range groups.Groups[0].Rules {
		records = append(records, r.Record)
		if strings.Contains(r.Expr, "rate(") && !strings.Contains(r.Expr, "[1m])") {
			t.Errorf("%s: rates are not over twice the interval: %s", r.Record, r.Expr)
		}
	}
	want := []string{recordedBuckets, recordedDuration + "p50", recordedDuration + "p95", recordedDuration + "p99", recordedDuration + "avg",
		recordedThroughput("istio_request_bytes"), recordedThroughput("istio_response_bytes")}
	if strings.Join(records, " ") != strings.Join(want, " ") {
		t.Errorf("records %v, want %v (the buckets first: the quantiles read them)", records, want)
	}
	if _, err := RecordingRules(0); err == nil {
		t.Error("an interval of 0 was accepted")
	}
}
