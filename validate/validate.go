// Package validate checks Istio configuration the way Kiali does, with
// Kiali's KIA codes, meanings and severities, so that users find the codes
// they know. Checks index objects by host and selector: none compares
// every pair of objects.
package validate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/meshlens/meshlens/inventory"
)

// Severity of a finding.
type Severity string

// Severities, from most to least serious. Unknown is Kiali's lowest level,
// for what may be intended (an unreferenced subset that matches nothing, an
// ambiguous default); "info" reads as Unknown.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Unknown Severity = "unknown"
)

// Rank orders severities: error 3, warning 2, unknown 1.
func (s Severity) Rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Unknown:
		return 1
	}
	return 0
}

// ParseSeverity reads error, warning, unknown or info (the same as unknown).
func ParseSeverity(s string) (Severity, error) {
	switch v := Severity(s); v {
	case Error, Warning, Unknown:
		return v, nil
	case "info":
		return Unknown, nil
	}
	return "", fmt.Errorf("severity %q: use error, warning or unknown", s)
}

// Check is one kind of finding: Kiali's code, message and severity.
type Check struct {
	Code     string
	Message  string
	Severity Severity
}

// The checks, with Kiali's codes and meanings.
var (
	KIA0002 = register("KIA0002", "More than one selector-less object in the same namespace", Error)
	KIA0003 = register("KIA0003", "More than one object applied to the same workload", Error)
	KIA0004 = register("KIA0004", "No matching workload found for the selector in this namespace", Warning)
	KIA0005 = register("KIA0005", "No matching namespace found or namespace is not accessible", Error)
	KIA0101 = register("KIA0101", "Namespace not found for this rule", Warning)
	KIA0102 = register("KIA0102", "Only HTTP methods and fully-qualified gRPC names are allowed", Warning)
	KIA0104 = register("KIA0104", "This host has no matching entry in the service registry", Error)
	KIA0105 = register("KIA0105", "This field requires mTLS to be enabled", Error)
	KIA0106 = register("KIA0106", "Service Account not found for this principal", Error)
	KIA0107 = register("KIA0107", "Service Account for this principal is on remote cluster", Unknown)
	KIA0108 = register("KIA0108", "The trust domain of this principal is not a trust domain of the mesh", Warning)
	KIA0201 = register("KIA0201", "More than one DestinationRules for the same host subset combination", Warning)
	KIA0202 = register("KIA0202", "This host has no matching entry in the service registry (service, workload or service entries)", Error)
	KIA0203 = register("KIA0203", "This subset's labels are not found in any matching host", Error)
	KIA0204 = register("KIA0204", "mTLS settings of a non-local Destination Rule are overridden", Warning)
	KIA0205 = register("KIA0205", "PeerAuthentication enabling mTLS at mesh level is missing", Error)
	KIA0206 = register("KIA0206", "PeerAuthentication enabling namespace-wide mTLS is missing", Error)
	KIA0207 = register("KIA0207", "PeerAuthentication with TLS strict mode found, it should be permissive", Error)
	KIA0208 = register("KIA0208", "PeerAuthentication enabling mTLS found, permissive mode needed", Error)
	KIA0209 = register("KIA0209", "This subset has not labels", Warning)
	KIA0401 = register("KIA0401", "Mesh-wide Destination Rule enabling mTLS is missing", Error)
	KIA0501 = register("KIA0501", "Destination Rule enabling namespace-wide mTLS is missing", Error)
	KIA0505 = register("KIA0505", "Destination Rule disabling namespace-wide mTLS is missing", Error)
	KIA0506 = register("KIA0506", "Destination Rule disabling mesh-wide mTLS is missing", Error)
	KIA0301 = register("KIA0301", "More than one Gateway for the same host port combination", Warning)
	KIA0302 = register("KIA0302", "No matching workload found for gateway selector in this namespace", Warning)
	KIA0601 = register("KIA0601", "Port name must follow <protocol>[-suffix] form", Error)
	KIA0602 = register("KIA0602", "Port appProtocol must follow <protocol> form", Error)
	KIA0701 = register("KIA0701", "Deployment exposing same port as Service not found", Warning)
	KIA1004 = register("KIA1004", "This host has no matching entry in the service registry", Warning)
	KIA1006 = register("KIA1006", "Global default sidecar should not have workloadSelector", Warning)
	KIA1007 = register("KIA1007", "OutboundTrafficPolicy with empty mode value is ambiguous due to an Istio limitation. This may indicate ALLOW_ANY or REGISTRY_ONLY. Inspect the value using other means.", Unknown)
	KIA1101 = register("KIA1101", "DestinationWeight on route doesn't have a valid service (host not found)", Error)
	KIA1102 = register("KIA1102", "VirtualService is pointing to a non-existent gateway", Error)
	KIA1104 = register("KIA1104", "The weight is assumed to be 100 because there is only one route destination", Warning)
	KIA1105 = register("KIA1105", "This host subset combination is already referenced in another route destination", Warning)
	KIA1106 = register("KIA1106", "More than one Virtual Service for same host", Warning)
	KIA1107 = register("KIA1107", "Subset not found", Warning)
	KIA1108 = register("KIA1108", "Preferred nomenclature: <gateway namespace>/<gateway name>", Unknown)
	KIA1211 = register("KIA1211", "More than one ServiceEntry for the same host and port", Warning)
	KIA1212 = register("KIA1212", "ServiceEntries define the same host and port with different protocols", Warning)
	KIA1301 = register("KIA1301", "This workload is not covered by any authorization policy", Warning)
	KIA1401 = register("KIA1401", "Route is pointing to a non-existent or inaccessible K8s gateway", Error)
	KIA1402 = register("KIA1402", "Reference doesn't have a valid service (Service name not found)", Error)
	KIA1501 = register("KIA1501", "More than one K8s Gateway for the same host port combination", Warning)
	KIA1502 = register("KIA1502", "More than one K8s Gateway for the same address and type combination", Warning)
	KIA1503 = register("KIA1503", "Each listener must have a unique combination of Hostname, Port, and Protocol", Error)
	KIA1504 = register("KIA1504", "Gateway API Class not found among the configured classes", Error)
	KIA1601 = register("KIA1601", "Namespace is not found or is not accessible", Error)
	KIA1701 = register("KIA1701", "Service Account not found for this WorkloadGroup", Warning)
	KIA1702 = register("KIA1702", "More than one WorkloadGroup in the namespace has the same labels", Warning)
)

// registered holds every check, in the order declared.
var registered []Check

// register declares a check, so that Checks lists it.
func register(code, message string, severity Severity) Check {
	c := Check{code, message, severity}
	registered = append(registered, c)
	return c
}

// Checks lists every check meshlens runs, by code.
func Checks() []Check {
	all := slices.Clone(registered)
	sort.Slice(all, func(i, j int) bool { return all[i].Code < all[j].Code })
	return all
}

// Finding is one check that failed on one object, at one path in it.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Detail says what exactly was wrong, e.g. `subset "v4" not found in DestinationRule reviews`.
	Detail string `json:"detail,omitempty"`
	Kind   string `json:"kind"`
	// Group tells apart kinds of one name: gateway.networking.k8s.io's
	// Gateway from Istio's.
	Group     string `json:"group,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Path      string `json:"path"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
}

// Options tune host resolution.
type Options struct {
	// ClusterDomain completes short hosts: reviews -> reviews.bookinfo.svc.<ClusterDomain>.
	ClusterDomain string
	// RootNamespace holds the mesh-wide defaults (a Sidecar there is global).
	RootNamespace string
	// NoAutoMTLS: Istio's auto mTLS is off, so PeerAuthentications need
	// DestinationRules that match them. With it on (Istio's default),
	// clients follow servers by themselves.
	NoAutoMTLS bool
	// TrustDomains are the mesh's trust domain and its aliases; a principal
	// of another is foreign (KIA0108). Default: cluster.local.
	TrustDomains []string
	// RemotePrincipals are the service accounts of the mesh's other
	// clusters, as principals (td/ns/<namespace>/sa/<name>): a principal
	// found there only is remote (KIA0107), not missing (KIA0106).
	RemotePrincipals []string
	// UncoveredWorkloads flags workloads no AuthorizationPolicy applies to
	// (KIA1301), off by default as in Kiali.
	UncoveredWorkloads bool
	// OutboundAllowAny: the mesh config sets outboundTrafficPolicy
	// ALLOW_ANY, so a DestinationRule for a host outside the registry
	// still applies to traffic that leaves the mesh (KIA0202 a warning).
	OutboundAllowAny bool
	// GatewayClasses are the Gateway API classes the mesh's controllers
	// serve (KIA1504). Default: istio and istio-remote, Istio's own.
	GatewayClasses []string
}

// withDefaults fills in Istio's defaults for what o leaves empty.
func (o Options) withDefaults() Options {
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.RootNamespace == "" {
		o.RootNamespace = "istio-system"
	}
	if len(o.GatewayClasses) == 0 {
		o.GatewayClasses = []string{"istio", "istio-remote"}
	}
	if len(o.TrustDomains) == 0 {
		o.TrustDomains = []string{"cluster.local"}
	}
	return o
}

// validation is one run: the snapshot, its indexes and what was found.
type validation struct {
	snap     *inventory.Snapshot
	opts     Options
	registry *registry
	findings []Finding
}

func (v *validation) add(c Check, o *inventory.Object, path, detail string, args ...any) {
	v.addAs(c.Severity, c, o, path, detail, args...)
}

// addAs adds a finding at another severity than its check's, where Kiali
// lowers one by context (an unreferenced subset, say).
func (v *validation) addAs(sev Severity, c Check, o *inventory.Object, path, detail string, args ...any) {
	f := Finding{Code: c.Code, Severity: sev, Message: c.Message, Kind: o.Kind, Group: o.Group, Namespace: o.Namespace,
		Name: o.Name, Path: path, File: o.File, Line: o.LineOf(path)}
	if detail != "" {
		f.Detail = fmt.Sprintf(detail, args...)
	}
	v.findings = append(v.findings, f)
}

// Run checks every object of the snapshot and returns the findings sorted
// by file, line and code.
func Run(s *inventory.Snapshot, o Options) []Finding {
	o = o.withDefaults()
	v := &validation{snap: s, opts: o, registry: newRegistry(s, o.ClusterDomain)}
	v.virtualServices()
	v.destinationRules()
	v.gateways()
	v.services()
	v.sidecars()
	v.authorizationPolicies()
	v.serviceEntries()
	v.selectors()
	v.workloadGroups()
	v.gatewayAPI()
	v.uncoveredWorkloads()
	v.exportTo()
	v.mtls()
	sort.SliceStable(v.findings, func(i, j int) bool {
		a, b := v.findings[i], v.findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Code < b.Code
	})
	return v.findings
}

// namespaceOf returns the namespace part of "ns/name" references, or def.
func splitRef(ref, def string) (ns, name string) {
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	return def, ref
}
