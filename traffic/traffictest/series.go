// Package traffictest writes Istio's series for tests by hand: a load
// block in promqltest's notation where two labels stand for many (see
// ExpandSeries), so that the semantics cases of the graph and of health
// read as what they are.
//
//	src="ns/workload"           source_workload, source_workload_namespace,
//	                            source_canonical_service (the workload less
//	                            its -vN), source_canonical_revision (vN or
//	                            latest), source_cluster, source_principal;
//	                            src="unknown": a caller without a sidecar
//	dst="ns/service/workload"   the destination_service* labels of
//	                            service.ns.svc.cluster.local and the
//	                            destination workload's, as src
//	dst="ns/service"            a service whose workloads have no sidecar
//	dst="host"                  a host outside the mesh (httpbin.org,
//	                            PassthroughCluster)
//
// Labels not given take what a sidecar writes for a plain request:
// request_protocol http (tcp for the TCP counters), response_code 200,
// response_flags "-", connection_security_policy mutual_tls from the
// destination (none for a caller without a sidecar), unknown from the
// source.
package traffictest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	seriesLine = regexp.MustCompile(`^(\s*)([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}(.*)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"`)
	versioned  = regexp.MustCompile(`^(.*)-(v[0-9]+)$`)
)

// ExpandSeries writes out the src and dst shorthands of a load block into
// the labels Istio's sidecars write; series without them stay as they are.
func ExpandSeries(load string) (string, error) {
	var out []string
	for _, line := range strings.Split(load, "\n") {
		m := seriesLine.FindStringSubmatch(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		given := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[3], -1) {
			given[p[1]] = p[2]
		}
		if given["src"] == "" && given["dst"] == "" {
			out = append(out, line)
			continue
		}
		l, err := istioLabels(m[2], given)
		if err != nil {
			return "", fmt.Errorf("%s: %w", strings.TrimSpace(line), err)
		}
		var pairs []string
		for _, k := range sortedKeys(l) {
			pairs = append(pairs, k+"="+strconv.Quote(l[k]))
		}
		out = append(out, m[1]+m[2]+"{"+strings.Join(pairs, ", ")+"}"+m[4])
	}
	return strings.Join(out, "\n"), nil
}

func istioLabels(metric string, given map[string]string) (map[string]string, error) {
	l := map[string]string{}
	peer := func(prefix, ns, workload string) {
		app, version := workload, "latest"
		if v := versioned.FindStringSubmatch(workload); v != nil {
			app, version = v[1], v[2]
		}
		cluster, principal := "Kubernetes", "spiffe://cluster.local/ns/"+ns+"/sa/bookinfo-"+app
		if workload == "unknown" {
			ns, app, version, cluster, principal = "unknown", "unknown", "unknown", "unknown", "unknown"
		}
		l[prefix+"workload"], l[prefix+"workload_namespace"] = workload, ns
		l[prefix+"canonical_service"], l[prefix+"canonical_revision"] = app, version
		l[prefix+"app"], l[prefix+"version"] = app, version
		l[prefix+"cluster"], l[prefix+"principal"] = cluster, principal
	}
	src, ok := given["src"]
	if !ok {
		return nil, fmt.Errorf("no src")
	}
	if src == "unknown" {
		peer("source_", "unknown", "unknown")
	} else {
		ns, wl, ok := strings.Cut(src, "/")
		if !ok {
			return nil, fmt.Errorf("src %q is not ns/workload", src)
		}
		peer("source_", ns, wl)
	}
	dst, ok := given["dst"]
	if !ok {
		return nil, fmt.Errorf("no dst")
	}
	parts := strings.Split(dst, "/")
	switch len(parts) {
	case 1: // a host outside the mesh
		peer("destination_", "unknown", "unknown")
		l["destination_service"], l["destination_service_name"], l["destination_service_namespace"] = parts[0], parts[0], "unknown"
	case 2, 3:
		ns, svc := parts[0], parts[1]
		l["destination_service"], l["destination_service_name"], l["destination_service_namespace"] = svc+"."+ns+".svc.cluster.local", svc, ns
		if len(parts) == 3 {
			peer("destination_", ns, parts[2])
		} else {
			peer("destination_", "unknown", "unknown")
		}
	default:
		return nil, fmt.Errorf("dst %q", dst)
	}
	reporter := given["reporter"]
	if reporter != "source" && reporter != "destination" {
		return nil, fmt.Errorf("reporter %q", reporter)
	}
	l["reporter"] = reporter
	l["response_flags"] = "-"
	if strings.HasPrefix(metric, "istio_tcp_") {
		l["request_protocol"] = "tcp"
	} else {
		l["request_protocol"], l["response_code"] = "http", "200"
	}
	switch {
	case reporter == "source":
		l["connection_security_policy"] = "unknown"
	case src == "unknown":
		l["connection_security_policy"] = "none"
	default:
		l["connection_security_policy"] = "mutual_tls"
	}
	if reporter == "source" || src == "unknown" {
		l["source_principal"] = "unknown"
	}
	for k, v := range given {
		if k != "src" && k != "dst" {
			l[k] = v
		}
	}
	return l, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
