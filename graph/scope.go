package graph

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/traffic"
)

const (
	srcNS = traffic.SourceNamespace
	dstNS = traffic.DestinationNamespace
)

// index is what a graph read from the store's index before its queries.
type index struct {
	// recorded tells, by name, whether the recorded series may be there
	// (when the store cannot list names: every one, and the graph falls
	// back to the raw series if they answer nothing).
	recorded map[string]bool
	// listed is true when the store listed one of the recorded names.
	listed bool
	// rules are the values of traffic.RulesLabel in the store: which
	// rules wrote the recorded series (nil when it could not say).
	rules []string
	// lastEvaluation is, by traffic.RulesLabel value, the time of the
	// rules' last whole evaluation at or before the graph's time.
	lastEvaluation map[string]time.Time
	// queries is how many PromQL queries reading the index took.
	queries int
}

// readIndex reads from the store's index what the queries depend on: the
// values of the namespace labels between start and end, as far as the
// store can say, and which of the recorded series exist between
// recordedStart and end, written by which rules. The lookups run at once:
// against a remote store each is a round trip.
func (b *Builder) readIndex(ctx context.Context, namespaces []string, start, recordedStart, end time.Time, recorded []string) (traffic.Scope, index) {
	sc := traffic.Scope{Namespaces: namespaces, Values: map[string][]string{}}
	idx := index{recorded: map[string]bool{}}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, label := range []string{srcNS, dstNS} {
		wg.Go(func() {
			if v, err := b.querier.LabelValues(ctx, label, start, end); err == nil {
				mu.Lock()
				sc.Values[label] = v
				mu.Unlock()
			}
		})
	}
	if len(recorded) > 0 {
		wg.Go(func() {
			names, err := b.querier.LabelValues(ctx, labels.MetricName, recordedStart, end)
			for _, name := range recorded {
				listed := err == nil && slices.Contains(names, name)
				idx.recorded[name] = err != nil || listed
				idx.listed = idx.listed || listed
			}
		})
		wg.Go(func() {
			if v, err := b.querier.LabelValues(ctx, traffic.RulesLabel, recordedStart, end); err == nil {
				idx.rules = v
			}
		})
		idx.queries++
		wg.Go(func() {
			idx.lastEvaluation = b.lastEvaluations(ctx, end)
		})
	}
	wg.Wait()
	if idx.listed && idx.rules == nil {
		// The names were listed, the label not: rules without it.
		idx.rules = []string{}
	}
	return sc, idx
}

// lastEvaluations are, by traffic.RulesLabel value, the times of the
// rules' last markers at or before end (lastEvaluationQuery); none when
// the store cannot say.
func (b *Builder) lastEvaluations(ctx context.Context, end time.Time) map[string]time.Time {
	q, err := lastEvaluationQuery().Query()
	if err != nil {
		return nil
	}
	v, err := b.querier.Query(ctx, q, end)
	if err != nil {
		return nil
	}
	last := map[string]time.Time{}
	for _, s := range v {
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			continue
		}
		last[s.Metric.Get(traffic.RulesLabel)] = time.UnixMilli(int64(math.Round(s.Value * 1000)))
	}
	return last
}
