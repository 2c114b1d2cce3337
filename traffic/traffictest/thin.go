package traffictest

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/teststorage"
)

// Thinned is a copy of st's float series as a collector would have kept
// them with metric_relabel_configs rcs (a thinning preset): series it
// drops are gone, and the labels it drops too.
func Thinned(t testing.TB, st storage.Queryable, rcs []*relabel.Config) *teststorage.TestStorage {
	t.Helper()
	out := teststorage.New(t)
	ctx := context.Background()
	q, err := st.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	app := out.AppenderV2(ctx)
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		lb := labels.NewBuilder(s.Labels())
		if !relabel.ProcessBuilder(lb, rcs...) {
			continue
		}
		ls := lb.Labels()
		it = s.Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			if _, err := app.Append(0, ls, 0, ts, v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatalf("%s at %d: %v", ls, ts, err)
			}
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Rounded is v as JSON with every number rounded to 9 significant digits:
// two answers from the same series compare equal though their sums were
// added in another order.
func Rounded(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(round(generic))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func round(v any) any {
	switch x := v.(type) {
	case float64:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 9, 64), 64)
		return f
	case []any:
		for i := range x {
			x[i] = round(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = round(x[k])
		}
	}
	return v
}
