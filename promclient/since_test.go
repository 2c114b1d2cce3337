package promclient

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"
)

func TestDataSinceFindsTheFirstScrape(t *testing.T) {
	// 15 s scrapes; sample i is at i*15 s. Three stores: one whose scrapes
	// began at 1 h and ran to 3 h, one whose began 5 minutes before 3 h,
	// and one with no up series at all.
	for _, c := range []struct {
		name       string
		load       string
		within     time.Duration
		ok         bool
		from, upTo time.Duration // since lies in [from, upTo]
	}{
		{"hours old, found by the coarse look", `up{job="a"} _x240 1+0x480`, 24 * time.Hour, true, time.Hour, time.Hour + 11*time.Minute},
		{"minutes old, found to the scrape", `up{job="a"} _x700 1+0x20` + "\n  " + `up{job="b"} _x710 1+0x10`, 24 * time.Hour, true, 700 * 15 * time.Second, 701 * 15 * time.Second},
		{"older than asked, bounded by within", `up{job="a"} 1+0x720`, time.Hour, true, 2 * time.Hour, 2*time.Hour + 15*time.Second},
		{"no up series", `istio_requests_total{job="a"} 1+1x720`, 24 * time.Hour, false, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := promqltest.LoadedStorage(t, "load 15s\n  "+c.load+"\n")
			q := NewEngine(promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery), st, 15*time.Second)
			since, ok, err := DataSince(context.Background(), q, time.Unix(3*3600, 0), c.within)
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v (since %v)", ok, c.ok, since)
			}
			if !ok {
				return
			}
			if at := since.Sub(time.Unix(0, 0)); at < c.from || at > c.upTo {
				t.Errorf("since = %s after the epoch, want between %s and %s", at, c.from, c.upTo)
			}
		})
	}
}
