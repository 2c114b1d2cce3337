package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshlens/meshlens/graph/graphtest"
)

// TestGraphCommandOnHandWrittenSeries runs the graph's semantics cases
// (graphtest) from outside: their series written into Debian's Prometheus
// by promtool's backfill, each case an hour after the last, and `meshlens
// graph -o json` asked of each at its time. Cases whose options the command
// line has no flag for (a node graph) are left to the graph's own tests.
func TestGraphCommandOnHandWrittenSeries(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("Debian's promtool is not installed; `make test` installs it (apt-get install prometheus)")
	}
	// Far enough back to be in blocks, near enough for the retention.
	base := time.Now().Add(-time.Duration(len(graphtest.Cases)+3) * time.Hour).Truncate(time.Hour)
	var cases []graphtest.Case
	for _, c := range graphtest.Cases {
		if c.Options.Focus == nil {
			cases = append(cases, c)
		}
	}
	om, offsets, err := graphtest.OpenMetrics(cases, base)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	input, data := filepath.Join(dir, "series.om"), filepath.Join(dir, "data")
	if err := os.WriteFile(input, om, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", input, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool backfill: %v\n%s", err, out)
	}
	addr := startPrometheusOn(t, "global: {scrape_interval: 15s}\n", data)
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, err := graphtest.ParseEdges(c.Want)
			if err != nil {
				t.Fatal(err)
			}
			o := c.GraphOptions()
			args := []string{"graph", "--prometheus", "http://" + addr, "--namespaces", strings.Join(o.Namespaces, ","),
				"--type", string(o.Type), "--duration", strconv.Itoa(int(o.Duration/time.Second)) + "s",
				"--query-time", strconv.FormatInt(offsets[i].Unix()+graphtest.At, 10), "-o", "json"}
			if o.InjectServiceNodes {
				args = append(args, "--inject-service-nodes")
			}
			for flag, v := range map[string]string{"--response-time": o.ResponseTime, "--rate-tcp": o.RateTCP, "--rate-http": o.RateHTTP, "--rate-grpc": o.RateGRPC} {
				if v != "" {
					args = append(args, flag, v)
				}
			}
			var out, errOut bytes.Buffer
			if code := meshlens(args, &out, &errOut); code != 0 {
				t.Fatalf("meshlens %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
			}
			got, err := graphtest.OfJSON(out.Bytes())
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			// The JSON rounds rates to two decimals, times and shares to
			// one or two.
			if problems := graphtest.Compare(got, want, func(w float64) float64 { return math.Max(0.006, 1e-3*math.Abs(w)) }); len(problems) > 0 {
				t.Errorf("meshlens %s:\n  %s", strings.Join(args, " "), strings.Join(problems, "\n  "))
			}
			if w := c.Warning; w != "" && !strings.Contains(errOut.String(), w) {
				t.Errorf("stderr %q, want a warning that says %q", errOut.String(), w)
			}
		})
	}
}
