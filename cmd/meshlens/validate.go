package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

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
	trustDomains  []string
	uncovered     bool
	listCodes     bool
	gatewayClass  []string
	allowAny      bool
}

func registerValidate(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c validateConfig
	cmd := app.Command("validate", "Check Istio configuration in YAML/JSON files with Kiali's KIA checks; exit 1 when a finding reaches --fail-on (for CI).")
	cmd.Flag("filename", "A file or directory of Kubernetes and Istio YAML/JSON (repeatable; - for standard input); required.").Short('f').StringsVar(&c.files)
	cmd.Flag("output", "text (file:line: like a compiler), json or sarif.").Short('o').Default("text").EnumVar(&c.output, "text", "json", "sarif")
	cmd.Flag("fail-on", "Lowest severity that fails the run: error, warning or unknown (Kiali's lowest level; info is the same).").Default("error").EnumVar(&c.failOn, "error", "warning", "unknown", "info")
	cmd.Flag("cluster-domain", "Domain that completes short service hosts.").Default("cluster.local").StringVar(&c.clusterDomain)
	cmd.Flag("root-namespace", "Istio's root namespace (mesh-wide defaults).").Default("istio-system").StringVar(&c.rootNamespace)
	cmd.Flag("auto-mtls", "Istio's auto mTLS is on (its default); --no-auto-mtls also checks that DestinationRules match PeerAuthentications.").Default("true").BoolVar(&c.autoMTLS)
	cmd.Flag("trust-domain", "The mesh's trust domain and its aliases (repeatable); principals of others are foreign (KIA0108).").Default("cluster.local").StringsVar(&c.trustDomains)
	cmd.Flag("uncovered-workloads", "Also flag workloads no AuthorizationPolicy applies to (KIA1301; off by default, as in Kiali).").BoolVar(&c.uncovered)
	cmd.Flag("gateway-class", "Gateway API classes the mesh serves (repeatable); a Gateway of another is KIA1504.").Default("istio", "istio-remote").StringsVar(&c.gatewayClass)
	cmd.Flag("outbound-allow-any", "The mesh config sets outboundTrafficPolicy ALLOW_ANY: a DestinationRule for an unknown host is a warning (KIA0202), as Kiali says it then.").BoolVar(&c.allowAny)
	cmd.Flag("list-codes", "Print every check with its code, severity and meaning, and exit.").BoolVar(&c.listCodes)
	commands["validate"] = func(_ context.Context, _ *slog.Logger, out io.Writer) error {
		if c.listCodes {
			return writeCodes(out)
		}
		if len(c.files) == 0 {
			return usageError{errors.New("--filename (-f) is required: a file, a directory or - for standard input")}
		}
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
			Findings: validate.Run(snap, validate.Options{ClusterDomain: c.clusterDomain, RootNamespace: c.rootNamespace, NoAutoMTLS: !c.autoMTLS,
				TrustDomains: c.trustDomains, UncoveredWorkloads: c.uncovered, GatewayClasses: c.gatewayClass, OutboundAllowAny: c.allowAny}),
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

// writeCodes prints the checks as a table: code, severity, meaning.
func writeCodes(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CODE\tSEVERITY\tMEANING")
	for _, c := range validate.Checks() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Code, c.Severity, c.Message)
	}
	return w.Flush()
}
