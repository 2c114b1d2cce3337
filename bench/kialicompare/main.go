// Command kialicompare asks Kiali and meshlens's console for the graphs of
// the graph's semantics cases (graph/graphtest: series written by hand,
// the right edges beside them), both reading one Debian Prometheus that
// holds a case's series, and prints a Markdown table of where each answer
// differs from the right one. bench/kiali.sh builds Kiali, etcd and the
// Kubernetes API server, starts them and runs it.
//
//	kialicompare setup -kubeconfig FILE -crds FILE [-namespaces A,B]
//	    creates Istio's custom resource definitions (which Kiali watches)
//	    and the cases' namespaces (and more)
//	kialicompare compare -kubeconfig FILE [-kiali URL] [-prometheus ADDRESS] [-meshlens BIN]
//	    asks both and prints the table
//
// Kiali answers only for times after its namespaces were created, so every
// case is placed ten minutes before a time after that (compare waits until
// a minute after it) and asked alone: promtool backfills its series into a fresh
// Prometheus on the address Kiali's configuration names, and a fresh
// `meshlens serve` reads that Prometheus too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meshlens/meshlens/graph/graphtest"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kialicompare:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: kialicompare setup|compare -h")
	}
	fs := flag.NewFlagSet(args[0], flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster Kiali watches")
	switch args[0] {
	case "setup":
		crds := fs.String("crds", "", "Istio's custom resource definitions (istio.io/api's kubernetes/customresourcedefinitions.gen.yaml)")
		more := fs.String("namespaces", "", "more namespaces to create, comma-separated (a synthetic mesh's)")
		fs.Parse(args[1:])
		namespaces := caseNamespaces
		if *more != "" {
			namespaces = append(slices.Clone(namespaces), strings.Split(*more, ",")...)
		}
		return setup(ctx, *kubeconfig, *crds, namespaces)
	case "compare":
		kiali := fs.String("kiali", "http://127.0.0.1:20001/kiali", "Kiali's root URL")
		prom := fs.String("prometheus", "127.0.0.1:19090", "address of the Prometheus that Kiali's configuration names")
		meshlens := fs.String("meshlens", "bin/meshlens", "the meshlens binary")
		fs.Parse(args[1:])
		since, err := created(ctx, *kubeconfig)
		if err != nil {
			return err
		}
		// The cases start a second after the namespaces and are asked At
		// seconds later, which must be past by more than a scrape
		// interval: meshlens's console rounds a time within one of now
		// down to it, so that the graphs about now of many tabs share
		// their queries.
		start := since.Truncate(time.Second).Add(time.Second)
		if wait := time.Until(start.Add(graphtest.At*time.Second + time.Minute)); wait > 0 {
			fmt.Fprintf(os.Stderr, "kialicompare: the namespaces are new; waiting %s, until the cases' time is past\n", wait.Round(time.Second))
			time.Sleep(wait)
		}
		return compare(os.Stdout, start, *kiali, *prom, *meshlens)
	}
	return fmt.Errorf("unknown command %q: setup or compare", args[0])
}

// compare prints, case by case, how Kiali's and meshlens's answers differ
// from the right one, and how many cases each answers right.
func compare(out io.Writer, start time.Time, kiali, prom, meshlens string) error {
	work, err := os.MkdirTemp("", "kialicompare")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// The graph API's JSON rounds rates to two decimals, times and shares
	// to one or two.
	tolerance := func(w float64) float64 { return math.Max(0.006, 1e-3*math.Abs(w)) }
	fmt.Fprintln(out, "| case | Kiali | meshlens |")
	fmt.Fprintln(out, "|---|---|---|")
	var kialiRight, meshlensRight int
	for i, c := range graphtest.Cases {
		want, err := graphtest.ParseEdges(c.Want)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		console, stop, err := serve(filepath.Join(work, strconv.Itoa(i)), c, start, prom, meshlens)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		path, params := request(c, start)
		cells := make([]string, 2)
		for j, root := range []string{kiali, console} {
			got, err := ask(root + path + "?" + params.Encode())
			w := want
			if j == 0 {
				w = asKialiWrites(want)
			}
			switch problems := graphtest.Compare(got, w, tolerance); {
			case err != nil:
				cells[j] = "error: " + err.Error()
			case len(problems) == 0:
				cells[j] = "right"
				if j == 0 {
					kialiRight++
				} else {
					meshlensRight++
				}
			default:
				cells[j] = strings.Join(problems, "; ")
			}
		}
		stop()
		fmt.Fprintf(out, "| %s | %s | %s |\n", c.Name, cell(cells[0]), cell(cells[1]))
	}
	fmt.Fprintf(out, "\nRight answers: Kiali %d, meshlens %d, of %d cases.\n", kialiRight, meshlensRight, len(graphtest.Cases))
	return nil
}

// serve backfills a case's series into a Prometheus in dir, starts it on
// prom and `meshlens serve` beside it, and returns the console's URL and
// what stops both.
func serve(dir string, c graphtest.Case, start time.Time, prom, meshlens string) (string, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	om, _, err := graphtest.OpenMetrics([]graphtest.Case{c}, start)
	if err != nil {
		return "", nil, err
	}
	series, data, config := filepath.Join(dir, "series.om"), filepath.Join(dir, "data"), filepath.Join(dir, "prometheus.yml")
	if err := errors.Join(os.WriteFile(series, om, 0o644), os.WriteFile(config, []byte("global: {scrape_interval: 15s}\n"), 0o644)); err != nil {
		return "", nil, err
	}
	if b, err := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", series, data).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("promtool: %v: %s", err, b)
	}
	var procs []*exec.Cmd
	stop := func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}
	launch := func(log string, name string, args ...string) error {
		f, err := os.Create(filepath.Join(dir, log))
		if err != nil {
			return err
		}
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		return nil
	}
	console, err := freeAddress()
	if err == nil {
		err = launch("prometheus.log", "prometheus", "--config.file="+config, "--storage.tsdb.path="+data, "--web.listen-address="+prom, "--log.level=warn")
	}
	if err == nil {
		err = waitReady("http://" + prom + "/-/ready")
	}
	if err == nil {
		err = launch("meshlens.log", meshlens, "serve", "--prometheus.url", "http://"+prom, "--web.listen-address", console)
	}
	if err == nil {
		err = waitReady("http://" + console + "/-/ready")
	}
	if err != nil {
		stop()
		return "", nil, err
	}
	return "http://" + console, stop, nil
}

func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady waits up to 30 s for u to answer 200.
func waitReady(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready in 30 s (last: %v)", u, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// asKialiWrites is a case's answer as Kiali's JSON can hold it: Kiali
// writes response times, throughput and mTLS shares as whole numbers
// (rounded half to even, as Go's %.0f), and leaves out an mTLS share of 0.
func asKialiWrites(want graphtest.EdgeValues) graphtest.EdgeValues {
	out := graphtest.EdgeValues{}
	for edge, values := range want {
		out[edge] = map[string]float64{}
		for key, v := range values {
			switch key {
			case "rt", "tp", "mtls":
				v = math.RoundToEven(v)
			}
			if key == "mtls" && v == 0 {
				continue
			}
			out[edge][key] = v
		}
	}
	return out
}

// request is the Kiali graph API request of a case that starts at start.
func request(c graphtest.Case, start time.Time) (string, url.Values) {
	o := c.GraphOptions()
	q := url.Values{
		"graphType": {string(o.Type)},
		"duration":  {strconv.Itoa(int(o.Duration/time.Second)) + "s"},
		"queryTime": {strconv.FormatInt(start.Unix()+graphtest.At, 10)},
	}
	// Always said: Kiali's API draws no service nodes unless asked,
	// meshlens's draws them unless told not to.
	q.Set("injectServiceNodes", strconv.FormatBool(o.InjectServiceNodes))
	for name, v := range map[string]string{"responseTime": o.ResponseTime, "rateHttp": o.RateHTTP, "rateGrpc": o.RateGRPC, "rateTcp": o.RateTCP} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if f := o.Focus; f != nil {
		return "/api/namespaces/" + url.PathEscape(f.Namespace) + "/" + url.PathEscape(f.Kind) + "/" + url.PathEscape(f.Name) + "/graph", q
	}
	q.Set("namespaces", strings.Join(o.Namespaces, ","))
	return "/api/namespaces/graph", q
}

// ask gets a graph and reads its edges.
func ask(u string) (graphtest.EdgeValues, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return graphtest.OfJSON(body)
}

// cell is text fit for a Markdown table's cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
