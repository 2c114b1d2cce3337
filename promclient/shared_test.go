package promclient

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// counting is a real engine that counts the queries it evaluates and the
// most it ran at once; each takes a moment, for calls to overlap.
type counting struct {
	*Engine
	calls, inFlight, most atomic.Int32
}

func (c *counting) enter() func() {
	c.calls.Add(1)
	n := c.inFlight.Add(1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	return func() { c.inFlight.Add(-1) }
}

func (c *counting) Query(ctx context.Context, q string, ts time.Time) (Vector, error) {
	defer c.enter()()
	return c.Engine.Query(ctx, q, ts)
}

func (c *counting) QueryRange(ctx context.Context, q string, r Range) (Matrix, error) {
	defer c.enter()()
	return c.Engine.QueryRange(ctx, q, r)
}

func sharedOver(t *testing.T, limit int) (*Shared, *counting, *prometheus.Registry) {
	t.Helper()
	st := promqltest.LoadedStorage(t, "load 15s\n  up{job=\"a\"} 1+0x40\n  up{job=\"b\"} 1+0x40\n")
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	c := &counting{Engine: NewEngine(engine, st, 15*time.Second)}
	reg := prometheus.NewRegistry()
	s := NewShared(c, limit, reg)
	s.now = func() time.Time { return time.Unix(607, 0) }
	return s, c, reg
}

func TestIdenticalQueriesAboutNowAreSentOnce(t *testing.T) {
	s, c, reg := sharedOver(t, 8)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Tabs polling within the same scrape interval ask about
			// slightly different "nows".
			v, err := s.Query(context.Background(), `sum(up)`, time.Unix(607, 0).Add(-time.Duration(i)*100*time.Millisecond))
			if err != nil || len(v) != 1 || v[0].Value != 2 {
				t.Errorf("%v %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n := c.calls.Load(); n != 1 {
		t.Errorf("the store evaluated %d queries for 20 identical ones, want 1", n)
	}
	// Asked again within the interval: from the cache.
	if _, err := s.Query(context.Background(), `sum(up)`, time.Unix(606, 0)); err != nil || c.calls.Load() != 1 {
		t.Errorf("a second ask within the interval was sent again (%d calls, %v)", c.calls.Load(), err)
	}
	if got := testutil.ToFloat64(s.queries.WithLabelValues("cached")); got < 1 {
		t.Errorf("cached count %g", got)
	}
	_ = reg
	// About the past: evaluated as asked, not shared across times.
	s.Query(context.Background(), `sum(up)`, time.Unix(300, 0))
	s.Query(context.Background(), `sum(up)`, time.Unix(301, 0))
	if n := c.calls.Load(); n != 3 {
		t.Errorf("%d calls after two queries about the past, want 3", n)
	}
}

func TestQueriesInFlightAreBounded(t *testing.T) {
	s, c, _ := sharedOver(t, 2)
	var wg sync.WaitGroup
	for _, q := range []string{`up`, `sum(up)`, `count(up)`, `max(up)`, `min(up)`, `up{job="a"}`, `up{job="b"}`, `avg(up)`} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.QueryRange(context.Background(), q, Range{Start: time.Unix(300, 0), End: time.Unix(600, 0), Step: time.Minute}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := c.most.Load(); m > 2 || c.calls.Load() != 8 {
		t.Errorf("%d queries ran at once (limit 2), %d calls (want 8)", m, c.calls.Load())
	}
}

func TestACallerThatGivesUpGetsItsContextError(t *testing.T) {
	s, _, _ := sharedOver(t, 1)
	s.slots <- struct{}{} // every slot taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := s.Query(ctx, `up`, time.Unix(600, 0)); done <- err }()
	if err := <-done; err == nil {
		t.Error("a query waiting for a slot past its deadline answered")
	}
	<-s.slots
}

// A counting copy counts what the engine read for each query: a range of
// 1m over a series scraped every 15s holds 4 samples ((540s, 600s]), an
// instant selector 1 per series; two series. The copy shares no answers
// with the original, so a query the original holds is read again, and the
// original counts nothing.
func TestACountingCopyCountsTheSamplesItsQueriesRead(t *testing.T) {
	s, _, _ := sharedOver(t, 8)
	at := time.Unix(600, 0)
	if _, err := s.Query(context.Background(), `sum(up)`, at); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	counted := s.CountingSamples(&n)
	if _, err := counted.Query(context.Background(), `sum(rate(up[1m]))`, at); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 8 {
		t.Errorf("rate over 1m of two series: %d samples counted, want 8", got)
	}
	if _, err := counted.Query(context.Background(), `sum(up)`, at); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 10 {
		t.Errorf("then the two series at one instant, which the original holds: %d samples counted, want 10 (8: read from the original's answers)", got)
	}
}
