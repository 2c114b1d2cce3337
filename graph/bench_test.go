package graph

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/simulate"
	"github.com/meshlens/meshlens/telemetry"
)

// meshAnswers answers a graph's queries with one series per workload edge
// of a synthetic mesh, as a store holding its telemetry would: the
// console's share of a graph, without a store or JSON decoding.
type meshAnswers struct {
	requests, tcp, bytes, p95 promclient.Vector
	// namespaces are the values of the namespace labels.
	namespaces []string
}

func newMeshAnswers(m *simulate.Mesh) *meshAnswers {
	a := &meshAnswers{namespaces: []string{telemetry.Unknown}}
	for _, n := range m.Namespaces {
		a.namespaces = append(a.namespaces, n.Name)
	}
	for _, w := range m.Workloads {
		for _, c := range w.Calls {
			backends := m.Backends(c.Service)
			if len(backends) == 0 {
				backends = []*simulate.Workload{{Name: telemetry.Unknown, Namespace: telemetry.Unknown, App: telemetry.Unknown}}
			}
			for _, b := range backends {
				reporter := telemetry.ReporterDestination
				if b.Name == telemetry.Unknown {
					reporter = telemetry.ReporterSource
				}
				base := map[string]string{
					telemetry.Reporter: reporter, telemetry.SourceCluster: telemetry.DefaultCluster, telemetry.DestinationCluster: telemetry.DefaultCluster,
					telemetry.SourceWorkloadNamespace: w.Namespace, telemetry.SourceWorkload: w.Name, telemetry.SourceCanonicalService: w.App, telemetry.SourceCanonicalRevision: w.Version,
					telemetry.DestinationServiceNamespace: c.Service.Namespace, telemetry.DestinationService: c.Service.Host(), telemetry.DestinationServiceName: c.Service.Name,
					telemetry.DestinationWorkloadNamespace: b.Namespace, telemetry.DestinationWorkload: b.Name, telemetry.DestinationCanonicalService: b.App, telemetry.DestinationCanonicalRevision: b.Version,
					telemetry.RequestProtocol: c.Service.Protocol, telemetry.ResponseFlags: telemetry.NoFlags,
				}
				sample := func(extra ...string) promclient.Sample {
					b := labels.NewBuilder(labels.FromMap(base))
					for i := 0; i+1 < len(extra); i += 2 {
						b.Set(extra[i], extra[i+1])
					}
					return promclient.Sample{Metric: b.Labels(), Value: 1.5}
				}
				if c.Service.Protocol == telemetry.ProtocolTCP {
					a.tcp = append(a.tcp, sample())
					continue
				}
				a.requests = append(a.requests, sample(telemetry.ResponseCode, "200", telemetry.ConnectionSecurityPolicy, telemetry.SecurityMutualTLS,
					telemetry.SourcePrincipal, "spiffe://cluster.local/ns/"+w.Namespace+"/sa/"+w.ServiceAccount,
					telemetry.DestinationPrincipal, "spiffe://cluster.local/ns/"+b.Namespace+"/sa/"+b.ServiceAccount))
				a.bytes = append(a.bytes, sample())
				a.p95 = append(a.p95, sample())
			}
		}
	}
	return a
}

// Query answers each part of a query with the series of its reporter, as
// a store would: a query of the destinations' reports has none of the
// sources'.
func (a *meshAnswers) Query(_ context.Context, q string, _ time.Time) (promclient.Vector, error) {
	var all promclient.Vector
	switch {
	case strings.Contains(q, recordedDuration):
		all = a.p95
	case strings.Contains(q, telemetry.RequestsTotal):
		all = a.requests
	case strings.Contains(q, "istio_tcp"):
		all = a.tcp
	case strings.Contains(q, telemetry.RequestBytes):
		all = a.bytes
	}
	for _, reporter := range []string{telemetry.ReporterSource, telemetry.ReporterDestination} {
		if strings.Contains(q, telemetry.Reporter+`="`+reporter+`"`) {
			var out promclient.Vector
			for _, s := range all {
				if s.Metric.Get(telemetry.Reporter) == reporter {
					out = append(out, s)
				}
			}
			return out, nil
		}
	}
	return all, nil
}

func (a *meshAnswers) ScrapeInterval(context.Context) (time.Duration, error) {
	return 30 * time.Second, nil
}

func (a *meshAnswers) LabelValues(_ context.Context, name string, _, _ time.Time) ([]string, error) {
	if name == telemetry.SourceWorkloadNamespace || name == telemetry.DestinationServiceNamespace {
		return a.namespaces, nil
	}
	return nil, nil
}

// synthetic are the answers of a synthetic mesh's store and its
// namespaces.
func synthetic(b *testing.B, services, namespaces int) (*meshAnswers, []string, int) {
	m, err := simulate.Synthetic(simulate.SyntheticOptions{Services: services, Namespaces: namespaces, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var ns []string
	for _, n := range m.Namespaces {
		ns = append(ns, n.Name)
	}
	return newMeshAnswers(m), ns, len(m.Workloads)
}

// BenchmarkGraph is the console's work for one graph of a synthetic mesh
// (versionedApp, service nodes, default appenders), answer encoded, from
// query results already decoded (BenchmarkDecodeAnswer in promclient
// measures that part).
func BenchmarkGraph(b *testing.B) {
	for _, size := range []struct{ services, namespaces int }{{800, 20}, {4000, 50}} {
		a, ns, workloads := synthetic(b, size.services, size.namespaces)
		b.Run(fmt.Sprintf("workloads=%d", workloads), func(b *testing.B) {
			b.ReportAllocs()
			builder := NewBuilder(a, nil)
			o := Options{Namespaces: ns, Type: TypeVersionedApp, InjectServiceNodes: true, Duration: time.Minute}
			var edges int
			for b.Loop() {
				g, err := builder.Build(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.WriteJSON(io.Discard, ""); err != nil {
					b.Fatal(err)
				}
				edges = len(g.edges)
			}
			b.ReportMetric(float64(edges), "edges")
		})
	}
}

// BenchmarkWriteJSON is the encoding alone of BenchmarkGraph's larger
// graph, the API's answer.
func BenchmarkWriteJSON(b *testing.B) {
	a, ns, _ := synthetic(b, 4000, 50)
	g, err := NewBuilder(a, nil).Build(context.Background(), Options{Namespaces: ns, Type: TypeVersionedApp, InjectServiceNodes: true, Duration: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	var out countingWriter
	b.ReportAllocs()
	for b.Loop() {
		if err := g.WriteJSON(&out, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out)/float64(b.N), "answer-bytes")
}

// countingWriter counts what is written to it.
type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
