package telemetry

import (
	"testing"
	"time"
)

func BenchmarkBuildRateQuery(b *testing.B) {
	for b.Loop() {
		_, err := Sum(Rate(Select(RequestsTotal).Eq(Reporter, ReporterDestination).
			In(DestinationServiceNamespace, "bookinfo", "istio-system"), time.Minute),
			SourceWorkload, DestinationWorkload, ResponseCode).Query()
		if err != nil {
			b.Fatal(err)
		}
	}
}
