package traffic

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

// LabelValuer lists the values a label has on any series in a time range
// (promclient's queriers do).
type LabelValuer interface {
	LabelValues(ctx context.Context, name string, start, end time.Time) ([]string, error)
}

// Namespaces are the namespaces Istio's telemetry names between start and
// end, sorted: those of the services called and of the workloads that
// called, less "unknown" (a caller without a sidecar).
func Namespaces(ctx context.Context, q LabelValuer, start, end time.Time) ([]string, error) {
	seen := map[string]bool{}
	for _, label := range []string{telemetry.DestinationServiceNamespace, telemetry.SourceWorkloadNamespace} {
		values, err := q.LabelValues(ctx, label, start, end)
		if err != nil {
			return nil, err
		}
		for _, v := range values {
			if v != "" && v != "unknown" {
				seen[v] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
