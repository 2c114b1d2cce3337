package graph

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlens/meshlens/promclient"
)

// noRules answers every query with nothing, as a Prometheus without the
// recording rules (and without traffic) would, and keeps the queries.
type noRules struct {
	mu      sync.Mutex
	queries []string
}

func (n *noRules) Query(_ context.Context, q string, _ time.Time) (promclient.Vector, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.queries = append(n.queries, q)
	return nil, nil
}

func (n *noRules) LabelValues(context.Context, string, time.Time, time.Time) ([]string, error) {
	return nil, nil
}

func (n *noRules) ScrapeInterval(context.Context) (time.Duration, error) {
	return 15 * time.Second, nil
}

func (n *noRules) count(substr string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, q := range n.queries {
		if strings.Contains(q, substr) {
			c++
		}
	}
	return c
}

func TestResponseTimesFallBackToBucketsWithoutRules(t *testing.T) {
	q := &noRules{}
	reg := prometheus.NewRegistry()
	b := NewBuilder(q, reg)
	o := Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute}
	g, err := b.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.count(recordedDuration); got != 1 {
		t.Errorf("recorded series asked %d times, want once", got)
	}
	if got := q.count("histogram_quantile"); got != 1 {
		t.Errorf("buckets asked %d times after the recorded series were missing, want once", got)
	}
	if g.Queries != 5 {
		t.Errorf("the graph says it sent %d queries, it sent 5", g.Queries)
	}
	if _, err := b.Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := q.count(recordedDuration); got != 1 {
		t.Errorf("the next graph asked for the missing recorded series again (%d)", got)
	}
	if got := q.count("histogram_quantile"); got != 2 {
		t.Errorf("the next graph asked the buckets %d times in all, want 2", got)
	}
	if got := testutil.ToFloat64(b.responseTimes.WithLabelValues("buckets")); got != 2 {
		t.Errorf("meshlens_graph_response_times_total{source=\"buckets\"} = %v, want 2", got)
	}

	t.Run("a replay of a time before the rules does not stop the next graph from using them", func(t *testing.T) {
		q := &noRules{}
		b := NewBuilder(q, nil)
		old := o
		old.QueryTime = time.Now().Add(-time.Hour)
		b.Build(context.Background(), old)
		b.Build(context.Background(), o)
		if got := q.count(recordedDuration); got != 2 {
			t.Errorf("recorded series asked %d times, want 2", got)
		}
	})
	t.Run("avg falls back to the histogram's sum and count", func(t *testing.T) {
		q := &noRules{}
		avg := o
		avg.ResponseTime = "avg"
		NewBuilder(q, nil).Build(context.Background(), avg)
		if q.count(recordedDuration+"avg") != 1 || q.count("istio_request_duration_milliseconds_sum") != 1 || q.count("istio_request_duration_milliseconds_count") != 1 {
			t.Errorf("queries: %q", q.queries)
		}
	})
}

// listed answers LabelValues from values by label (or err) and every query
// with nothing.
type listed struct {
	noRules
	values map[string][]string
	err    error
}

func (l *listed) LabelValues(_ context.Context, name string, _, _ time.Time) ([]string, error) {
	return l.values[name], l.err
}

func TestNamespaceMatchersTakeTheCheaperForm(t *testing.T) {
	many := []string{"a", "b", "c", "d"}
	cases := []struct {
		name   string
		asked  []string
		values map[string][]string
		err    error
		// in the requests query
		want, wantNot    []string
		destinationParts int
	}{
		{
			name: "the whole mesh: no destination matcher, sources by the one value outside", asked: many,
			values:  map[string][]string{dstNS: many, srcNS: append([]string{"unknown"}, many...)},
			want:    []string{`source_workload_namespace!="unknown"`},
			wantNot: []string{`destination_service_namespace=`, `destination_service_namespace!`, `source_workload_namespace=~`},
			// "from the namespaces to outside" can't happen: one part of
			// destination-reported requests, not two.
			destinationParts: 1,
		},
		{
			name: "one namespace of several: plain matchers", asked: []string{"a"},
			values: map[string][]string{dstNS: many, srcNS: many},
			want:   []string{`destination_service_namespace="a"`, `source_workload_namespace="a"`, `destination_service_namespace!="a"`},
		},
		{
			name: "the store cannot list values: plain matchers", asked: many, err: errors.New("404"),
			want: []string{`destination_service_namespace=~"a|b|c|d"`, `source_workload_namespace=~"a|b|c|d"`, `destination_service_namespace!~"a|b|c|d"`},
		},
		{
			name: "namespaces without any traffic: plain matchers, a query that finds nothing", asked: []string{"quiet"},
			values: map[string][]string{dstNS: many, srcNS: many},
			want:   []string{`destination_service_namespace="quiet"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := &listed{values: tc.values, err: tc.err}
			if _, err := NewBuilder(q, nil).Build(context.Background(), Options{Namespaces: tc.asked, Type: TypeWorkload, Duration: time.Minute}); err != nil {
				t.Fatal(err)
			}
			requests := ""
			for _, qq := range q.queries {
				if strings.Contains(qq, "rate(istio_requests_total") {
					requests = qq
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(requests, w) {
					t.Errorf("the requests query lacks %s:\n%s", w, requests)
				}
			}
			if n := strings.Count(requests, `reporter="destination"`); tc.destinationParts > 0 && n != tc.destinationParts {
				t.Errorf("%d parts of destination-reported requests, want %d:\n%s", n, tc.destinationParts, requests)
			}
			for _, w := range tc.wantNot {
				if strings.Contains(requests, w) {
					t.Errorf("the requests query has %s:\n%s", w, requests)
				}
			}
		})
	}
}
