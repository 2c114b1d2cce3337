package simulate

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// Target is one sidecar metrics endpoint, with the labels Istio's Prometheus
// add-on gives a pod's series (namespace, pod, and the pod's app and version).
type Target struct {
	Address     string
	MetricsPath string
	Labels      map[string]string
}

func newTarget(w *Workload, address, path string) Target {
	labels := map[string]string{"namespace": w.Namespace, "pod": w.Pod(), "app": w.App}
	if w.Version != "" {
		labels["version"] = w.Version
	}
	return Target{Address: address, MetricsPath: path, Labels: labels}
}

// targetGroup is one entry of Prometheus's file_sd and http_sd formats.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// MarshalTargets renders targets in the JSON that Prometheus's file-based
// and HTTP service discovery read.
func MarshalTargets(targets []Target) ([]byte, error) {
	groups := make([]targetGroup, 0, len(targets))
	for _, t := range targets {
		labels := map[string]string{"__metrics_path__": t.MetricsPath}
		for k, v := range t.Labels {
			labels[k] = v
		}
		groups = append(groups, targetGroup{Targets: []string{t.Address}, Labels: labels})
	}
	return json.MarshalIndent(groups, "", "  ")
}

// WriteTargetsFile writes the file_sd file atomically, so a watching
// Prometheus never reads half of it.
func WriteTargetsFile(path string, targets []Target) error {
	b, err := MarshalTargets(targets)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".targets-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
