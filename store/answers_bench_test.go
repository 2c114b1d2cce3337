package store

import (
	"fmt"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	v1 "github.com/prometheus/prometheus/web/api/v1"
)

// graphVector is an answer like a graph's recorded response times at
// 5,000 workloads: n series of 15 labels.
func graphVector(n int) *v1.Response {
	v := make(promql.Vector, n)
	for i := range v {
		ns := fmt.Sprintf("mesh-%02d", i%50)
		v[i] = promql.Sample{T: 1700000000000, F: float64(i) / 7, Metric: labels.FromStrings(
			"destination_canonical_revision", "v1", "destination_canonical_service", fmt.Sprintf("svc-%d", i+1),
			"destination_cluster", "Kubernetes", "destination_service", fmt.Sprintf("svc-%d.%s.svc.cluster.local", i+1, ns),
			"destination_service_name", fmt.Sprintf("svc-%d", i+1), "destination_service_namespace", ns,
			"destination_workload", fmt.Sprintf("svc-%d-v1", i+1), "destination_workload_namespace", ns,
			"meshlens_rules", "v2-30s", "reporter", "destination", "request_protocol", "http",
			"source_canonical_revision", "v1", "source_canonical_service", fmt.Sprintf("svc-%d", i),
			"source_cluster", "Kubernetes", "source_workload", fmt.Sprintf("svc-%d-v1", i), "source_workload_namespace", ns)}
	}
	return &v1.Response{Status: "success", Data: &v1.QueryData{ResultType: parser.ValueTypeVector, Result: v}}
}

// BenchmarkEncodeAnswer is the API's encoding of one such answer:
// Prometheus's codec, and the store's, whose buffer is given back once
// written.
func BenchmarkEncodeAnswer(b *testing.B) {
	resp := graphVector(12800)
	b.Run("prometheus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := (v1.JSONCodec{}).Encode(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lent", func(b *testing.B) {
		var a answerBuffers
		c := a.codec()
		b.ReportAllocs()
		for b.Loop() {
			out, err := c.Encode(resp)
			if err != nil {
				b.Fatal(err)
			}
			a.giveBack(out)
		}
	})
}
