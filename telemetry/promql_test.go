package telemetry

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

var hostile = []struct{ name, value string }{
	{"plain", "bookinfo"},
	{"double quote", `book"info`},
	{"backslash", `book\info`},
	{"trailing backslash", `bookinfo\`},
	{"newline", "book\ninfo"},
	{"closing brace and or", `"}or vector(1)`},
	{"closing brace with spaces", `"} or on() vector(1) #`},
	{"single quotes and backticks", "'`x`'"},
	{"regex metacharacters", `.*|(a+)[b]{2}$^`},
	{"unicode", "名前空間-ü"},
	{"empty", ""},
}

// parseBack parses q with Prometheus's own parser and returns the one vector
// selector it must contain.
func parseBack(t *testing.T, q string) *parser.VectorSelector {
	t.Helper()
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		t.Fatalf("built query %q does not parse: %v", q, err)
	}
	var sels []*parser.VectorSelector
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			sels = append(sels, vs)
		}
		if _, ok := n.(*parser.BinaryExpr); ok {
			t.Errorf("query %q holds a binary operation: something was injected", q)
		}
		return nil
	})
	if len(sels) != 1 {
		t.Fatalf("query %q holds %d selectors, want exactly 1", q, len(sels))
	}
	return sels[0]
}

func matcher(vs *parser.VectorSelector, name string) *labels.Matcher {
	for _, m := range vs.LabelMatchers {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func TestHostileValuesStayValues(t *testing.T) {
	for _, tc := range hostile {
		t.Run("equality with "+tc.name+" is one matcher with the exact value", func(t *testing.T) {
			q, err := Sum(Rate(Select(RequestsTotal).Eq(Reporter, ReporterDestination).Eq(DestinationServiceNamespace, tc.value), time.Minute), DestinationWorkload).Query()
			if err != nil {
				t.Fatal(err)
			}
			vs := parseBack(t, q)
			if len(vs.LabelMatchers) != 3 {
				t.Fatalf("query %q has %d matchers, want 3", q, len(vs.LabelMatchers))
			}
			m := matcher(vs, DestinationServiceNamespace)
			if m == nil || m.Type != labels.MatchEqual || m.Value != tc.value {
				t.Fatalf("query %q: matcher %v, want %s=%q", q, m, DestinationServiceNamespace, tc.value)
			}
		})
		t.Run("set membership with "+tc.name+" matches only the literal", func(t *testing.T) {
			q, err := Select(RequestsTotal).In(DestinationServiceNamespace, tc.value, "other").Instant().Query()
			if err != nil {
				t.Fatal(err)
			}
			m := matcher(parseBack(t, q), DestinationServiceNamespace)
			if m == nil || m.Type != labels.MatchRegexp {
				t.Fatalf("query %q: no regexp matcher", q)
			}
			if !m.Matches(tc.value) || !m.Matches("other") {
				t.Errorf("query %q does not match its own values", q)
			}
			for _, wrong := range []string{tc.value + "x", "x" + tc.value, "anything-else"} {
				if wrong != "other" && m.Matches(wrong) {
					t.Errorf("query %q matches %q, which is not in the set", q, wrong)
				}
			}
		})
	}
}

func TestRejectedInput(t *testing.T) {
	cases := []struct {
		name string
		expr Expr
	}{
		{"a label value that is not UTF-8", Select(RequestsTotal).Eq(DestinationWorkload, "a\xffb").Instant()},
		{"a label name with PromQL in it", Select(RequestsTotal).Eq(`x="a"} or vector(1) #`, "v").Instant()},
		{"a metric name with a brace", Select(`istio_requests_total{}`).Instant()},
		{"a grouping label with a comma", Sum(Select(RequestsTotal).Instant(), "a,b")},
		{"a zero rate window", Rate(Select(RequestsTotal), 0)},
		{"a quantile above one", HistogramQuantile(1.5, Select(RequestDurationMilliseconds+"_bucket").Instant())},
		{"a negative offset", CountOverTime(Select(RequestsTotal).Offset(-time.Minute), time.Minute)},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is rejected", func(t *testing.T) {
			q, err := tc.expr.Query()
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("got query %q, err %v; want ErrInvalidQuery", q, err)
			}
		})
	}
}

func TestBuiltQueries(t *testing.T) {
	cases := []struct {
		name string
		expr Expr
		want string
	}{
		{
			"rate of destination-reported requests summed by workload",
			Sum(Rate(Select(RequestsTotal).Eq(Reporter, ReporterDestination), time.Minute), DestinationWorkload),
			`sum by (destination_workload) (rate(istio_requests_total{reporter="destination"}[1m]))`,
		},
		{
			"p95 of the duration histogram",
			HistogramQuantile(0.95, Sum(Rate(Select(RequestDurationMilliseconds+"_bucket").Neq(ResponseCode, "0"), 90*time.Second), "le")),
			`histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{response_code!="0"}[1m30s])))`,
		},
		{
			"mean duration, NaN (no requests) left out",
			AtLeast(Div(Sum(Rate(Select(RequestDurationMilliseconds+"_sum"), time.Minute), DestinationWorkload),
				Sum(Rate(Select(RequestDurationMilliseconds+"_count"), time.Minute), DestinationWorkload)), 0),
			`sum by (destination_workload) (rate(istio_request_duration_milliseconds_sum[1m])) / sum by (destination_workload) (rate(istio_request_duration_milliseconds_count[1m])) >= 0`,
		},
		{
			"average of a recorded series over a window",
			AvgOverTime(Select("meshlens_edge:x:p95").Eq(Reporter, ReporterSource), 10*time.Minute),
			`avg_over_time(meshlens_edge:x:p95{reporter="source"}[10m])`,
		},
		{
			"a recorded series' mean where it had samples at both ends of the window, else its sum over a count",
			Or(And(AvgOverTime(Select("meshlens_edge:x:rate"), 90*time.Second),
				CountOverTime(Select("meshlens_edge:x:rate").Offset(time.Minute), 30*time.Second)),
				Div(SumOverTime(Select("meshlens_edge:x:rate"), 90*time.Second), Scalar(Sum(CountOverTime(Select("meshlens_rules:evaluations"), 90*time.Second))))),
			`avg_over_time(meshlens_edge:x:rate[1m30s]) and count_over_time(meshlens_edge:x:rate[30s] offset 1m) or sum_over_time(meshlens_edge:x:rate[1m30s]) / scalar(sum(count_over_time(meshlens_rules:evaluations[1m30s])))`,
		},
		{
			"a recorded series read at a known evaluation, whatever the query's time, and a window before it",
			Sum(CountOverTime(Select("meshlens_edge:x:rate").At(time.Unix(1700000010, 500e6)).Offset(30*time.Second), time.Minute)),
			`sum(count_over_time(meshlens_edge:x:rate[1m] @ 1700000010.500 offset 30s))`,
		},
		{
			"the last evaluation of each rule file",
			Max(Timestamp(Select("meshlens_rules:evaluations").Instant()), "meshlens_rules"),
			`max by (meshlens_rules) (timestamp(meshlens_rules:evaluations))`,
		},
		{
			"an operand that binds less tightly than its operator in parentheses, and only that one",
			Unless(Or(Select("a").Instant(), Select("b").Instant()), And(Select("c").Instant(), Div(Add(Select("d").Instant(), Select("e").Instant()), Select("f").Instant()))),
			`(a or b) unless (c and (d + e) / f)`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.expr.Query()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestStandardLabels(t *testing.T) {
	if got := len(StandardLabels(RequestsTotal)); got != 25 {
		t.Errorf("request metrics carry %d standard labels, want 25", got)
	}
	if got := len(StandardLabels(TCPSentBytesTotal)); got != 23 {
		t.Errorf("tcp metrics carry %d standard labels, want 23", got)
	}
	if StandardLabels(RequestDurationMilliseconds+"_bucket") == nil {
		t.Error("histogram buckets have no standard labels")
	}
	if StandardLabels("envoy_server_uptime") != nil {
		t.Error("an envoy metric is reported as an Istio standard metric")
	}
}

func TestUnion(t *testing.T) {
	tcp := Select(TCPSentBytesTotal).Eq(Reporter, ReporterDestination)
	q, err := Or(
		Sum(Rate(tcp.Eq(DestinationServiceNamespace, `a"}`), time.Minute), DestinationWorkload),
		Sum(Rate(tcp.Eq(SourceWorkloadNamespace, "b"), time.Minute), DestinationWorkload),
	).Query()
	if err != nil {
		t.Fatal(err)
	}
	want := `sum by (destination_workload) (rate(istio_tcp_sent_bytes_total{destination_service_namespace="a\"}",reporter="destination"}[1m])) or sum by (destination_workload) (rate(istio_tcp_sent_bytes_total{reporter="destination",source_workload_namespace="b"}[1m]))`
	if q != want {
		t.Errorf("got  %s\nwant %s", q, want)
	}
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(q); err != nil {
		t.Errorf("does not parse: %v", err)
	}
	if _, err := Or().Query(); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("an empty union is not an error: %v", err)
	}
}
