package simulate

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// sample is one float sample from a sidecar's /stats/prometheus.
type sample struct {
	labels labels.Labels
	value  float64
}

// scrapeSidecar fetches a metrics endpoint and parses it with Prometheus's
// own text parser, failing the test on anything it rejects.
func scrapeSidecar(t *testing.T, url string) []sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("%s answers Content-Type %q, want the Prometheus text format", url, ct)
	}
	p := textparse.NewPromParser(body, labels.NewSymbolTable(), false)
	var out []sample
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: Prometheus's parser rejects the output: %v\n%s", url, err, body)
		}
		if entry != textparse.EntrySeries {
			continue
		}
		var l labels.Labels
		p.Labels(&l)
		_, _, v := p.Series()
		out = append(out, sample{labels: l, value: v})
	}
}

// sum adds the values of the samples of metric whose labels hold every pair of match.
func sum(samples []sample, metric string, match map[string]string) float64 {
	var total float64
outer:
	for _, s := range samples {
		if s.labels.Get(labels.MetricName) != metric {
			continue
		}
		for k, v := range match {
			if s.labels.Get(k) != v {
				continue outer
			}
		}
		total += s.value
	}
	return total
}
