package collect

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// AggregatedLabels are the labels --aggregate=workload sums away: which
// pod of a workload served a request, and which target reported it.
var AggregatedLabels = []string{"pod", "instance"}

// aggregator sums Istio's counters (istio_requests_total, the duration and
// size histograms' buckets, sums and counts, the TCP byte and connection
// counters: every istio_ metric is a counter) over the labels it drops,
// before they reach the log. Dropping a label by relabelling would make
// the pods of a workload one series whose value jumps between theirs
// (Kiali's users found that it breaks the graph); here each pod's counter
// is followed by itself, its increases (across its own resets) are added
// to the workload's series, and that series is written once every
// interval, counting from zero when the collector starts. Everything else
// passes through untouched.
type aggregator struct {
	next     storage.AppendableV2
	logger   *slog.Logger
	drop     []string
	interval time.Duration

	mu      sync.Mutex
	inputs  map[uint64]*aggInput
	outputs map[uint64]*aggOutput
}

type aggInput struct {
	last float64
	seen time.Time
	out  *aggOutput
}

type aggOutput struct {
	labels  labels.Labels
	total   float64
	updated time.Time
}

// forgetAfter is how long a pod's or a workload's series is kept without
// a sample: Prometheus's lookback.
const forgetAfter = 5 * time.Minute

func newAggregator(next storage.AppendableV2, drop []string, interval time.Duration, logger *slog.Logger) *aggregator {
	return &aggregator{next: next, drop: drop, interval: interval, logger: logger, inputs: map[uint64]*aggInput{}, outputs: map[uint64]*aggOutput{}}
}

// aggregates says whether a series is summed: an istio_ counter holding a
// label to drop.
func (a *aggregator) aggregates(ls labels.Labels) bool {
	if !strings.HasPrefix(ls.Get(labels.MetricName), "istio_") {
		return false
	}
	for _, d := range a.drop {
		if ls.Has(d) {
			return true
		}
	}
	return false
}

// AppenderV2 implements storage.AppendableV2.
func (a *aggregator) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &aggAppender{a: a, next: a.next.AppenderV2(ctx)}
}

type aggUpdate struct {
	ls labels.Labels
	v  float64
}

type aggAppender struct {
	a       *aggregator
	next    storage.AppenderV2
	pending []aggUpdate
}

func (x *aggAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	if h != nil || fh != nil || !x.a.aggregates(ls) {
		return x.next.Append(ref, ls, st, t, v, h, fh, opts)
	}
	if !value.IsStaleNaN(v) && !math.IsNaN(v) {
		x.pending = append(x.pending, aggUpdate{ls: ls, v: v})
	}
	// Any stable non-zero reference will do: the series does not reach the
	// storage, and the scrape loop only hands it back.
	return storage.SeriesRef(ls.Hash() | 1), nil
}

// Commit adds the scrape's increases to the workloads' totals, then
// commits what passed through.
func (x *aggAppender) Commit() error {
	if len(x.pending) > 0 {
		x.a.add(x.pending, time.Now())
	}
	return x.next.Commit()
}

func (x *aggAppender) Rollback() error { return x.next.Rollback() }

func (a *aggregator) add(updates []aggUpdate, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range updates {
		h := u.ls.Hash()
		in, ok := a.inputs[h]
		if !ok {
			outLabels := labels.NewBuilder(u.ls).Del(a.drop...).Labels()
			oh := outLabels.Hash()
			out, ok := a.outputs[oh]
			if !ok {
				out = &aggOutput{labels: outLabels}
				a.outputs[oh] = out
			}
			// What a pod counted before it was first seen is not known to
			// have happened in this collector's time: it is the baseline.
			a.inputs[h] = &aggInput{last: u.v, seen: now, out: out}
			out.updated = now
			continue
		}
		increase := u.v - in.last
		if u.v < in.last { // the pod's counter was reset: it restarted
			increase = u.v
		}
		in.last, in.seen = u.v, now
		in.out.total += increase
		in.out.updated = now
	}
}

// emit writes every workload series once, at now; a series no pod has
// fed for forgetAfter is marked stale and forgotten, as are such pods.
func (a *aggregator) emit(ctx context.Context, now time.Time) error {
	a.mu.Lock()
	type point struct {
		ls labels.Labels
		v  float64
	}
	points := make([]point, 0, len(a.outputs))
	for h, out := range a.outputs {
		if now.Sub(out.updated) > forgetAfter {
			points = append(points, point{out.labels, math.Float64frombits(value.StaleNaN)})
			delete(a.outputs, h)
			continue
		}
		points = append(points, point{ls: out.labels, v: out.total})
	}
	for h, in := range a.inputs {
		if now.Sub(in.seen) > forgetAfter {
			delete(a.inputs, h)
		}
	}
	a.mu.Unlock()
	app := a.next.AppenderV2(ctx)
	t := now.UnixMilli()
	for _, p := range points {
		if _, err := app.Append(0, p.ls, 0, t, p.v, nil, nil, storage.AppendV2Options{}); err != nil {
			app.Rollback()
			return err
		}
	}
	return app.Commit()
}

// run emits every interval until ctx ends.
func (a *aggregator) run(ctx context.Context) {
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := a.emit(ctx, now); err != nil {
				a.logger.Error("Could not write the aggregated series", "err", err)
			}
		}
	}
}
