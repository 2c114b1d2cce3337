package simulate

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LoadGenerator sends requests from outside the mesh to its entrypoints at
// a steady rate, like the `watch curl .../productpage` loop of Istio's
// bookinfo guide.
type LoadGenerator struct {
	sim     *Sim
	rate    float64
	client  *http.Client
	maxBusy int

	requests *prometheus.CounterVec
	skipped  prometheus.Counter
}

// NewLoadGenerator sends rate requests per second to the entrypoints of s.
// Its metrics go to reg when reg is not nil.
func NewLoadGenerator(s *Sim, rate float64, reg prometheus.Registerer) *LoadGenerator {
	g := &LoadGenerator{
		sim:     s,
		rate:    rate,
		client:  &http.Client{Timeout: 10 * time.Second},
		maxBusy: 64,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlens_simulate_load_requests_total",
			Help: "Requests the load generator sent into the simulated mesh, by HTTP status (0: no answer).",
		}, []string{"code"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshlens_simulate_load_skipped_total",
			Help: "Requests the load generator did not send because too many were still waiting for answers.",
		}),
	}
	if reg != nil {
		reg.MustRegister(g.requests, g.skipped)
	}
	return g
}

// Run sends load until ctx is done, then waits for the requests in flight.
func (g *LoadGenerator) Run(ctx context.Context) error {
	entries := g.sim.mesh.Entrypoints
	if g.rate <= 0 || len(entries) == 0 {
		<-ctx.Done()
		return nil
	}
	var total float64
	for _, e := range entries {
		total += e.Weight
	}
	busy := make(chan struct{}, g.maxBusy)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Duration(float64(time.Second) / g.rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		e := pickEntry(entries, total)
		select {
		case busy <- struct{}{}:
		default:
			g.skipped.Inc()
			continue
		}
		wg.Go(func() {
			defer func() { <-busy }()
			g.requests.WithLabelValues(fmt.Sprint(g.Send(ctx, e))).Inc()
		})
	}
}

func pickEntry(entries []Entrypoint, total float64) Entrypoint {
	x := rand.Float64() * total
	for _, e := range entries {
		if x < e.Weight {
			return e
		}
		x -= e.Weight
	}
	return entries[len(entries)-1]
}

// Send makes one request to e as a client outside the mesh and returns the
// HTTP status, or 0 when no answer came.
func (g *LoadGenerator) Send(ctx context.Context, e Entrypoint) int {
	url := "http://" + g.sim.EntrypointAddress(e) + e.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	req.Host = e.Service.Host()
	resp, err := g.client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
