// Command meshlens is observability for Istio service meshes in one binary:
// it simulates a mesh, scrapes and stores its telemetry, and serves it.
// This file only parses flags and dispatches; each subcommand wires its
// components in its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/common/model"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitUsage is the exit code for a command line that cannot be run.
const exitUsage = 2

func main() {
	os.Exit(meshlens(os.Args[1:], os.Stdout, os.Stderr))
}

type globalFlags struct {
	logLevel  string
	logFormat string
}

// meshlens runs the command line args and returns the exit code.
func meshlens(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("meshlens", "Observability for Istio service meshes: simulate, collect, store and show mesh telemetry.")
	app.Version(version)
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	// kingpin exits the process after --help and --version; stop its parsing
	// instead, so that tests can run the command line in-process.
	app.Terminate(func(code int) { panic(terminated{code}) })
	var g globalFlags
	app.Flag("log.level", "Log level: debug, info, warn, error.").Default("info").EnumVar(&g.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Log format: text or json.").Default("text").EnumVar(&g.logFormat, "text", "json")

	commands := map[string]func(context.Context, *slog.Logger, io.Writer) error{}
	registerDemo(app, commands)
	registerStore(app, commands)
	registerSimulate(app, commands)
	registerGraph(app, commands)
	registerServe(app, commands)
	registerValidate(app, commands)
	registerRules(app, commands)
	registerDashboards(app, commands)
	registerSigV4Proxy(app, commands)
	registerCollect(app, commands)
	registerCardinality(app, commands)

	if len(args) == 0 {
		app.Usage(nil)
		return exitUsage
	}
	cmd, code, err := parse(app, args)
	if code >= 0 {
		return code
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshlens: %v; try 'meshlens --help'\n", err)
		return exitUsage
	}
	logger := newLogger(g, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := commands[cmd](ctx, logger, stdout); err != nil {
		fmt.Fprintf(stderr, "meshlens %s: %v\n", cmd, err)
		var usage usageError
		if errors.As(err, &usage) {
			return exitUsage
		}
		return 1
	}
	return 0
}

type terminated struct{ code int }

// parse parses args; code is kingpin's exit code when it answered --help or
// --version by itself, -1 otherwise.
func parse(app *kingpin.Application, args []string) (cmd string, code int, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = t.code
		}
	}()
	cmd, err = app.Parse(stdinFlags(args))
	return cmd, -1, err
}

// stdinFlags writes "-f -" and "--filename -" (standard input, as the
// README and --help show them) as "--filename=-": the flag parser takes a
// lone "-" for no value at all.
func stdinFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if (args[i] == "-f" || args[i] == "--filename") && i+1 < len(args) && args[i+1] == "-" {
			out = append(out, "--filename=-")
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// usageError is a command line that names something wrong (a busy port, a
// missing file): exit 2, as for a flag that does not parse.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func newLogger(g globalFlags, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(g.logLevel))
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newRegistry holds meshlens's own metrics (meshlens_*) and the Go runtime's.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshlens_build_info", Help: "Always 1; the labels say which meshlens runs.",
	}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	reg.MustRegister(build)
	return reg
}

// durationValue reads Prometheus-style durations ("15d", "1h30m") for flags
// that users know from Prometheus.
type durationValue struct{ d *time.Duration }

func (v *durationValue) Set(s string) error {
	d, err := model.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = time.Duration(d)
	return nil
}

func (v *durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return model.Duration(*v.d).String()
}
