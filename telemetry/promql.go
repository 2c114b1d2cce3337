package telemetry

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// ErrInvalidQuery is wrapped by every error the builder returns, so callers
// can map it to a 400 with errors.Is.
var ErrInvalidQuery = errors.New("invalid query input")

// The builder writes PromQL through Prometheus's own AST printer, which quotes
// every label value; it never pastes a caller's string into query text.
// Label and metric names come from code, values from anywhere: a value may hold
// quotes, backslashes or `"}or vector(1)` and still only ever be a value.

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// metricNameRE also admits the colons of recording rules' names
// (level:metric:operations).
var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Selector selects the series of one metric by label matchers. It is a value:
// each method returns a new Selector and leaves the receiver unchanged.
type Selector struct {
	metric   string
	matchers []*labels.Matcher
	offset   time.Duration
	at       *int64
	err      error
}

// Select starts a selector for metric.
func Select(metric string) Selector {
	s := Selector{metric: metric}
	if !metricNameRE.MatchString(metric) {
		s.err = fmt.Errorf("%w: metric name %q", ErrInvalidQuery, metric)
	}
	return s
}

// WithMetric is the selector with the same matchers on another metric (a
// histogram's _count beside its _sum).
func (s Selector) WithMetric(metric string) Selector {
	out := Select(metric)
	out.matchers = s.matchers
	if s.err != nil {
		out.err = s.err
	}
	return out
}

// Fixed are the label values every series the selector keeps has: its
// name="value" matchers.
func (s Selector) Fixed() map[string]string {
	out := map[string]string{}
	for _, m := range s.matchers {
		if m.Type == labels.MatchEqual {
			out[m.Name] = m.Value
		}
	}
	return out
}

// Eq adds name="value".
func (s Selector) Eq(name, value string) Selector { return s.with(labels.MatchEqual, name, value) }

// Neq adds name!="value".
func (s Selector) Neq(name, value string) Selector { return s.with(labels.MatchNotEqual, name, value) }

// In adds a matcher that keeps series whose label name equals one of values.
// Values are literals, not regular expressions: each is escaped.
func (s Selector) In(name string, values ...string) Selector {
	if len(values) == 1 {
		return s.Eq(name, values[0])
	}
	return s.with(labels.MatchRegexp, name, alternation(values))
}

// NotIn adds a matcher that drops series whose label name equals one of values.
func (s Selector) NotIn(name string, values ...string) Selector {
	if len(values) == 1 {
		return s.Neq(name, values[0])
	}
	return s.with(labels.MatchNotRegexp, name, alternation(values))
}

// Matches adds name=~"re". The expression comes from code, never from a
// request: it is not escaped (use In for literal values).
func (s Selector) Matches(name, re string) Selector {
	return s.with(labels.MatchRegexp, name, re)
}

// NotMatches adds name!~"re"; re comes from code, as for Matches.
func (s Selector) NotMatches(name, re string) Selector {
	return s.with(labels.MatchNotRegexp, name, re)
}

// Offset is the selector read d earlier than the query's time (offset d).
func (s Selector) Offset(d time.Duration) Selector {
	if d < 0 && s.err == nil {
		s.err = fmt.Errorf("%w: offset must not be negative, got %s", ErrInvalidQuery, d)
	}
	s.offset = d
	return s
}

// At is the selector read at t whatever the query's time (@ t): a window
// that ends at a moment the caller knows, inside a query about another.
func (s Selector) At(t time.Time) Selector {
	ms := t.UnixMilli()
	s.at = &ms
	return s
}

func alternation(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = regexp.QuoteMeta(v)
	}
	return strings.Join(quoted, "|")
}

func (s Selector) with(t labels.MatchType, name, value string) Selector {
	if s.err != nil {
		return s
	}
	if !nameRE.MatchString(name) {
		s.err = fmt.Errorf("%w: label name %q", ErrInvalidQuery, name)
		return s
	}
	if !utf8.ValidString(value) {
		s.err = fmt.Errorf("%w: value of label %s is not valid UTF-8", ErrInvalidQuery, name)
		return s
	}
	m, err := labels.NewMatcher(t, name, value)
	if err != nil {
		s.err = fmt.Errorf("%w: label %s: %v", ErrInvalidQuery, name, err)
		return s
	}
	out := s
	out.matchers = append(append([]*labels.Matcher(nil), s.matchers...), m)
	return out
}

func (s Selector) node() (*parser.VectorSelector, error) {
	if s.err != nil {
		return nil, s.err
	}
	name, err := labels.NewMatcher(labels.MatchEqual, labels.MetricName, s.metric)
	if err != nil {
		return nil, err
	}
	return &parser.VectorSelector{
		Name:           s.metric,
		LabelMatchers:  append([]*labels.Matcher{name}, s.matchers...),
		OriginalOffset: s.offset,
		Timestamp:      s.at,
	}, nil
}

// Expr is a PromQL expression assembled from typed parts. A mistake anywhere
// in the parts is carried along and reported by Query.
type Expr struct {
	node parser.Expr
	err  error
}

// Instant is the selector as an instant vector.
func (s Selector) Instant() Expr {
	n, err := s.node()
	return Expr{node: n, err: err}
}

// Query renders the expression as PromQL text.
func (e Expr) Query() (string, error) {
	if e.err != nil {
		return "", e.err
	}
	return e.node.String(), nil
}

func rangeCall(fn string, s Selector, window time.Duration) Expr {
	n, err := s.node()
	if err != nil {
		return Expr{err: err}
	}
	if window <= 0 {
		return Expr{err: fmt.Errorf("%w: %s window must be positive, got %s", ErrInvalidQuery, fn, window)}
	}
	return call(fn, &parser.MatrixSelector{VectorSelector: n, Range: window})
}

// call is fn(arg), for the functions of one argument.
func call(fn string, arg parser.Expr) Expr {
	return Expr{node: &parser.Call{Func: parser.Functions[fn], Args: parser.Expressions{arg}}}
}

// Rate is rate(selector[window]).
func Rate(s Selector, window time.Duration) Expr { return rangeCall("rate", s, window) }

// SumOverTime is sum_over_time(selector[window]).
func SumOverTime(s Selector, window time.Duration) Expr { return rangeCall("sum_over_time", s, window) }

// CountOverTime is count_over_time(selector[window]).
func CountOverTime(s Selector, window time.Duration) Expr {
	return rangeCall("count_over_time", s, window)
}

// Vector is vector(v): one series without labels.
func Vector(v float64) Expr { return call("vector", &parser.NumberLiteral{Val: v}) }

// Timestamp is timestamp(e): the time of each series' sample, in seconds.
func Timestamp(e Expr) Expr { return callOn("timestamp", e) }

// callOn is fn(e), for the functions of one instant vector.
func callOn(fn string, e Expr) Expr {
	if e.err != nil {
		return e
	}
	return call(fn, e.node)
}

// AvgOverTime is avg_over_time(selector[window]).
func AvgOverTime(s Selector, window time.Duration) Expr { return rangeCall("avg_over_time", s, window) }

func aggregate(op parser.ItemType, e Expr, by []string) Expr {
	if e.err != nil {
		return e
	}
	for _, l := range by {
		if !nameRE.MatchString(l) {
			return Expr{err: fmt.Errorf("%w: grouping label %q", ErrInvalidQuery, l)}
		}
	}
	return Expr{node: &parser.AggregateExpr{Op: op, Expr: e.node, Grouping: by}}
}

// Max is max by (by...) (e); with no labels, max(e).
func Max(e Expr, by ...string) Expr { return aggregate(parser.MAX, e, by) }

// Count is count by (by...) (e); with no labels, count(e).
func Count(e Expr, by ...string) Expr { return aggregate(parser.COUNT, e, by) }

// Sum is sum by (by...) (e); with no labels, sum(e).
func Sum(e Expr, by ...string) Expr { return aggregate(parser.SUM, e, by) }

// HistogramQuantile is histogram_quantile(q, e); e must keep the le label.
func HistogramQuantile(q float64, e Expr) Expr {
	if e.err != nil {
		return e
	}
	if q < 0 || q > 1 {
		return Expr{err: fmt.Errorf("%w: quantile %v is outside [0, 1]", ErrInvalidQuery, q)}
	}
	return Expr{node: &parser.Call{
		Func: parser.Functions["histogram_quantile"],
		Args: parser.Expressions{&parser.NumberLiteral{Val: q}, e.node},
	}}
}

// Or is the union a or b or ...: every series of a, then those of the
// others whose label sets a lacks.
func Or(exprs ...Expr) Expr {
	if len(exprs) == 0 {
		return Expr{err: fmt.Errorf("%w: or of nothing", ErrInvalidQuery)}
	}
	out := exprs[0]
	for _, e := range exprs[1:] {
		out = set(parser.LOR, out, e)
	}
	return out
}

// And is a and b: the series of a that a series of b matches by all
// their labels but the name.
func And(a, b Expr) Expr { return set(parser.LAND, a, b) }

// Scalar is scalar(e): e's one value as a number, NaN unless e has
// exactly one series.
func Scalar(e Expr) Expr { return callOn("scalar", e) }

func set(op parser.ItemType, a, b Expr) Expr {
	if a.err != nil {
		return a
	}
	if b.err != nil {
		return b
	}
	return Expr{node: &parser.BinaryExpr{Op: op, LHS: operand(op, a.node, false), RHS: operand(op, b.node, true),
		VectorMatching: &parser.VectorMatching{Card: parser.CardManyToMany}}}
}

// precedence is how tightly PromQL binds the binary operators the builder
// writes (^ and atan2 it does not).
var precedence = map[parser.ItemType]int{
	parser.LOR: 1, parser.LAND: 2, parser.LUNLESS: 2,
	parser.EQLC: 3, parser.NEQ: 3, parser.LTE: 3, parser.LSS: 3, parser.GTE: 3, parser.GTR: 3,
	parser.ADD: 4, parser.SUB: 4, parser.MUL: 5, parser.DIV: 5, parser.MOD: 5,
}

// operand is n as an operand of op, in parentheses where PromQL would
// bind it differently without them: Prometheus's printer writes the tree
// as built and adds none. The operators are left-associative: a right
// operand of the same precedence needs them too.
func operand(op parser.ItemType, n parser.Expr, right bool) parser.Expr {
	b, ok := n.(*parser.BinaryExpr)
	if !ok {
		return n
	}
	if p, q := precedence[b.Op], precedence[op]; p < q || right && p == q {
		return &parser.ParenExpr{Expr: n}
	}
	return n
}

// Unless is a unless on (on...) b: the series of a that no series of b
// matches on those labels; with no labels, on all their labels but the
// name.
func Unless(a, b Expr, on ...string) Expr {
	e := set(parser.LUNLESS, a, b)
	if e.err != nil || len(on) == 0 {
		return e
	}
	for _, l := range on {
		if !nameRE.MatchString(l) {
			return Expr{err: fmt.Errorf("%w: matching label %q", ErrInvalidQuery, l)}
		}
	}
	m := e.node.(*parser.BinaryExpr).VectorMatching
	m.On, m.MatchingLabels = true, on
	return e
}

// Add is a + b, matching series by all their labels.
func Add(a, b Expr) Expr { return binary(parser.ADD, a, b) }

// Div is a / b, matching series by all their labels.
func Div(a, b Expr) Expr { return binary(parser.DIV, a, b) }

func binary(op parser.ItemType, a, b Expr) Expr {
	if a.err != nil {
		return a
	}
	if b.err != nil {
		return b
	}
	return Expr{node: &parser.BinaryExpr{Op: op, LHS: operand(op, a.node, false), RHS: operand(op, b.node, true),
		VectorMatching: &parser.VectorMatching{Card: parser.CardOneToOne}}}
}

// AtLeast keeps the series of e whose value is >= v; NaN is never kept.
func AtLeast(e Expr, v float64) Expr {
	return filter(parser.GTE, e, Expr{node: &parser.NumberLiteral{Val: v}})
}

// BelowValueOf keeps the series of e whose value is < the scalar
// expression bound's (scalar(...), say).
func BelowValueOf(e, bound Expr) Expr { return filter(parser.LSS, e, bound) }

// filter is "e op bound", a comparison with a number or a scalar
// expression that keeps the series of e it holds for.
func filter(op parser.ItemType, e, bound Expr) Expr {
	if e.err != nil {
		return e
	}
	if bound.err != nil {
		return bound
	}
	return Expr{node: &parser.BinaryExpr{Op: op, LHS: operand(op, e.node, false), RHS: operand(op, bound.node, true)}}
}
