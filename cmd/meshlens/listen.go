package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"syscall"
	"time"

	"github.com/oklog/run"
)

// listen opens addr for the flag that named it; a busy port is an error that
// says which flag to change, not a stack trace.
func listen(flag, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		return l, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, usageError{fmt.Errorf("--%s=%s: the address is already in use; stop what listens there or pick another address with --%s", flag, addr, flag)}
	}
	return nil, usageError{fmt.Errorf("--%s=%s: %w", flag, addr, err)}
}

// withPprof adds Go's profiles under /debug/pprof/ to a Prometheus-like
// server (the store, the simulator), as Prometheus serves them, to find
// where time and memory go. The console serves them only when asked.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// addServer runs an HTTP server on l as an actor of g; interrupting it shuts
// the server down gracefully.
func addServer(g *run.Group, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	g.Add(func() error {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, func(error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
}

// addContext stops g when ctx is done (Ctrl-C, SIGTERM, or a test).
func addContext(g *run.Group, ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	g.Add(func() error { <-ctx.Done(); return nil }, func(error) { cancel() })
}
