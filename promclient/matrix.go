package promclient

import (
	"context"
	"fmt"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// RangeQuerier answers range queries too: what charts draw.
type RangeQuerier interface {
	Querier
	// QueryRange evaluates q at every step of r.
	QueryRange(ctx context.Context, q string, r Range) (Matrix, error)
}

// Range is the times a range query is evaluated at: from Start to End,
// every Step.
type Range struct {
	Start, End time.Time
	Step       time.Duration
}

// Series is one series of a range answer.
type Series struct {
	Metric labels.Labels
	Points []Point
}

// Point is a value at a time (Unix milliseconds).
type Point struct {
	T int64
	V float64
}

// Matrix is the answer to a range query.
type Matrix []Series

// QueryRange implements RangeQuerier.
func (h *HTTP) QueryRange(ctx context.Context, q string, r Range) (Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	v, _, _, err := h.api.QueryRange(ctx, q, promv1.Range{Start: r.Start, End: r.End, Step: r.Step})
	if err != nil {
		return nil, classify(err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("%w: range query answered a %s, not a matrix", ErrBadQuery, v.Type())
	}
	out := make(Matrix, 0, len(m))
	for _, s := range m {
		b := labels.NewScratchBuilder(len(s.Metric))
		for k, v := range s.Metric {
			b.Add(string(k), string(v))
		}
		b.Sort()
		series := Series{Metric: b.Labels(), Points: make([]Point, 0, len(s.Values))}
		for _, p := range s.Values {
			series.Points = append(series.Points, Point{T: int64(p.Timestamp), V: float64(p.Value)})
		}
		out = append(out, series)
	}
	return out, nil
}

// QueryRange implements RangeQuerier.
func (e *Engine) QueryRange(ctx context.Context, q string, r Range) (Matrix, error) {
	var out Matrix
	err := run(ctx, e.samples, func() (promql.Query, error) {
		return e.engine.NewRangeQuery(ctx, e.queryable, nil, q, r.Start, r.End, r.Step)
	}, func(res *promql.Result) error {
		m, err := res.Matrix()
		if err != nil {
			return err
		}
		out = make(Matrix, 0, len(m))
		for _, s := range m {
			series := Series{Metric: s.Metric, Points: make([]Point, 0, len(s.Floats))}
			for _, p := range s.Floats {
				series.Points = append(series.Points, Point{T: p.T, V: p.F})
			}
			out = append(out, series)
		}
		return nil
	})
	return out, err
}
