// Command sink is a remote-write receiver for benchmarks: it decodes every
// request (snappy, then Prometheus's remote write 1.0 protobuf), counts
// its series' samples and keeps nothing, so that a collector can be
// measured at a size whose receiving store would not fit beside it.
package main

import (
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/prometheus/prompb"
)

func main() {
	listen := flag.String("listen-address", "127.0.0.1:17090", "Where to receive remote write (/api/v1/write) and serve /metrics.")
	flag.Parse()
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshlens_bench_sink_samples_total",
		Help: "Samples received, by kind (float or histogram).",
	}, []string{"kind"})
	refused := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "meshlens_bench_sink_refused_requests_total",
		Help: "Requests that did not decode as remote write 1.0.",
	})
	prometheus.MustRegister(received, refused)
	floats, histograms := received.WithLabelValues("float"), received.WithLabelValues("histogram")

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ready\n") })
	mux.HandleFunc("POST /api/v1/write", func(w http.ResponseWriter, r *http.Request) {
		var req prompb.WriteRequest
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var raw []byte
			if raw, err = snappy.Decode(nil, body); err == nil {
				err = req.Unmarshal(raw)
			}
		}
		if err != nil {
			refused.Inc()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, h := 0, 0
		for _, ts := range req.Timeseries {
			n += len(ts.Samples)
			h += len(ts.Histograms)
		}
		floats.Add(float64(n))
		histograms.Add(float64(h))
		w.WriteHeader(http.StatusNoContent)
	})
	slog.Info("Receiving remote write", "url", "http://"+*listen+"/api/v1/write")
	if err := http.ListenAndServe(*listen, mux); err != nil {
		slog.Error("Sink stopped", "err", err)
		os.Exit(1)
	}
}
