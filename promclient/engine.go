package promclient

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Engine queries a PromQL engine over a storage in the same process: the
// demo's console asks its embedded store without HTTP.
type Engine struct {
	engine    *promql.Engine
	queryable storage.Queryable
	interval  time.Duration
	// samples, when set, adds up the samples each query read, as the
	// engine's statistics count them.
	samples *atomic.Int64
}

// NewEngine queries queryable through engine; interval is the scrape
// interval of the data.
func NewEngine(engine *promql.Engine, queryable storage.Queryable, interval time.Duration) *Engine {
	return &Engine{engine: engine, queryable: queryable, interval: interval}
}

// CountingSamples implements SampleCounter.
func (e *Engine) CountingSamples(n *atomic.Int64) RangeQuerier {
	return &Engine{engine: e.engine, queryable: e.queryable, interval: e.interval, samples: n}
}

// Query implements Querier.
func (e *Engine) Query(ctx context.Context, q string, ts time.Time) (Vector, error) {
	var out Vector
	err := run(ctx, e.samples, func() (promql.Query, error) { return e.engine.NewInstantQuery(ctx, e.queryable, nil, q, ts) },
		func(res *promql.Result) error {
			vec, err := res.Vector()
			if err != nil {
				return err
			}
			out = make(Vector, 0, len(vec))
			for _, s := range vec {
				out = append(out, Sample{Metric: s.Metric, Value: s.F})
			}
			return nil
		})
	return out, err
}

// run makes a query with newQuery, runs it and hands its result to read
// before the query is closed (closing recycles the result's memory); when
// samples is set, the samples the query read are added to it. Errors wrap
// ErrBadQuery.
func run(ctx context.Context, samples *atomic.Int64, newQuery func() (promql.Query, error), read func(*promql.Result) error) error {
	qry, err := newQuery()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return fmt.Errorf("%w: %w", ErrBadQuery, res.Err)
	}
	if samples != nil {
		if st := qry.Stats(); st != nil && st.Samples != nil {
			samples.Add(st.Samples.TotalSamples)
		}
	}
	if err := read(res); err != nil {
		return fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	return nil
}

// ScrapeInterval implements Querier.
func (e *Engine) ScrapeInterval(context.Context) (time.Duration, error) { return e.interval, nil }

// LabelValues implements Querier.
func (e *Engine) LabelValues(ctx context.Context, name string, start, end time.Time) ([]string, error) {
	q, err := e.queryable.Querier(start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer q.Close()
	vals, _, err := q.LabelValues(ctx, name, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return vals, nil
}

// LabelNames are the label names of any series between start and end.
func (e *Engine) LabelNames(ctx context.Context, start, end time.Time) ([]string, error) {
	q, err := e.queryable.Querier(start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer q.Close()
	names, _, err := q.LabelNames(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return names, nil
}
