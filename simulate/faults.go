package simulate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Fault is what goes wrong with one workload.
type Fault struct {
	Namespace string `json:"namespace" yaml:"namespace"`
	Workload  string `json:"workload" yaml:"workload"`
	// ErrorRate is the share of requests answered with ErrorCode (gRPC
	// status 2), 0 to 1.
	ErrorRate float64 `json:"errorRate,omitempty" yaml:"errorRate,omitempty"`
	// ErrorCode is the HTTP code of those answers, 500 when not given: a
	// 4xx tries Kiali's 4xx tolerances.
	ErrorCode int `json:"errorCode,omitempty" yaml:"errorCode,omitempty"`
	// Delay is added to every request the workload serves.
	Delay Duration `json:"delay,omitempty" yaml:"delay,omitempty"`
	// Down: the workload stops answering; callers time out.
	Down bool `json:"down,omitempty" yaml:"down,omitempty"`
	// Abort is the share of calls to the workload that its callers'
	// sidecars answer themselves with 503, never sending them (Istio's
	// fault injection abort: flag FI), 0 to 1.
	Abort float64 `json:"abort,omitempty" yaml:"abort,omitempty"`
	// InjectDelay is how long the callers' sidecars hold each call to the
	// workload before sending it (Istio's fault injection delay: flag DI).
	InjectDelay Duration `json:"injectDelay,omitempty" yaml:"injectDelay,omitempty"`
}

// Duration is a time.Duration written as "250ms" in YAML and JSON.
type Duration time.Duration

// MarshalText writes the duration as Go does ("1.5s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "250ms", "2s" and so on.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("delay %q: %w", b, err)
	}
	if v < 0 {
		return fmt.Errorf("delay %q is negative", b)
	}
	*d = Duration(v)
	return nil
}

func (f Fault) validate() error {
	if f.Namespace == "" || f.Workload == "" {
		return errors.New("a fault needs namespace and workload")
	}
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		return fmt.Errorf("errorRate of %s/%s is %v; it must be between 0 and 1", f.Namespace, f.Workload, f.ErrorRate)
	}
	if f.ErrorCode != 0 && (f.ErrorCode < 400 || f.ErrorCode > 599) {
		return fmt.Errorf("errorCode of %s/%s is %d; it must be an HTTP error code, 400 to 599", f.Namespace, f.Workload, f.ErrorCode)
	}
	if f.Abort < 0 || f.Abort > 1 {
		return fmt.Errorf("abort of %s/%s is %v; it must be between 0 and 1", f.Namespace, f.Workload, f.Abort)
	}
	return nil
}

// Scenario is the YAML file that sets faults at start:
//
//	faults:
//	  - namespace: bookinfo
//	    workload: reviews-v2
//	    errorRate: 0.5
//	    delay: 200ms
//	mtls:
//	  bookinfo: false   # sidecars in bookinfo accept plain text
type Scenario struct {
	Faults []Fault `yaml:"faults"`
	// MTLS turns mutual TLS on or off per namespace.
	MTLS map[string]bool `yaml:"mtls"`
}

// Apply sets the scenario's mTLS choices on mesh, before it starts.
func (sc *Scenario) Apply(mesh *Mesh) error {
	for ns, on := range sc.MTLS {
		found := false
		for i := range mesh.Namespaces {
			if mesh.Namespaces[i].Name == ns {
				mesh.Namespaces[i].MTLS, found = on, true
			}
		}
		if !found {
			return fmt.Errorf("mtls: no namespace %q in the mesh", ns)
		}
	}
	return nil
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	for _, f := range s.Faults {
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", path, err)
		}
	}
	return &s, nil
}

// Faults holds the faults in force; they can change while the mesh runs.
type Faults struct {
	mu     sync.RWMutex
	byKey  map[string]Fault
	exists func(namespace, workload string) bool
	// version counts the changes, for what is derived from the faults.
	version uint64
}

// NewFaults holds faults for the workloads of mesh.
func NewFaults(mesh *Mesh) *Faults {
	return &Faults{byKey: map[string]Fault{}, exists: func(ns, name string) bool { return mesh.Workload(ns, name) != nil }}
}

// check tells whether fault can be set.
func (f *Faults) check(fault Fault) error {
	if err := fault.validate(); err != nil {
		return err
	}
	if !f.exists(fault.Namespace, fault.Workload) {
		return fmt.Errorf("no workload %s/%s in the mesh", fault.Namespace, fault.Workload)
	}
	return nil
}

// Set puts a fault in force, replacing any on the same workload.
func (f *Faults) Set(fault Fault) error {
	if err := f.check(fault); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byKey[fault.Namespace+"/"+fault.Workload] = fault
	f.version++
	return nil
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byKey = map[string]Fault{}
	f.version++
}

// Version changes whenever the faults do.
func (f *Faults) Version() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.version
}

// For returns the fault on workload w, or the zero Fault.
func (f *Faults) For(w *Workload) Fault {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.byKey[w.Key()]
}

// List returns the faults in force, sorted.
func (f *Faults) List() []Fault {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Fault, 0, len(f.byKey))
	for _, v := range f.byKey {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Workload < out[j].Namespace+"/"+out[j].Workload
	})
	return out
}

// errorCode is the HTTP code a failing request is answered with.
func (f Fault) errorCode() int {
	if f.ErrorCode == 0 {
		return http.StatusInternalServerError
	}
	return f.ErrorCode
}

// fails draws whether one request fails under the fault.
func (f Fault) fails() bool { return f.ErrorRate > 0 && rand.Float64() < f.ErrorRate }

// aborts draws whether a caller's sidecar aborts one call under the fault.
func (f Fault) aborts() bool { return f.Abort > 0 && rand.Float64() < f.Abort }

// ServeHTTP is the fault API: GET lists the faults, PUT (a JSON Fault, or a
// list of them) sets, DELETE clears all.
func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut, http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFaultBody))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes; a list of faults is a few hundred", maxFaultBody))
			return
		case err != nil:
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("reading body: %v", err))
			return
		}
		list, err := decodeFaults(body)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		// All or nothing: a list with one bad fault changes nothing.
		for _, fault := range list {
			if err := f.check(fault); err != nil {
				writeJSONError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		for _, fault := range list {
			f.Set(fault)
		}
	case http.MethodDelete:
		f.Clear()
	default:
		w.Header().Set("Allow", "GET, PUT, POST, DELETE")
		writeJSONError(w, http.StatusMethodNotAllowed, "use GET, PUT, POST or DELETE")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"faults": f.List()})
}

// maxFaultBody bounds a fault request's body.
const maxFaultBody = 1 << 20

// decodeFaults reads a fault or a list of faults, and rejects fields a
// Fault does not have, naming them.
func decodeFaults(body []byte) ([]Fault, error) {
	trimmed := bytes.TrimSpace(body)
	var list []Fault
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var err error
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = dec.Decode(&list)
	} else {
		var one Fault
		err = dec.Decode(&one)
		list = []Fault{one}
	}
	if err != nil {
		return nil, fmt.Errorf("the body is not a fault or a list of faults ({\"namespace\", \"workload\", \"errorRate\", \"errorCode\", \"delay\", \"down\", \"abort\", \"injectDelay\"}): %v", err)
	}
	if dec.More() {
		return nil, errors.New("the body holds more than one JSON value; send a list of faults")
	}
	return list, nil
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": msg, "code": code})
}
