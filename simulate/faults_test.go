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
		{"an error code that is not an HTTP error is an error", "faults:\n  - {namespace: bookinfo, workload: x, errorRate: 0.1, errorCode: 302}\n", "400 to 599", nil},
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
		{"an unknown field is a 400 that names it", "PUT", `{"namespace":"bookinfo","workload":"details-v1","errorPercent":50}`, 400, `errorPercent`},
		{"an abort share above one is a 400", "PUT", `{"namespace":"bookinfo","workload":"details-v1","abort":2}`, 400, `between 0 and 1`},
		{"a body over 1 MiB is a 413", "PUT", `[` + strings.Repeat(`{"namespace":"bookinfo","workload":"details-v1"},`, 30000) + `{}]`, 413, `"code":413`},
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

func TestTheEmitterBehavesLikeEnvoy(t *testing.T) {
	mesh := Bookinfo()
	e, err := NewEmitter(EmitterOptions{Mesh: mesh, Rate: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	scrape := func(w string) []sample {
		return scrapeSidecar(t, "http://"+e.listener.Addr().String()+"/pods/bookinfo/"+mesh.Workload("bookinfo", w).Pod()+"/stats/prometheus")
	}
	e.Faults().Set(Fault{Namespace: "bookinfo", Workload: "ratings-v1", ErrorRate: 1})
	e.Faults().Set(Fault{Namespace: "bookinfo", Workload: "details-v1", InjectDelay: Duration(time.Millisecond)})
	e.Faults().Set(Fault{Namespace: "bookinfo", Workload: "reviews-v1", Abort: 1})
	e.Advance(10 * time.Second)
	t.Run("retries: each attempt at the destination, one URX at the caller", func(t *testing.T) {
		calls := sum(scrape("reviews-v2"), "istio_requests_total", map[string]string{"reporter": "source", "response_code": "500", "response_flags": "URX"})
		attempts := sum(scrape("ratings-v1"), "istio_requests_total", map[string]string{"reporter": "destination", "source_workload": "reviews-v2", "response_code": "500"})
		if calls == 0 || attempts != 3*calls {
			t.Errorf("%v calls, %v attempts; want three attempts a call", calls, attempts)
		}
	})
	t.Run("a delay: DI at the caller only", func(t *testing.T) {
		delayed := sum(scrape("productpage-v1"), "istio_requests_total", map[string]string{"reporter": "source", "destination_workload": "details-v1", "response_flags": "DI"})
		plain := sum(scrape("details-v1"), "istio_requests_total", map[string]string{"reporter": "destination", "response_flags": "-"})
		if delayed == 0 || plain != delayed {
			t.Errorf("%v delayed at the caller, %v plain at the destination; want the same, not zero", delayed, plain)
		}
	})
	t.Run("an abort: FI at the caller, without the destination workload, nothing at the destination", func(t *testing.T) {
		aborted := sum(scrape("productpage-v1"), "istio_requests_total", map[string]string{"reporter": "source", "destination_service_name": "reviews", "destination_workload": "unknown", "response_flags": "FI"})
		reached := sum(scrape("reviews-v1"), "istio_requests_total", map[string]string{"reporter": "destination"})
		if aborted == 0 || reached != 0 {
			t.Errorf("%v aborted, %v reached reviews-v1; want some and none", aborted, reached)
		}
	})
}
