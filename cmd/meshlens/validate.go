package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/validate"
)

// errFindings makes `meshlens validate` exit 1: the run worked and found problems.
var errFindings = errors.New("findings at or above the --fail-on threshold")

type validateConfig struct {
	files         []string
	output        string
	failOn        string
	clusterDomain string
	rootNamespace string
	autoMTLS      bool
}

func registerValidate(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c validateConfig
	cmd := app.Command("validate", "Check Istio configuration in YAML/JSON files with Kiali's KIA checks; exit 1 when a finding reaches --fail-on (for CI).")
	cmd.Flag("filename", "A file or directory of Kubernetes and Istio YAML/JSON (repeatable; - for standard input).").Short('f').Required().StringsVar(&c.files)
	cmd.Flag("output", "text (file:line: like a compiler), json or sarif.").Short('o').Default("text").EnumVar(&c.output, "text", "json", "sarif")
	cmd.Flag("fail-on", "Lowest severity that fails the run: error, warning or unknown (Kiali's lowest level; info is the same).").Default("error").EnumVar(&c.failOn, "error", "warning", "unknown", "info")
	cmd.Flag("cluster-domain", "Domain that completes short service hosts.").Default("cluster.local").StringVar(&c.clusterDomain)
	cmd.Flag("root-namespace", "Istio's root namespace (mesh-wide defaults).").Default("istio-system").StringVar(&c.rootNamespace)
	cmd.Flag("auto-mtls", "Istio's auto mTLS is on (its default); --no-auto-mtls also checks that DestinationRules match PeerAuthentications.").Default("true").BoolVar(&c.autoMTLS)
	commands["validate"] = func(_ context.Context, _ *slog.Logger, out io.Writer) error {
		for _, f := range c.files {
			if f == "-" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return usageError{fmt.Errorf("--filename %s: %w", f, err)}
			}
		}
		snap, loadErrs := inventory.Load(c.files, os.Stdin)
		report := &validate.Report{
			Findings:   validate.Run(snap, validate.Options{ClusterDomain: c.clusterDomain, RootNamespace: c.rootNamespace, NoAutoMTLS: !c.autoMTLS}),
			LoadErrors: loadErrs,
			Objects:    len(snap.Objects),
		}
		var err error
		switch c.output {
		case "json":
			err = report.WriteJSON(out)
		case "sarif":
			err = report.WriteSARIF(out)
		default:
			err = report.WriteText(out)
		}
		if err != nil {
			return err
		}
		threshold, _ := validate.ParseSeverity(c.failOn)
		if report.Fails(threshold) {
			return errFindings
		}
		return nil
	}
}
