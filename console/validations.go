package console

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/validate"
)

// validations serves Istio config validations from the server's inventory.
type validations struct {
	options validate.Options
	gauge   *prometheus.GaugeVec

	// The findings of the last snapshot validated: a file inventory hands
	// out one snapshot for good, so it is validated once, not per request.
	mu       sync.Mutex
	snap     *inventory.Snapshot
	findings []validate.Finding
}

// findingsOf validates snap, or returns what validating it found before,
// and keeps meshlens_validations up to date.
func (v *validations) findingsOf(snap *inventory.Snapshot) []validate.Finding {
	v.mu.Lock()
	defer v.mu.Unlock()
	if snap == v.snap {
		return v.findings
	}
	v.snap, v.findings = snap, validate.Run(snap, v.options)
	v.gauge.Reset()
	for _, f := range v.findings {
		v.gauge.WithLabelValues(f.Code, string(f.Severity)).Inc()
	}
	return v.findings
}

// WithInventory gives the console what runs: it serves the lists and the
// validations from source, and graphs use it for idle nodes, sidecars and
// service entries. meshlens_validations{code,severity} goes to reg when reg
// is not nil.
func (s *Server) WithInventory(source inventory.Source, o validate.Options, reg prometheus.Registerer) *Server {
	v := &validations{options: o, gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshlens_validations",
		Help: "Istio configuration findings by KIA code and severity, as of the last validation.",
	}, []string{"code", "severity"})}
	if reg != nil {
		reg.MustRegister(v.gauge)
	}
	s.validations = v
	s.inventory = source
	return s
}

// objectGVK is Kiali's group/version/kind of a validated object.
type objectGVK struct {
	Group   string `json:"Group"`
	Version string `json:"Version"`
	Kind    string `json:"Kind"`
}

type istioCheck struct {
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Severity validate.Severity `json:"severity"`
	Path     string            `json:"path"`
	Detail   string            `json:"detail,omitempty"`
}

// istioValidation has the shape of Kiali's IstioValidation.
type istioValidation struct {
	Name      string       `json:"name"`
	Namespace string       `json:"namespace"`
	ObjectGVK objectGVK    `json:"objectGVK"`
	Valid     bool         `json:"valid"`
	Checks    []istioCheck `json:"checks"`
}

// run validates the inventory and returns a validation per object of the
// namespaces (all when none are given).
func (v *validations) run(snap *inventory.Snapshot, namespaces []string) []istioValidation {
	findings := v.findingsOf(snap)
	want := map[string]bool{}
	for _, ns := range namespaces {
		want[ns] = true
	}
	byObject := map[string][]istioCheck{}
	for _, f := range findings {
		key := inventory.KindKey(f.Group, f.Kind) + "/" + f.Namespace + "/" + f.Name
		byObject[key] = append(byObject[key], istioCheck{Code: f.Code, Message: f.Message, Severity: f.Severity, Path: f.Path, Detail: f.Detail})
	}
	out := []istioValidation{}
	for _, o := range snap.Objects {
		if len(want) > 0 && !want[o.Namespace] {
			continue
		}
		// Istio and Gateway API objects, and Services (their ports are checked too).
		if !strings.HasSuffix(o.Group, ".istio.io") && o.Group != inventory.GatewayAPIGroup && o.Kind != "Service" {
			continue
		}
		checks := byObject[inventory.KindKey(o.Group, o.Kind)+"/"+o.Namespace+"/"+o.Name]
		valid := true
		for _, c := range checks {
			valid = valid && c.Severity != validate.Error
		}
		if checks == nil {
			checks = []istioCheck{}
		}
		out = append(out, istioValidation{Name: o.Name, Namespace: o.Namespace,
			ObjectGVK: objectGVK{o.Group, o.Version, o.Kind}, Valid: valid, Checks: checks})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.ObjectGVK.Kind != b.ObjectGVK.Kind {
			return a.ObjectGVK.Kind < b.ObjectGVK.Kind
		}
		return a.Name < b.Name
	})
	return out
}

func (s *Server) istioValidations(w http.ResponseWriter, r *http.Request) {
	if s.validations == nil {
		writeError(w, http.StatusNotFound, "no inventory is configured, so there is nothing to validate")
		return
	}
	namespaces := splitList(r.URL.Query().Get("namespaces"))
	if err := s.checkNamespaces(namespaces...); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, map[string]any{"validations": s.validations.run(s.inventory.Snapshot(), namespaces)})
}

func (s *Server) objectValidation(w http.ResponseWriter, r *http.Request) {
	if s.validations == nil {
		writeError(w, http.StatusNotFound, "no inventory is configured, so there is nothing to validate")
		return
	}
	ns, kind, name := r.PathValue("namespace"), r.PathValue("kind"), r.PathValue("name")
	if err := s.checkNamespaces(ns); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	for _, v := range s.validations.run(s.inventory.Snapshot(), []string{ns}) {
		if equalFoldKind(v.ObjectGVK.Kind, kind) && v.Name == name {
			writeJSON(w, v)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no "+kind+" "+ns+"/"+name+" in the inventory")
}

// equalFoldKind accepts "VirtualService", "virtualservice" and "virtualservices".
func equalFoldKind(kind, asked string) bool {
	return strings.EqualFold(asked, kind) || strings.EqualFold(asked, kind+"s")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// istioConfigItem is one Istio object of the config list, with its validation.
type istioConfigItem struct {
	Kind       string          `json:"kind"`
	APIVersion string          `json:"apiVersion"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	Validation istioValidation `json:"validation"`
}

// istioConfigList answers the Istio objects of a namespace, each with its
// validation status, for the config list view.
func (s *Server) istioConfigList(w http.ResponseWriter, r *http.Request) {
	if s.validations == nil {
		writeError(w, http.StatusNotFound, "no inventory is configured, so there is no Istio config to list")
		return
	}
	ns := r.PathValue("namespace")
	if err := s.checkNamespaces(ns); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	items := []istioConfigItem{}
	for _, v := range s.validations.run(s.inventory.Snapshot(), []string{ns}) {
		if !strings.HasSuffix(v.ObjectGVK.Group, ".istio.io") {
			continue
		}
		items = append(items, istioConfigItem{Kind: v.ObjectGVK.Kind, APIVersion: v.ObjectGVK.Group + "/" + v.ObjectGVK.Version,
			Namespace: v.Namespace, Name: v.Name, Validation: v})
	}
	writeJSON(w, map[string]any{"namespace": ns, "items": items})
}
