package console

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/validate"
)

const brokenReviews = `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-canary, namespace: bookinfo}
spec:
  hosts: [reviews-canary.example.com]
  http:
    - route:
        - destination: {host: reviews, subset: v4}
`

func TestValidationsAPI(t *testing.T) {
	b, err := os.ReadFile("../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects, errs := inventory.Parse("bookinfo.yaml", append(b, brokenReviews...))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	snap := inventory.NewSnapshot(objects)
	reg := prometheus.NewRegistry()
	srv := New(graph.NewBuilder(&seenQueries{}, nil), nil).WithInventory(inventory.NewStatic(snap), validate.Options{}, reg)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	t.Run("the namespace's objects come with their checks", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/istio/validations?namespaces=bookinfo")
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		list := body["validations"].([]any)
		invalid, total := 0, 0
		for _, item := range list {
			v := item.(map[string]any)
			total++
			if v["namespace"] != "bookinfo" {
				t.Errorf("object of namespace %v", v["namespace"])
			}
			checks := v["checks"].([]any)
			if v["name"] == "reviews-canary" {
				invalid++
				c := checks[0].(map[string]any)
				if len(checks) != 1 || c["code"] != "KIA1107" || c["severity"] != "warning" || c["path"] != "spec/http[0]/route[0]/destination/subset" || v["valid"] != true {
					t.Errorf("reviews-canary: %v", v)
				}
			} else if len(checks) != 0 {
				t.Errorf("%v has checks", v)
			}
		}
		if invalid != 1 || total < 10 {
			t.Errorf("%d objects, %d with findings", total, invalid)
		}
		if got := testutil.ToFloat64(srv.validations.gauge.WithLabelValues("KIA1107", "warning")); got != 1 {
			t.Errorf("meshlens_validations{code=KIA1107,severity=warning} = %v", got)
		}
	})
	t.Run("one object", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/namespaces/bookinfo/istio/virtualservices/reviews/validations")
		if code != 200 || body["name"] != "reviews" || body["valid"] != true {
			t.Errorf("%d %v", code, body)
		}
		code, body = getJSON(t, ts.URL+"/api/namespaces/bookinfo/istio/DestinationRule/nothere/validations")
		if code != 404 || !strings.Contains(body["error"].(string), "nothere") {
			t.Errorf("%d %v", code, body)
		}
	})
	t.Run("the Istio config list carries each object's validation", func(t *testing.T) {
		code, body := getJSON(t, ts.URL+"/api/namespaces/bookinfo/istio")
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		items := body["items"].([]any)
		kinds := map[string]int{}
		for _, it := range items {
			m := it.(map[string]any)
			kinds[m["kind"].(string)]++
			v := m["validation"].(map[string]any)
			if m["name"] == "reviews-canary" && len(v["checks"].([]any)) != 1 {
				t.Errorf("reviews-canary: %v", v)
			}
		}
		if kinds["VirtualService"] != 6 || kinds["DestinationRule"] != 4 || kinds["Gateway"] != 1 || kinds["PeerAuthentication"] != 1 || kinds["Service"] != 0 {
			t.Errorf("kinds %v", kinds)
		}
	})
	t.Run("a namespace with PromQL in it is a 400", func(t *testing.T) {
		code, _ := getJSON(t, ts.URL+"/api/istio/validations?namespaces="+urlEscape(`a"}`))
		if code != 400 {
			t.Errorf("%d", code)
		}
	})
	t.Run("without inventory it is a 404 that says why", func(t *testing.T) {
		bare := httptest.NewServer(New(graph.NewBuilder(&seenQueries{}, nil), nil).Handler())
		defer bare.Close()
		code, body := getJSON(t, bare.URL+"/api/istio/validations")
		if code != 404 || !strings.Contains(body["error"].(string), "inventory") {
			t.Errorf("%d %v", code, body)
		}
	})
}

func TestGraphNodesCarryValidation(t *testing.T) {
	b, err := os.ReadFile("../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	extra := "\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: details-v9, namespace: bookinfo}\nspec:\n  host: details\n  subsets: [{name: v9, labels: {version: v9}}]\n" +
		// a route uses the subset, which makes its missing workload an error (unknown otherwise, as in Kiali)
		"---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: canary, namespace: bookinfo}\nspec:\n  hosts: [canary.example]\n  http: [{route: [{destination: {host: details, subset: v9}}]}]\n"
	objects, errs := inventory.Parse("bookinfo.yaml", append(b, extra...))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	snap := inventory.NewSnapshot(objects)
	srv := New(graph.NewBuilder(&manyEdges{}, nil), nil).WithInventory(inventory.NewStatic(snap), validate.Options{}, nil)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	code, body := getJSON(t, ts.URL+"/api/namespaces/graph?namespaces=bookinfo&graphType=workload&injectServiceNodes=true")
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	marked := 0
	for _, n := range body["elements"].(map[string]any)["nodes"].([]any) {
		d := n.(map[string]any)["data"].(map[string]any)
		if d["validation"] != nil {
			marked++
			if d["nodeType"] != "service" || d["service"] != "details" || d["validation"] != "error" {
				t.Errorf("node %v", d)
			}
		}
	}
	if marked != 1 {
		t.Errorf("%d nodes carry a validation, want the details service", marked)
	}
}
