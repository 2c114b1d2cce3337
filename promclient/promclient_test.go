package promclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/meshlens/meshlens/store"
)

// storeWithOneSeries runs the embedded store scraping one target that
// serves one counter, and returns it once the first sample is in.
func storeWithOneSeries(t *testing.T) (*store.Store, string) {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "istio_requests_total{reporter=\"destination\",destination_workload=\"a\\\"b\"} 42\n")
	}))
	t.Cleanup(target.Close)
	yml := "global:\n  scrape_interval: 200ms\n  scrape_timeout: 100ms\nscrape_configs:\n  - job_name: t\n    scrape_interval: 100ms\n    static_configs:\n      - targets: [\"" + target.Listener.Addr().String() + "\"]\n"
	cfg, err := config.Load(yml, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(store.Options{DataDir: t.TempDir(), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); cancel(); <-done; s.Close() })
	return s, srv.URL
}

func TestHTTPAndEngineAnswerAlike(t *testing.T) {
	s, url := storeWithOneSeries(t)
	h, err := NewHTTP(HTTPOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(s.Engine(), s.Queryable(), 100*time.Millisecond)
	const q = `sum by (destination_workload) (istio_requests_total)`
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := time.Now()
		a, errA := h.Query(context.Background(), q, now)
		b, errB := e.Query(context.Background(), q, now)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if len(a) == 1 && len(b) == 1 {
			if a[0].Metric.Get("destination_workload") != `a"b` || a[0].Value != 42 || !labels.Equal(a[0].Metric, b[0].Metric) || a[0].Value != b[0].Value {
				t.Fatalf("HTTP %v, engine %v", a, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sample after 10s: %v %v", a, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Run("label values are alike", func(t *testing.T) {
		now := time.Now()
		a, errA := h.LabelValues(context.Background(), "destination_workload", now.Add(-time.Minute), now)
		b, errB := e.LabelValues(context.Background(), "destination_workload", now.Add(-time.Minute), now)
		if errA != nil || errB != nil || len(a) != 1 || a[0] != `a"b` || len(b) != 1 || b[0] != a[0] {
			t.Errorf("HTTP %q %v, engine %q %v", a, errA, b, errB)
		}
	})
	t.Run("the scrape interval is the shortest in the store's config", func(t *testing.T) {
		d, err := h.ScrapeInterval(context.Background())
		if err != nil || d != 100*time.Millisecond {
			t.Errorf("%v %v", d, err)
		}
	})
	t.Run("a query Prometheus rejects is ErrBadQuery", func(t *testing.T) {
		for _, q := range []Querier{h, e} {
			if _, err := q.Query(context.Background(), "sum(", time.Now()); !errors.Is(err, ErrBadQuery) {
				t.Errorf("%T: %v", q, err)
			}
		}
	})
	t.Run("a range vector is not a vector", func(t *testing.T) {
		if _, err := h.Query(context.Background(), "istio_requests_total[1m]", time.Now()); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%v", err)
		}
	})
}

func TestUnreachableIsErrUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	h, err := NewHTTP(HTTPOptions{URL: url, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Query(context.Background(), "up", time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("query: %v", err)
	}
	if d, err := h.ScrapeInterval(context.Background()); !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrIntervalAssumed) || d != DefaultScrapeInterval {
		t.Errorf("scrape interval: %v %v, want the default, assumed, and why", d, err)
	}
}

func TestScrapeIntervalIsReadOnceOrAssumed(t *testing.T) {
	cases := []struct {
		name string
		// config answers /api/v1/status/config; "" is a 404, as AMP's.
		config  string
		want    time.Duration
		assumed bool
	}{
		{"a store that serves its config is asked once", `{"status":"success","data":{"yaml":"global:\n  scrape_interval: 30s\n"}}`, 30 * time.Second, false},
		{"a store without a config endpoint gets the default, said so, asked again only later", "", DefaultScrapeInterval, true},
		{"a config without an interval gets the default, said so", `{"status":"success","data":{"yaml":"global: {}\n"}}`, DefaultScrapeInterval, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked++
				if tc.config == "" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.config)
			}))
			defer srv.Close()
			h, err := NewHTTP(HTTPOptions{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				d, err := h.ScrapeInterval(context.Background())
				if d != tc.want || errors.Is(err, ErrIntervalAssumed) != tc.assumed || (err != nil) != tc.assumed {
					t.Fatalf("%v %v, want %v (assumed: %v)", d, err, tc.want, tc.assumed)
				}
			}
			if asked != 1 {
				t.Errorf("the store was asked %d times for three graphs, want once", asked)
			}
		})
	}
	t.Run("a configured interval is not asked at all", func(t *testing.T) {
		h, err := NewHTTP(HTTPOptions{URL: "http://127.0.0.1:1", ScrapeInterval: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if d, err := h.ScrapeInterval(context.Background()); d != 5*time.Second || err != nil {
			t.Errorf("%v %v", d, err)
		}
	})
}

func TestScrapeIntervalOf(t *testing.T) {
	cases := []struct {
		name string
		yml  string
		want time.Duration
	}{
		{"the global interval", "global:\n  scrape_interval: 15s\n", 15 * time.Second},
		{"a shorter job interval wins", "global:\n  scrape_interval: 1m\nscrape_configs:\n  - job_name: a\n    scrape_interval: 30s\n", 30 * time.Second},
		{"no interval is zero", "scrape_configs: []\n", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScrapeIntervalOf(tc.yml)
			if err != nil || got != tc.want {
				t.Errorf("%v %v, want %v", got, err, tc.want)
			}
		})
	}
}

func TestLoopbackAnswersAreNotCompressed(t *testing.T) {
	asked := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- r.Header.Get("Accept-Encoding"):
		default:
		}
		io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	defer srv.Close()
	h, err := NewHTTP(HTTPOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Query(context.Background(), "up", time.Now()); err != nil {
		t.Fatal(err)
	}
	if enc := <-asked; strings.Contains(enc, "gzip") {
		t.Errorf("a Prometheus on 127.0.0.1 was asked for gzip (Accept-Encoding %q)", enc)
	}
	for url, want := range map[string]bool{
		"http://127.0.0.1:9090": true, "http://localhost:9090/prometheus": true, "http://[::1]:9090": true,
		"http://10.0.0.7:9090": false, "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1": false,
	} {
		u, err := neturl.Parse(url)
		if err != nil {
			t.Fatal(err)
		}
		if got := onThisMachine(u); got != want {
			t.Errorf("onThisMachine(%q) = %v, want %v", url, got, want)
		}
	}
}
