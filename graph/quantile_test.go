package graph

import (
	"math"
	"testing"
)

func TestBucketQuantile(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name    string
		q       float64
		buckets map[float64]float64
		want    float64
		ok      bool
	}{
		{"the median of an even spread falls mid-bucket", 0.5, map[float64]float64{10: 0, 20: 10, inf: 10}, 15, true},
		{"a rank in the first bucket interpolates from zero", 0.5, map[float64]float64{10: 10, 20: 10, inf: 10}, 5, true},
		{"a rank in +Inf answers the highest finite bound", 0.99, map[float64]float64{10: 5, 20: 5, inf: 10}, 20, true},
		{"p95 of Envoy-like buckets", 0.95, map[float64]float64{0.5: 0, 1: 50, 5: 90, 10: 100, inf: 100}, 7.5, true},
		{"no requests is no answer", 0.95, map[float64]float64{10: 0, inf: 0}, 0, false},
		{"no +Inf bucket is no answer", 0.95, map[float64]float64{10: 3, 20: 4}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := bucketQuantile(tc.q, tc.buckets)
			if ok != tc.ok || math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
