package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPrometheusURLIsCheckedAndItsPasswordNeverShown: a --prometheus.url
// that is no http(s) URL is refused at once, saying what is wanted, and
// a password in the URL appears in no message, whether the URL is refused
// or the server is down.
func TestPrometheusURLIsCheckedAndItsPasswordNeverShown(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"another scheme", []string{"graph", "--namespaces", "x", "--prometheus.url", "ftp://u:s3cret@127.0.0.1:1"}, `want an http:// or https:// URL`},
		{"no scheme", []string{"graph", "--namespaces", "x", "--prometheus.url", "localhost:9090"}, `want an http:// or https:// URL`},
		{"no host", []string{"cardinality", "--prometheus.url", "http://u:s3cret@"}, `want an http:// or https:// URL`},
		{"not a URL", []string{"graph", "--namespaces", "x", "--prometheus.url", "http://u:s3cret@[::1"}, "not a URL"},
		{"the graph's server down", []string{"graph", "--namespaces", "x", "--prometheus.url", "http://u:s3cret@127.0.0.1:1"}, "graph from http://u:xxxxx@127.0.0.1:1"},
		{"the cardinality's server down", []string{"cardinality", "--prometheus.url", "http://u:s3cret@127.0.0.1:1"}, "127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			if code := meshlens(tc.args, &out, &errw); code == 0 {
				t.Fatalf("exit 0: %s", out.String())
			}
			msg := errw.String() + out.String()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("the message lacks %q: %s", tc.want, msg)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("the password is in the message: %s", msg)
			}
		})
	}
}

// TestServeShowsThePrometheusURLWithoutItsPassword: the line `meshlens
// serve` prints on start names the Prometheus without the password.
func TestServeShowsThePrometheusURLWithoutItsPassword(t *testing.T) {
	var out, logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveConfig{prometheusFlags: prometheusFlags{timeout: time.Second, prometheusURL: "http://u:s3cret@127.0.0.1:1"},
			web: webFlags{listenAddr: "127.0.0.1:0", listenSet: true}}, slog.New(slog.NewTextHandler(&logs, nil)), &out)
	}()
	waitFor(t, "serve to say where it listens", 10*time.Second, func() bool { return strings.Contains(out.String(), "console on") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "against http://u:xxxxx@127.0.0.1:1") {
		t.Errorf("serve's first line: %s", out.String())
	}
	if s := out.String() + logs.String(); strings.Contains(s, "s3cret") {
		t.Errorf("the password is in serve's output or logs: %s", s)
	}
}
