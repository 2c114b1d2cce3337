package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/traffic"
)

// The lists answer what runs, in shapes close to Kiali's list APIs.

type namespaceItem struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

type workloadItem struct {
	Name                string            `json:"name"`
	Type                string            `json:"type"`
	Labels              map[string]string `json:"labels"`
	AppLabel            bool              `json:"appLabel"`
	VersionLabel        bool              `json:"versionLabel"`
	IstioSidecar        bool              `json:"istioSidecar"`
	ServiceAccountNames []string          `json:"serviceAccountNames"`
	DesiredReplicas     int32             `json:"desiredReplicas"`
	AvailableReplicas   int32             `json:"availableReplicas"`
}

type serviceItem struct {
	Name         string               `json:"name"`
	Namespace    string               `json:"namespace"`
	Selector     map[string]string    `json:"selector,omitempty"`
	Ports        []corev1.ServicePort `json:"ports"`
	IstioSidecar bool                 `json:"istioSidecar"`
	Workloads    []string             `json:"workloads"`
}

type appItem struct {
	Name         string        `json:"name"`
	IstioSidecar bool          `json:"istioSidecar"`
	Workloads    []appWorkload `json:"workloads"`
}

type appWorkload struct {
	WorkloadName string `json:"workloadName"`
	IstioSidecar bool   `json:"istioSidecar"`
}

// snapshotOr404 returns the inventory, or answers 404 when there is none.
func (s *Server) snapshotOr404(w http.ResponseWriter) *inventory.Snapshot {
	if s.inventory == nil {
		writeError(w, http.StatusNotFound, "no inventory is configured (meshlens serve --inventory.file, or the demo)")
		return nil
	}
	return s.inventory.Snapshot()
}

// WithTelemetry is the Prometheus the console reads beyond graphs: when
// no inventory is configured, the namespaces it has Istio telemetry of
// (the last day's callers and destinations), so that the console offers
// them; and, in /api/config, how far back its data reaches.
func (s *Server) WithTelemetry(q promclient.Querier) *Server {
	s.telemetry = q
	return s
}

func (s *Server) namespaceList(w http.ResponseWriter, r *http.Request) {
	if s.inventory == nil && s.telemetry != nil {
		s.telemetryNamespaces(w, r)
		return
	}
	snap := s.snapshotOr404(w)
	if snap == nil {
		return
	}
	out := []namespaceItem{}
	for _, ns := range snap.Namespaces() {
		out = append(out, namespaceItem{Name: ns, Labels: snap.NamespaceLabels(ns)})
	}
	writeJSON(w, out)
}

// inNamespace serves list with the inventory and the {namespace} of the
// path, once both are known to exist.
func (s *Server) inNamespace(list func(http.ResponseWriter, *inventory.Snapshot, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		snap := s.snapshotOr404(w)
		if snap == nil {
			return
		}
		ns := r.PathValue("namespace")
		if err := s.checkNamespaces(ns); err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		list(w, snap, ns)
	}
}

func (s *Server) workloadList(w http.ResponseWriter, snap *inventory.Snapshot, ns string) {
	out := []workloadItem{}
	for _, wl := range snap.Workloads {
		if wl.Namespace != ns {
			continue
		}
		_, app := wl.Labels["app"]
		_, version := wl.Labels["version"]
		out = append(out, workloadItem{Name: wl.Name, Type: wl.Kind, Labels: wl.Labels, AppLabel: app, VersionLabel: version,
			IstioSidecar: wl.Sidecar, ServiceAccountNames: []string{wl.ServiceAccount},
			DesiredReplicas: wl.DesiredReplicas, AvailableReplicas: wl.AvailableReplicas})
	}
	writeJSON(w, map[string]any{"namespace": namespaceItem{Name: ns}, "workloads": out})
}

func (s *Server) serviceList(w http.ResponseWriter, snap *inventory.Snapshot, ns string) {
	out := []serviceItem{}
	for _, svc := range snap.Services {
		if svc.Namespace != ns {
			continue
		}
		item := serviceItem{Name: svc.Name, Namespace: ns, Selector: svc.Selector, Ports: svc.Ports, Workloads: []string{}}
		backends := snap.ServiceWorkloads(svc)
		item.IstioSidecar = len(backends) > 0
		for _, wl := range backends {
			item.Workloads = append(item.Workloads, wl.Name)
			item.IstioSidecar = item.IstioSidecar && wl.Sidecar
		}
		out = append(out, item)
	}
	writeJSON(w, map[string]any{"namespace": namespaceItem{Name: ns}, "services": out})
}

func (s *Server) appList(w http.ResponseWriter, snap *inventory.Snapshot, ns string) {
	apps := map[string]*appItem{}
	for _, wl := range snap.Workloads {
		if wl.Namespace != ns || wl.App == "" {
			continue
		}
		a := apps[wl.App]
		if a == nil {
			a = &appItem{Name: wl.App, IstioSidecar: true}
			apps[wl.App] = a
		}
		a.Workloads = append(a.Workloads, appWorkload{WorkloadName: wl.Name, IstioSidecar: wl.Sidecar})
		a.IstioSidecar = a.IstioSidecar && wl.Sidecar
	}
	out := []*appItem{}
	for _, a := range apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, map[string]any{"namespace": namespaceItem{Name: ns}, "applications": out})
}

func (s *Server) telemetryNamespaces(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	end := time.Now()
	names, err := traffic.Namespaces(ctx, s.telemetry, end.Add(-24*time.Hour), end)
	if err != nil {
		writeError(w, statusOf(err), fmt.Sprintf("listing namespaces from the Prometheus: %v", err))
		return
	}
	out := []namespaceItem{}
	for _, ns := range names {
		out = append(out, namespaceItem{Name: ns})
	}
	writeJSON(w, out)
}
