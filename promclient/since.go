package promclient

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// DataSince is about when the store's data begins, looked for as far as
// within before now: the earliest time a scrape's up series is seen. It
// asks twice, coarsely over within and finely over the last hour, so
// that an old store and a young one are both placed to within a few
// steps of their first scrape without reading every sample of a day.
// ok is false when the store holds no up series in that time (a store
// fed by a collector that does not send up).
func DataSince(ctx context.Context, q Querier, now time.Time, within time.Duration) (since time.Time, ok bool, err error) {
	interval, _ := q.ScrapeInterval(ctx)
	if interval <= 0 {
		interval = DefaultScrapeInterval
	}
	fine := min(time.Hour, within)
	for _, r := range []struct{ span, step time.Duration }{
		{within, max(interval, within/144)},
		{fine, interval},
	} {
		expr := fmt.Sprintf("min_over_time(min(timestamp(up))[%s:%s])", model.Duration(r.span), model.Duration(r.step))
		v, err := q.Query(ctx, expr, now)
		if err != nil {
			return time.Time{}, false, err
		}
		if len(v) == 0 {
			continue
		}
		t := time.UnixMilli(int64(v[0].Value * 1000))
		if !ok || t.Before(since) {
			since, ok = t, true
		}
	}
	return since, ok, nil
}
