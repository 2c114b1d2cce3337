package collect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// Two pods of one workload, their counters written by hand for each
// scrape; the second pod restarts (its counter starts again) in the
// middle. The workload's series must count what both pods counted.
func TestAggregateSumsEachPodsIncreasesOverItsOwnResets(t *testing.T) {
	_, s := workspace(t)
	receiver := httptest.NewServer(s.Handler())
	defer receiver.Close()

	var mu sync.Mutex
	scrapes := map[string]int{}
	// Each scrape, pod a counts 10 requests and pod b 5, for twenty
	// scrapes, then nothing more; b restarts at its 6th scrape (its
	// counter back to 5). A counter that is not Istio's passes through.
	pods := map[string]*httptest.Server{}
	for _, pod := range []string{"a", "b"} {
		pods[pod] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			scrapes[pod]++
			n := min(scrapes[pod], 20)
			mu.Unlock()
			v := 10 * n
			if pod == "b" {
				v = 5 * n
				if n >= 6 {
					v = 5 * (n - 5)
				}
			}
			fmt.Fprintf(w, "# TYPE istio_requests_total counter\nistio_requests_total{destination_workload=\"reviews-v2\",pod=%q} %d\n", "reviews-v2-"+pod, v)
			fmt.Fprintf(w, "# TYPE app_requests_total counter\napp_requests_total{pod=%q} %d\n", "reviews-v2-"+pod, n)
		}))
		defer pods[pod].Close()
	}
	cfg := fmt.Sprintf(`
global: {scrape_interval: 100ms, scrape_timeout: 100ms}
scrape_configs:
  - job_name: envoy-stats
    static_configs: [{targets: [%q, %q]}]
remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 100ms}
`, strings.TrimPrefix(pods["a"].URL, "http://"), strings.TrimPrefix(pods["b"].URL, "http://"), receiver.URL)
	loaded, err := LoadConfig(Flags{ConfigFile: configFile(t, cfg), Interval: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, Options{Config: loaded, WALDir: t.TempDir(), AggregateWorkloads: true, FlushDeadline: time.Second})
	eventually(t, "twenty-five scrapes of each pod", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return scrapes["a"] >= 25 && scrapes["b"] >= 25
	})
	time.Sleep(time.Second) // the last sums written and sent

	query := func(q string) promql.Vector {
		t.Helper()
		qq, err := s.Engine().NewInstantQuery(context.Background(), s.Queryable(), nil, q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res := qq.Exec(context.Background())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res.Value.(promql.Vector)
	}
	// One workload series, no pod or instance; pods' series never arrive.
	workload := query(`istio_requests_total`)
	if len(workload) != 1 || workload[0].Metric.Has("pod") || workload[0].Metric.Has("instance") || workload[0].Metric.Get("destination_workload") != "reviews-v2" {
		t.Fatalf("istio_requests_total: %v, want one series of reviews-v2 without pod or instance", workload)
	}
	// After its first scrape (what a pod counted before is not this
	// collector's), a counts 19 × 10; b counts 4 × 5, then 5 again at its
	// restart (what its new counter says), then 14 × 5: 285 in all. A sum
	// of the pods' raw counters would have lost 25 at the restart.
	if got := workload[0].F; got != 285 {
		t.Errorf("the workload counted %.0f requests, want 285", got)
	}
	if resets := query(`resets(istio_requests_total[1h])`); len(resets) != 1 || resets[0].F != 0 {
		t.Errorf("the workload's counter was reset %v times, want never", resets)
	}
	// Other metrics keep their pods.
	if other := query(`app_requests_total`); len(other) != 2 {
		t.Errorf("app_requests_total: %v, want both pods' series untouched", other)
	}
}
