package console

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestMetricsAPI(t *testing.T) {
	ts := healthServer(t)
	t.Run("a workload's inbound request and error rates in Kiali's shape", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/namespaces/bookinfo/workloads/reviews-v2/metrics?filters[]=request_count&filters[]=request_error_count&rateInterval=1m&duration=300&step=60")
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		for name, want := range map[string]float64{"request_count": 2, "request_error_count": 1} {
			series := body[name].([]any)
			if len(series) != 1 {
				t.Fatalf("%s: %v", name, series)
			}
			m := series[0].(map[string]any)
			points := m["datapoints"].([]any)
			last := points[len(points)-1].([]any)
			if v := last[1].(float64); math.Abs(v-want) > 1e-6 || m["name"] != name {
				t.Errorf("%s: last point %v, want %g", name, last, want)
			}
		}
	})
	t.Run("a namespace's metrics", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/namespaces/bookinfo/metrics?filters=request_count&duration=5m&step=1m")
		if code != 200 || len(body["request_count"].([]any)) != 1 {
			t.Fatalf("%d %v", code, body)
		}
	})
	for _, tc := range []struct {
		name, path string
		code       int
		says       string
	}{
		{"an unknown metric is a 400 naming it", "/api/namespaces/bookinfo/workloads/reviews-v2/metrics?filters[]=requests", 400, "requests"},
		{"a bad quantile is a 400", "/api/namespaces/bookinfo/workloads/reviews-v2/metrics?quantiles[]=2", 400, "quantile"},
		{"a label that is not one is a 400", "/api/namespaces/bookinfo/workloads/reviews-v2/metrics?byLabels[]=" + "a%22%7D", 400, "byLabels"},
		{"a bad duration is a 400", "/api/namespaces/bookinfo/workloads/reviews-v2/metrics?duration=soon", 400, "duration"},
		{"a service's outbound metrics are a 400", "/api/namespaces/bookinfo/services/reviews/metrics?direction=outbound", 400, "inbound"},
		{"an unknown namespace is a 404", "/api/namespaces/nowhere/metrics", 404, "nowhere"},
		{"an unknown kind is a 404", "/api/namespaces/bookinfo/pods/x/metrics", 404, "pods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := getJSON(t, ts.URL+tc.path)
			if code != tc.code || !strings.Contains(fmt.Sprint(body["error"]), tc.says) {
				t.Errorf("%d %v", code, body)
			}
		})
	}
}
