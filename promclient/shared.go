package promclient

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Shared is a Querier in front of another, for a console that many
// browser tabs poll: at most limit queries in flight process-wide; a query
// asked again while it runs is sent once and its answer shared; and an
// answer about "now" is kept for a scrape interval. A query about now is
// evaluated at now rounded down to the scrape interval, so that tabs
// polling a second apart ask the same question: its answer is exact for
// that time, and at most one interval old (scrapes are not aligned to the
// rounding, so a scrape in between is read by the next interval's answer).
type Shared struct {
	q        RangeQuerier
	slots    chan struct{}
	group    singleflight.Group
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]cached

	queries *prometheus.CounterVec
}

type cached struct {
	v       any
	expires time.Time
}

// NewShared shares q's answers with at most limit queries in flight; its
// metrics go to reg when not nil.
func NewShared(q RangeQuerier, limit int, reg prometheus.Registerer) *Shared {
	if limit < 1 {
		limit = 1
	}
	s := &Shared{q: q, slots: make(chan struct{}, limit), now: time.Now, cache: map[string]cached{},
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlens_promclient_queries_total",
			Help: "PromQL queries asked of the console's Prometheus, by outcome: sent, shared (with an identical query in flight) or cached.",
		}, []string{"outcome"})}
	if reg != nil {
		reg.MustRegister(s.queries)
	}
	return s
}

// ScrapeInterval implements Querier.
func (s *Shared) ScrapeInterval(ctx context.Context) (time.Duration, error) {
	return s.q.ScrapeInterval(ctx)
}

// LabelValues implements Querier; label values are not shared.
func (s *Shared) LabelValues(ctx context.Context, name string, start, end time.Time) ([]string, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.q.LabelValues(ctx, name, start, end)
}

// LabelNamer lists the label names of any series in a time range: HTTP,
// Engine and Shared do.
type LabelNamer interface {
	LabelNames(ctx context.Context, start, end time.Time) ([]string, error)
}

// LabelNames are the label names of any series between start and end,
// when the querier it shares can list them; they are not shared.
func (s *Shared) LabelNames(ctx context.Context, start, end time.Time) ([]string, error) {
	ln, ok := s.q.(LabelNamer)
	if !ok {
		return nil, fmt.Errorf("%w: this querier cannot list label names", ErrBadQuery)
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return ln.LabelNames(ctx, start, end)
}

// CountingSamples implements SampleCounter: the copy shares this one's
// bound on queries in flight, but no answers, so that every query it is
// asked is read (and counted) once. It adds none when the querier it
// shares cannot count.
func (s *Shared) CountingSamples(n *atomic.Int64) RangeQuerier {
	q := s.q
	if sc, ok := q.(SampleCounter); ok {
		q = sc.CountingSamples(n)
	}
	return &Shared{q: q, slots: s.slots, now: s.now, cache: map[string]cached{}, queries: s.queries}
}

// Query implements Querier.
func (s *Shared) Query(ctx context.Context, q string, ts time.Time) (Vector, error) {
	ts, ttl := s.align(ctx, ts)
	v, err := s.share(ctx, "q|"+q+"|"+strconv.FormatInt(ts.UnixMilli(), 10), ttl, func(ctx context.Context) (any, error) {
		return s.q.Query(ctx, q, ts)
	})
	if err != nil {
		return nil, err
	}
	return v.(Vector), nil
}

// QueryRange implements RangeQuerier.
func (s *Shared) QueryRange(ctx context.Context, q string, r Range) (Matrix, error) {
	end, ttl := s.align(ctx, r.End)
	r.Start, r.End = r.Start.Add(end.Sub(r.End)), end
	key := "r|" + q + "|" + strconv.FormatInt(r.Start.UnixMilli(), 10) + "|" + strconv.FormatInt(r.End.UnixMilli(), 10) + "|" + r.Step.String()
	v, err := s.share(ctx, key, ttl, func(ctx context.Context) (any, error) {
		return s.q.QueryRange(ctx, q, r)
	})
	if err != nil {
		return nil, err
	}
	return v.(Matrix), nil
}

// align rounds a time about now down to the scrape interval, and says how
// long its answer holds (0: a time in the past, not kept; its answer does
// not change, but few ask twice).
func (s *Shared) align(ctx context.Context, ts time.Time) (time.Time, time.Duration) {
	interval, err := s.q.ScrapeInterval(ctx)
	if interval <= 0 || (err != nil && interval <= 0) {
		return ts, 0
	}
	now := s.now()
	if now.Sub(ts) > interval || ts.After(now.Add(time.Second)) {
		return ts, 0
	}
	aligned := ts.Truncate(interval)
	return aligned, aligned.Add(interval).Sub(now)
}

// share answers key from the cache, from a call in flight, or by calling.
func (s *Shared) share(ctx context.Context, key string, ttl time.Duration, call func(context.Context) (any, error)) (any, error) {
	if ttl > 0 {
		s.mu.Lock()
		c, ok := s.cache[key]
		s.mu.Unlock()
		if ok && s.now().Before(c.expires) {
			s.queries.WithLabelValues("cached").Inc()
			return c.v, nil
		}
	}
	ch := s.group.DoChan(key, func() (any, error) {
		// The first caller's context bounds the call: one that gave up
		// does not cancel the others' answer.
		release, err := s.acquire(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		defer release()
		s.queries.WithLabelValues("sent").Inc()
		v, err := call(context.WithoutCancel(ctx))
		if err == nil && ttl > 0 {
			s.mu.Lock()
			s.evict()
			s.cache[key] = cached{v: v, expires: s.now().Add(ttl)}
			s.mu.Unlock()
		}
		return v, err
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Shared {
			s.queries.WithLabelValues("shared").Inc()
		}
		return res.Val, res.Err
	}
}

// evict drops expired answers; called with mu held.
func (s *Shared) evict() {
	now := s.now()
	for k, c := range s.cache {
		if !now.Before(c.expires) {
			delete(s.cache, k)
		}
	}
}

// acquire waits for a slot among the queries in flight.
func (s *Shared) acquire(ctx context.Context) (func(), error) {
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
