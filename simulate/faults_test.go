package simulate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadScenario(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		wantErr string
		want    []Fault
	}{
		{"a scenario with two faults loads", "faults:\n  - {namespace: bookinfo, workload: reviews-v2, errorRate: 0.5, delay: 200ms}\n  - {namespace: bookinfo, workload: details-v1, down: true}\n", "",
			[]Fault{{Namespace: "bookinfo", Workload: "reviews-v2", ErrorRate: 0.5, Delay: Duration(200 * time.Millisecond)}, {Namespace: "bookinfo", Workload: "details-v1", Down: true}}},
		{"an empty file is no fault", "", "", nil},
		{"an unknown field is an error", "faults:\n  - {namespace: bookinfo, workload: x, errorrate: 1}\n", "errorrate", nil},
		{"an error rate above one is an error", "faults:\n  - {namespace: bookinfo, workload: x, errorRate: 2}\n", "between 0 and 1", nil},
		{"a delay that is not a duration is an error", "faults:\n  - {namespace: bookinfo, workload: x, delay: soon}\n", "soon", nil},
		{"a fault without a workload is an error", "faults:\n  - {namespace: bookinfo}\n", "needs namespace and workload", nil},
		{"not YAML is an error", "faults: [\n", "scenario", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "scenario.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o644)
			sc, err := LoadScenario(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Faults) != len(tc.want) {
				t.Fatalf("got %+v", sc.Faults)
			}
			for i := range tc.want {
				if sc.Faults[i] != tc.want[i] {
					t.Errorf("fault %d: %+v, want %+v", i, sc.Faults[i], tc.want[i])
				}
			}
		})
	}
}

func TestFaultAPI(t *testing.T) {
	e, err := NewEmitter(EmitterOptions{Mesh: Bookinfo()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv := httptest.NewServer(ControlHandler(e))
	defer srv.Close()
	do := func(method, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/api/simulate/faults", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		b, _ := json.Marshal(v)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name, method, body string
		code               int
		want               string
	}{
		{"PUT sets a fault", "PUT", `{"namespace":"bookinfo","workload":"reviews-v2","errorRate":0.5,"delay":"150ms"}`, 200, `"delay":"150ms"`},
		{"GET lists it", "GET", "", 200, `"workload":"reviews-v2"`},
		{"a list sets several", "PUT", `[{"namespace":"bookinfo","workload":"details-v1","down":true}]`, 200, `"down":true`},
		{"a workload that does not exist is a 400", "PUT", `{"namespace":"bookinfo","workload":"nope","down":true}`, 400, `no workload bookinfo/nope`},
		{"a bad delay is a 400", "PUT", `{"namespace":"bookinfo","workload":"details-v1","delay":"later"}`, 400, `"code":400`},
		{"garbage is a 400", "PUT", `}{`, 400, `"error"`},
		{"DELETE clears", "DELETE", "", 200, `"faults":[]`},
		{"PATCH is not allowed", "PATCH", "", 405, `"code":405`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.method, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s; want %d and %s", code, body, tc.code, tc.want)
			}
		})
	}
}

func TestScenarioTurnsMTLSOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	os.WriteFile(path, []byte("mtls:\n  bookinfo: false\n"), 0o644)
	sc, err := LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	mesh := Bookinfo()
	if err := sc.Apply(mesh); err != nil {
		t.Fatal(err)
	}
	sim, err := Start(Options{Mesh: mesh})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if code := NewLoadGenerator(sim, 0, nil).Send(context.Background(), mesh.Entrypoints[0]); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	samples := scrapeSidecar(t, "http://"+sim.pods[mesh.Workload("bookinfo", "details-v1")].adminAddr+"/stats/prometheus")
	match := map[string]string{"reporter": "destination", "connection_security_policy": "none", "source_principal": "unknown"}
	if got := sum(samples, "istio_requests_total", match); got != 1 {
		t.Errorf("%v plain-text requests at details, want 1", got)
	}
	bad := &Scenario{MTLS: map[string]bool{"nowhere": true}}
	if err := bad.Apply(Bookinfo()); err == nil {
		t.Error("a namespace not in the mesh is not an error")
	}
}
