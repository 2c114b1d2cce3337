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

// listed answers LabelValues with values (or err) and every query with nothing.
type listed struct {
	noRules
	values []string
	err    error
}

func (l *listed) LabelValues(context.Context, string, time.Time, time.Time) ([]string, error) {
	return l.values, l.err
}

func TestNamespaceMatchersDropOutForTheWholeMesh(t *testing.T) {
	cases := []struct {
		name         string
		values       []string
		err          error
		wantMatchers bool
	}{
		{"the namespaces hold every destination", []string{"bookinfo"}, nil, false},
		{"a destination namespace outside", []string{"bookinfo", "shop"}, nil, true},
		{"the store cannot list values", nil, errors.New("404"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := &listed{values: tc.values, err: tc.err}
			if _, err := NewBuilder(q, nil).Build(context.Background(), Options{Namespaces: []string{"bookinfo"}, Type: TypeWorkload, Duration: time.Minute}); err != nil {
				t.Fatal(err)
			}
			requests := ""
			for _, qq := range q.queries {
				if strings.Contains(qq, "rate(istio_requests_total") {
					requests = qq
				}
			}
			has := strings.Contains(requests, `destination_service_namespace="bookinfo"`)
			if has != tc.wantMatchers {
				t.Errorf("destination namespace matcher in the requests query: %v, want %v\n%s", has, tc.wantMatchers, requests)
			}
			// Sources outside the namespaces are never the graph's business.
			if !strings.Contains(requests, `source_workload_namespace="bookinfo"`) {
				t.Errorf("the source-reported parts lost their namespace matcher:\n%s", requests)
			}
		})
	}
}
