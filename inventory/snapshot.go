package inventory

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Source gives the inventory as it is now: files (Static) or a cluster
// (package inventory/cluster).
type Source interface {
	Snapshot() *Snapshot
}

// Static is an inventory that does not change, e.g. read from files.
type Static struct{ snap *Snapshot }

// NewStatic serves snap.
func NewStatic(snap *Snapshot) *Static { return &Static{snap: snap} }

// Snapshot implements Source.
func (s *Static) Snapshot() *Snapshot { return s.snap }

// Snapshot is the inventory at one moment, indexed for lookups by
// namespace, kind and labels.
type Snapshot struct {
	Objects    []*Object
	Workloads  []*Workload
	Services   []*Service
	namespaces map[string]*corev1.Namespace
	byKind     map[string][]*Object
	byNS       map[string][]*Workload
}

// Workload is a Deployment, StatefulSet, DaemonSet, ReplicaSet or bare Pod,
// described by its pod template.
type Workload struct {
	Name, Namespace, Kind string
	Labels                map[string]string
	ServiceAccount        string
	ContainerPorts        []int32
	// Sidecar tells whether its pods get an Istio proxy (annotation,
	// label, namespace label or an istio-proxy container).
	Sidecar bool
	// App and Version from app / app.kubernetes.io/name /
	// service.istio.io/canonical-name and version labels.
	App, Version string
	// DesiredReplicas, CurrentReplicas and AvailableReplicas: the
	// workload's availability, from its spec and status (a bare pod: 1,
	// and 1 when it runs). StatusKnown tells whether the object carried a
	// status at all: a manifest file does not, and says nothing of what
	// runs.
	DesiredReplicas, CurrentReplicas, AvailableReplicas int32
	StatusKnown                                         bool
	Object                                              *Object
}

// Service is a Kubernetes Service.
type Service struct {
	Name, Namespace string
	Selector        map[string]string
	Ports           []corev1.ServicePort
	Object          *Object
}

// NewSnapshot indexes objects.
func NewSnapshot(objects []*Object) *Snapshot {
	sortObjects(objects)
	s := &Snapshot{Objects: objects, namespaces: map[string]*corev1.Namespace{}, byKind: map[string][]*Object{}, byNS: map[string][]*Workload{}}
	for _, o := range objects {
		k := KindKey(o.Group, o.Kind)
		s.byKind[k] = append(s.byKind[k], o)
		if ns, ok := o.Typed.(*corev1.Namespace); ok {
			s.namespaces[o.Name] = ns
		}
	}
	for _, o := range objects {
		if _, ok := s.namespaces[o.Namespace]; !ok && o.Namespace != "" {
			// A namespace named only by its objects still exists.
			s.namespaces[o.Namespace] = nil
		}
		var tmpl *corev1.PodTemplateSpec
		var desired, current, available int32 = 1, 0, 0
		var known bool
		switch t := o.Typed.(type) {
		case *appsv1.Deployment:
			tmpl = &t.Spec.Template
			desired, current, available = replicas(t.Spec.Replicas), t.Status.Replicas, t.Status.AvailableReplicas
			known = t.Status.ObservedGeneration > 0 || t.Status.Replicas > 0
		case *appsv1.StatefulSet:
			tmpl = &t.Spec.Template
			desired, current, available = replicas(t.Spec.Replicas), t.Status.Replicas, t.Status.AvailableReplicas
			known = t.Status.ObservedGeneration > 0 || t.Status.Replicas > 0
		case *appsv1.DaemonSet:
			tmpl = &t.Spec.Template
			desired, current, available = t.Status.DesiredNumberScheduled, t.Status.CurrentNumberScheduled, t.Status.NumberAvailable
			known = t.Status.ObservedGeneration > 0 || t.Status.DesiredNumberScheduled > 0
		case *appsv1.ReplicaSet:
			if len(t.OwnerReferences) > 0 {
				continue
			}
			tmpl = &t.Spec.Template
			desired, current, available = replicas(t.Spec.Replicas), t.Status.Replicas, t.Status.AvailableReplicas
			known = t.Status.ObservedGeneration > 0 || t.Status.Replicas > 0
		case *corev1.Pod:
			if len(t.OwnerReferences) > 0 {
				continue
			}
			tmpl = &corev1.PodTemplateSpec{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
			known = t.Status.Phase != ""
			if known {
				current = 1
			}
			if t.Status.Phase == corev1.PodRunning {
				available = 1
			}
		case *corev1.Service:
			s.Services = append(s.Services, &Service{Name: o.Name, Namespace: o.Namespace, Selector: t.Spec.Selector, Ports: t.Spec.Ports, Object: o})
			continue
		default:
			continue
		}
		w := s.workload(o, tmpl)
		w.DesiredReplicas, w.CurrentReplicas, w.AvailableReplicas, w.StatusKnown = desired, current, available, known
		s.Workloads = append(s.Workloads, w)
		s.byNS[w.Namespace] = append(s.byNS[w.Namespace], w)
	}
	return s
}

func (s *Snapshot) workload(o *Object, tmpl *corev1.PodTemplateSpec) *Workload {
	l := tmpl.Labels
	w := &Workload{Name: o.Name, Namespace: o.Namespace, Kind: o.Kind, Labels: l, ServiceAccount: tmpl.Spec.ServiceAccountName, Object: o}
	if w.ServiceAccount == "" {
		w.ServiceAccount = "default"
	}
	for _, key := range []string{"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"} {
		if v := l[key]; v != "" {
			w.App = v
		}
	}
	for _, key := range []string{"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"} {
		if v := l[key]; v != "" {
			w.Version = v
		}
	}
	for _, c := range tmpl.Spec.Containers {
		if c.Name == "istio-proxy" {
			w.Sidecar = true
		}
		for _, p := range c.Ports {
			w.ContainerPorts = append(w.ContainerPorts, p.ContainerPort)
		}
	}
	if !w.Sidecar {
		w.Sidecar = s.injected(o.Namespace, tmpl)
	}
	return w
}

// injected applies Istio's injection rules: the pod's label or annotation
// wins, else the namespace's istio-injection or istio.io/rev label.
func (s *Snapshot) injected(namespace string, tmpl *corev1.PodTemplateSpec) bool {
	for _, v := range []string{tmpl.Labels["sidecar.istio.io/inject"], tmpl.Annotations["sidecar.istio.io/inject"]} {
		switch v {
		case "true":
			return true
		case "false":
			return false
		}
	}
	if ns := s.namespaces[namespace]; ns != nil {
		if ns.Labels["istio-injection"] == "enabled" || ns.Labels["istio.io/rev"] != "" {
			return true
		}
	}
	return false
}

// HasNamespace tells whether ns exists.
func (s *Snapshot) HasNamespace(ns string) bool {
	_, ok := s.namespaces[ns]
	return ok
}

// Namespaces lists the namespaces, sorted.
func (s *Snapshot) Namespaces() []string {
	out := make([]string, 0, len(s.namespaces))
	for ns := range s.namespaces {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// Of returns the objects of a kind (KindKey), sorted by namespace and name.
func (s *Snapshot) Of(kind string) []*Object { return s.byKind[kind] }

// WorkloadsIn returns the workloads of namespace ns ("" for all) whose
// labels match selector; an empty selector matches none.
func (s *Snapshot) WorkloadsIn(ns string, selector map[string]string) []*Workload {
	if len(selector) == 0 {
		return nil
	}
	candidates := s.byNS[ns]
	if ns == "" {
		candidates = s.Workloads
	}
	// An equality selector, as Kubernetes matches one, read once: this runs
	// for every workload of every selector of a mesh.
	type pair struct{ key, value string }
	pairs := make([]pair, 0, len(selector))
	for k, v := range selector {
		pairs = append(pairs, pair{k, v})
	}
	var out []*Workload
next:
	for _, w := range candidates {
		for _, p := range pairs {
			if x, ok := w.Labels[p.key]; !ok || x != p.value {
				continue next
			}
		}
		out = append(out, w)
	}
	return out
}

// ServiceWorkloads returns the workloads behind a service.
func (s *Snapshot) ServiceWorkloads(svc *Service) []*Workload {
	return s.WorkloadsIn(svc.Namespace, svc.Selector)
}

// NamespaceLabels returns the labels of namespace ns, if it was read.
func (s *Snapshot) NamespaceLabels(ns string) map[string]string {
	if n := s.namespaces[ns]; n != nil {
		return n.Labels
	}
	return nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1 // Kubernetes's default
	}
	return *r
}

// SetAvailable records that n replicas of workload namespace/name run, for
// inventories read from files that a simulator brings to life.
func (s *Snapshot) SetAvailable(namespace, name string, n int32) {
	for _, w := range s.byNS[namespace] {
		if w.Name == name {
			w.CurrentReplicas, w.AvailableReplicas, w.StatusKnown = n, n, true
		}
	}
}

// Selects tells whether an equality selector (every label of selector in l
// with the same value) selects labels l; an empty selector selects all.
func Selects(selector, l map[string]string) bool {
	for k, v := range selector {
		if x, ok := l[k]; !ok || x != v {
			return false
		}
	}
	return true
}
