package simulate

import (
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkEmitterAdvance records one second of traffic on a 5,000-workload mesh.
func BenchmarkEmitterAdvance(b *testing.B) {
	m, err := Synthetic(SyntheticOptions{Services: 4000, Namespaces: 50, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEmitter(EmitterOptions{Mesh: m, Rate: 500})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.Advance(10 * time.Second) // create every series first
	b.ResetTimer()
	for b.Loop() {
		e.Advance(time.Second)
	}
	b.ReportMetric(float64(e.Edges()), "edges")
}

// BenchmarkSidecarExposition renders one busy sidecar's /stats/prometheus.
func BenchmarkSidecarExposition(b *testing.B) {
	e, err := NewEmitter(EmitterOptions{Mesh: Bookinfo(), Rate: 100})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.Advance(10 * time.Second)
	var s *Sidecar
	for w, sc := range e.sidecars {
		if w.Name == "productpage-v1" {
			s = sc
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/stats/prometheus", nil))
	b.SetBytes(int64(rec.Body.Len()))
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/stats/prometheus", nil))
	}
}
