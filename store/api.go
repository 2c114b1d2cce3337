package store

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/notifications"
	v1 "github.com/prometheus/prometheus/web/api/v1"
)

type runtimeInfo = v1.RuntimeInfo

// newAPI builds Prometheus's HTTP API v1 over the store. NewAPI takes some
// forty positional arguments; this is the one place that knows them. The
// API gets its own registry: it registers the remote-write handler's metrics,
// which would collide in a shared one.
func newAPI(s *Store, reg *prometheus.Registry) *v1.API {
	var appendable storage.AppendableV2
	if s.opts.RemoteWriteReceiver {
		appendable = s.db
	}
	flags := s.opts.Flags
	if flags == nil {
		flags = map[string]string{}
	}
	version := s.opts.Version
	if version == "" {
		version = "dev"
	}
	return v1.NewAPI(
		s.engine,
		s.db,
		appendable,
		s.db,
		func(context.Context) v1.ScrapePoolsRetriever { return s.scraper.Manager },
		func(context.Context) v1.TargetRetriever { return s.scraper.Manager },
		func(context.Context) v1.AlertmanagerRetriever { return noAlertmanagers{} },
		func() config.Config { return *s.opts.Config },
		flags,
		v1.GlobalURLOptions{ListenAddress: s.opts.ListenAddress, Host: s.opts.ListenAddress, Scheme: "http"},
		func(f http.HandlerFunc) http.HandlerFunc { return f },
		adminStats{s.db},
		s.opts.DataDir,
		false, // admin API: no deletes over HTTP
		false, 0,
		s.logger.With("component", "api"),
		func(context.Context) v1.RulesRetriever { return s.rules },
		5e7, 10, 1<<20, // remote read: sample limit, concurrency, bytes per frame (Prometheus's defaults)
		false,
		anyOrigin,
		s.runtimeInfo,
		&v1.PrometheusVersion{Version: version, Revision: "meshlens", Branch: "meshlens", GoVersion: runtime.Version()},
		func() []notifications.Notification { return nil },
		func() (<-chan notifications.Notification, func(), bool) { return nil, func() {}, false },
		reg,
		reg,
		nil,
		s.opts.RemoteWriteReceiver,
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType},
		false, false, false, // OTLP receiver off
		5*time.Minute,
		false,
		false,
		nil,
		nil,
		v1.OpenAPIOptions{Version: version},
		parser.NewParser(parser.Options{}),
		false,
		s.opts.QueryTimeout,
	)
}

type noAlertmanagers struct{}

func (noAlertmanagers) Alertmanagers() []*url.URL        { return nil }
func (noAlertmanagers) DroppedAlertmanagers() []*url.URL { return nil }

// adminStats answers the TSDB status endpoints from the head block.
type adminStats struct{ db *tsdb.DB }

func (a adminStats) CleanTombstones() error { return a.db.CleanTombstones() }
func (a adminStats) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	return a.db.Delete(ctx, mint, maxt, ms...)
}
func (a adminStats) Snapshot(dir string, withHead bool) error { return a.db.Snapshot(dir, withHead) }
func (a adminStats) Stats(statsByLabelName string, limit int) (*tsdb.Stats, error) {
	return a.db.Head().Stats(statsByLabelName, limit), nil
}
func (a adminStats) WALReplayStatus() (tsdb.WALReplayStatus, error) {
	return tsdb.WALReplayStatus{}, nil
}
func (a adminStats) BlockMetas() ([]tsdb.BlockMeta, error) { return a.db.BlockMetas(), nil }
