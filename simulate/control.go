package simulate

import (
	"context"
	"net/http"
)

// Runner is a mesh being simulated: with real servers (Sim) or metrics only
// (Emitter).
type Runner interface {
	Mesh() *Mesh
	Faults() *Faults
	Targets() []Target
	Run(ctx context.Context) error
	Close() error
}

// Run is the real mesh's part of the Runner contract: its servers run by
// themselves from Start on, so it only waits.
func (s *Sim) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-s.closed:
	}
	return nil
}

// ControlHandler serves the simulator's control API under /api/simulate/:
// targets (Prometheus http_sd JSON) and faults (see Faults.ServeHTTP).
func ControlHandler(r Runner) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/simulate/targets", func(w http.ResponseWriter, _ *http.Request) {
		b, err := MarshalTargets(r.Targets())
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	mux.Handle("/api/simulate/faults", r.Faults())
	return mux
}
