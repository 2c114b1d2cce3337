package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// replayMetrics count what resuming from savepoints did.
type replayMetrics struct {
	samples   *prometheus.CounterVec
	savepoint *prometheus.GaugeVec
}

func newReplayMetrics(reg prometheus.Registerer) *replayMetrics {
	m := &replayMetrics{
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlens_collect_replayed_samples_total",
			Help: "Samples of the write-ahead log sent again on start, from a queue's savepoint: result sent, rejected (the receiver refused them: it had them, or they are invalid) or abandoned (the receiver did not take them within the replay timeout).",
		}, []string{"queue", "result"}),
		savepoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshlens_collect_savepoint_timestamp_seconds",
			Help: "Time up to which a queue's receiver has every sample, as last saved.",
		}, []string{"queue"}),
	}
	reg.MustRegister(m.samples, m.savepoint)
	return m
}

// walSample is one sample of the log, with its series' reference: a float
// (h and fh nil) or a native histogram.
type walSample struct {
	ref chunks.HeadSeriesRef
	t   int64
	v   float64
	h   *histogram.Histogram
	fh  *histogram.FloatHistogram
}

// replayQueue sends the samples the log holds in (from, until] to rw's
// receiver, in log order (which keeps each series' samples in time
// order), through Prometheus's own remote-write client: floats, and native
// histograms when the queue sends them (send_native_histograms), as the
// queue itself does. What became of
// the samples (sent, refused, abandoned) is logged and counted in m; the
// error is for a log it could not read.
func replayQueue(ctx context.Context, walDir string, rw *config.RemoteWriteConfig, external labels.Labels, from, until int64, logger *slog.Logger, m *replayMetrics) error {
	key := queueKey(rw)
	client, err := remote.NewWriteClient("replay-"+key, &remote.ClientConfig{
		URL: rw.URL, Timeout: rw.RemoteTimeout, HTTPClientConfig: rw.HTTPClientConfig, SigV4Config: rw.SigV4Config,
		AzureADConfig: rw.AzureADConfig, GoogleIAMConfig: rw.GoogleIAMConfig, Headers: rw.Headers,
		RetryOnRateLimit: rw.QueueConfig.RetryOnRateLimit, WriteProtoMsg: remoteapi.WriteV1MessageType,
	})
	if err != nil {
		return err
	}
	s := &replaySender{client: client, rw: rw, external: external, series: map[chunks.HeadSeriesRef]labels.Labels{},
		prepared: map[chunks.HeadSeriesRef]preparedSeries{}, logger: logger, key: key, m: m}
	batchSize := max(rw.QueueConfig.MaxSamplesPerSend, 1)
	batch := make([]walSample, 0, batchSize)
	read := func(dir string) error {
		sr, err := wlog.NewSegmentsReader(dir)
		if err != nil {
			return err
		}
		defer sr.Close()
		r := wlog.NewReader(sr)
		dec := record.NewDecoder(labels.NewSymbolTable(), logger)
		var series []record.RefSeries
		var samples []record.RefSample
		var histograms []record.RefHistogramSample
		var floatHistograms []record.RefFloatHistogramSample
		add := func(smp walSample) {
			if smp.t <= from || smp.t > until {
				return
			}
			batch = append(batch, smp)
			if len(batch) == batchSize {
				s.send(ctx, batch)
				batch = batch[:0]
			}
		}
		for r.Next() {
			rec := r.Record()
			switch dec.Type(rec) {
			case record.Series:
				if series, err = dec.Series(rec, series[:0]); err != nil {
					return err
				}
				for _, ser := range series {
					s.series[ser.Ref] = ser.Labels
				}
			case record.Samples, record.SamplesV2:
				if samples, err = dec.Samples(rec, samples[:0]); err != nil {
					return err
				}
				for _, smp := range samples {
					add(walSample{ref: smp.Ref, t: smp.T, v: smp.V})
				}
			case record.HistogramSamples, record.CustomBucketsHistogramSamples, record.HistogramSamplesV2:
				if !rw.SendNativeHistograms {
					continue
				}
				if histograms, err = dec.HistogramSamples(rec, histograms[:0]); err != nil {
					return err
				}
				for _, smp := range histograms {
					add(walSample{ref: smp.Ref, t: smp.T, h: smp.H})
				}
			case record.FloatHistogramSamples, record.CustomBucketsFloatHistogramSamples, record.FloatHistogramSamplesV2:
				if !rw.SendNativeHistograms {
					continue
				}
				if floatHistograms, err = dec.FloatHistogramSamples(rec, floatHistograms[:0]); err != nil {
					return err
				}
				for _, smp := range floatHistograms {
					add(walSample{ref: smp.Ref, t: smp.T, fh: smp.FH})
				}
			}
		}
		return r.Err()
	}
	if cp, _, err := wlog.LastCheckpoint(walDir); err == nil {
		if err := read(cp); err != nil {
			return fmt.Errorf("read checkpoint %s: %w", cp, err)
		}
	}
	if err := read(walDir); err != nil {
		return fmt.Errorf("read write-ahead log %s: %w", walDir, err)
	}
	s.send(ctx, batch)
	logger.Info("Resumed from savepoint", "queue", key, "from", time.UnixMilli(from), "until", time.UnixMilli(until),
		"sent", s.sent, "rejected", s.rejected, "abandoned", s.abandoned)
	return nil
}

type preparedSeries struct {
	labels []prompb.Label
	keep   bool
}

type replaySender struct {
	client   remote.WriteClient
	rw       *config.RemoteWriteConfig
	external labels.Labels
	series   map[chunks.HeadSeriesRef]labels.Labels
	prepared map[chunks.HeadSeriesRef]preparedSeries
	logger   *slog.Logger
	key      string
	m        *replayMetrics

	sent, rejected, abandoned int
}

// prepare gives a series the labels the queue would send: external labels
// where the series lacks them, then write_relabel_configs.
func (s *replaySender) prepare(ref chunks.HeadSeriesRef) preparedSeries {
	if p, ok := s.prepared[ref]; ok {
		return p
	}
	ls, ok := s.series[ref]
	if !ok { // a series the log no longer describes
		return preparedSeries{}
	}
	lb := labels.NewBuilder(ls)
	s.external.Range(func(l labels.Label) {
		if lb.Get(l.Name) == "" {
			lb.Set(l.Name, l.Value)
		}
	})
	p := preparedSeries{keep: relabel.ProcessBuilder(lb, s.rw.WriteRelabelConfigs...)}
	if p.keep {
		lb.Range(func(l labels.Label) { p.labels = append(p.labels, prompb.Label{Name: l.Name, Value: l.Value}) })
	}
	s.prepared[ref] = p
	return p
}

func (s *replaySender) count(result string, n int) {
	s.m.samples.WithLabelValues(s.key, result).Add(float64(n))
	switch result {
	case "sent":
		s.sent += n
	case "rejected":
		s.rejected += n
	case "abandoned":
		s.abandoned += n
	}
}

// send sends the samples, retrying what the client calls recoverable with
// the queue's backoff until ctx ends. A request the receiver refuses (a
// 4xx) is split in halves and each sent again, so that one sample the
// receiver already holds does not take the others with it.
func (s *replaySender) send(ctx context.Context, batch []walSample) {
	if len(batch) == 0 {
		return
	}
	req := prompb.WriteRequest{}
	index := map[chunks.HeadSeriesRef]int{}
	n := 0
	for _, smp := range batch {
		p := s.prepare(smp.ref)
		if !p.keep {
			continue
		}
		i, ok := index[smp.ref]
		if !ok {
			i = len(req.Timeseries)
			index[smp.ref] = i
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: p.labels})
		}
		ts := &req.Timeseries[i]
		switch {
		case smp.h != nil:
			ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(smp.t, smp.h))
		case smp.fh != nil:
			ts.Histograms = append(ts.Histograms, prompb.FromFloatHistogram(smp.t, smp.fh))
		default:
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: smp.t, Value: smp.v})
		}
		n++
	}
	if n == 0 {
		return
	}
	raw, err := req.Marshal()
	if err != nil {
		s.logger.Error("Replay could not encode a request", "queue", s.key, "err", err)
		s.count("abandoned", n)
		return
	}
	body := snappy.Encode(nil, raw)
	backoff := time.Duration(s.rw.QueueConfig.MinBackoff)
	for attempt := 0; ; attempt++ {
		_, err := s.client.Store(ctx, body, attempt)
		if err == nil {
			s.count("sent", n)
			return
		}
		var recoverable remote.RecoverableError
		if !errors.As(err, &recoverable) || ctx.Err() != nil {
			if ctx.Err() != nil {
				s.logger.Warn("Replay gave up: the receiver did not take these samples in time", "queue", s.key, "samples", n, "err", err)
				s.count("abandoned", n)
				return
			}
			if len(batch) == 1 {
				s.logger.Debug("Replay: the receiver refused a sample", "queue", s.key, "err", err)
				s.count("rejected", n)
				return
			}
			s.send(ctx, batch[:len(batch)/2])
			s.send(ctx, batch[len(batch)/2:])
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Duration(s.rw.QueueConfig.MaxBackoff))
	}
}

// walDirOf is where the agent keeps its segments inside its directory.
func walDirOf(dir string) string { return filepath.Join(dir, "wal") }
