package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
)

const twoObjects = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: details-v1
  namespace: bookinfo
spec:
  template:
    metadata:
      labels: {app: details, version: v1}
      annotations: {sidecar.istio.io/inject: "true"}
    spec:
      containers:
        - name: details
          ports: [{containerPort: 9080}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: details
  namespace: bookinfo
spec:
  hosts: [details]
  http:
    - route:
        - destination:
            host: details
            subset: v1
`

func TestParseTypedObjectsWithLines(t *testing.T) {
	objects, errs := Parse("two.yaml", []byte(twoObjects))
	if len(errs) > 0 || len(objects) != 2 {
		t.Fatalf("objects %d, errors %v", len(objects), errs)
	}
	if _, ok := objects[0].Typed.(*appsv1.Deployment); !ok {
		t.Errorf("the Deployment is a %T", objects[0].Typed)
	}
	vs, ok := objects[1].Typed.(*networkingv1.VirtualService)
	if !ok || vs.Spec.Http[0].Route[0].Destination.Subset != "v1" {
		t.Fatalf("the v1alpha3 VirtualService did not read into the v1 type: %T", objects[1].Typed)
	}
	cases := []struct {
		path string
		line int
	}{
		{"spec/http[0]/route[0]/destination/subset", 27},
		{"spec/http[0]/route[0]/destination/host", 26},
		{"spec/http[0]/route[0]/destination", 25},
		{"spec/hosts", 22},
		{"spec/http[3]", 23}, // no such route: the deepest part that exists
		{"metadata/name", 19},
	}
	for _, c := range cases {
		if got := objects[1].LineOf(c.path); got != c.line {
			t.Errorf("LineOf(%s) = %d, want %d", c.path, got, c.line)
		}
	}
	w := NewSnapshot(objects).Workloads
	if len(w) != 1 || w[0].App != "details" || w[0].Version != "v1" || !w[0].Sidecar || w[0].ServiceAccount != "default" {
		t.Errorf("workload %+v", w)
	}
}

func TestBadInputIsAnErrorWithFileAndLine(t *testing.T) {
	cases := []struct {
		name     string
		yaml     string
		mentions string
		line     int
		loaded   int
	}{
		{"malformed YAML", "apiVersion: v1\nkind: Service\nmetadata: {name: x\n", "did not find", 2, 0},
		{"an unknown kind, then a good object", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n", "unknown kind", 1, 1},
		{"a version meshlens does not know", "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: v}\n", "version v2", 1, 0},
		{"duplicated keys", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n", "already defined", 5, 0},
		{"an alias bomb", aliasBomb(), "aliasing", 1, 0},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "kind are required", 1, 0},
		{"not a mapping", "- just\n- a list\n", "not a Kubernetes object", 1, 0},
		{"a spec of the wrong shape, then a good object", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec: {hosts: 7}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n", "VirtualService v", 1, 1},
		{"a syntax error costs only its own document", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [broken\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n", "did not find", 5, 2},
		{"a List", "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Namespace\n    metadata: {name: a}\n  - apiVersion: v1\n    kind: Namespace\n    metadata: {name: b}\n", "", 0, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objects, errs := Parse("f.yaml", []byte(c.yaml))
			if len(objects) != c.loaded {
				t.Errorf("%d objects loaded, want %d", len(objects), c.loaded)
			}
			if c.line == 0 {
				if len(errs) > 0 {
					t.Errorf("errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one", errs)
			}
			msg := errs[0].Error()
			if !strings.HasPrefix(msg, "f.yaml:") || !strings.Contains(msg, c.mentions) || errs[0].Line != c.line {
				t.Errorf("error %q (line %d), want f.yaml:%d mentioning %q", msg, errs[0].Line, c.line, c.mentions)
			}
		})
	}
}

func aliasBomb() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: bomb}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestLoadFilesAndDirectories(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "good.yaml"), []byte(twoObjects), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a manifest"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "ns.json"), []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bookinfo"}}`), 0o644)
	big := filepath.Join(dir, "big.yaml")
	f, _ := os.Create(big)
	f.Truncate(MaxFileSize + 1)
	f.Close()
	snap, errs := Load([]string{dir, filepath.Join(dir, "missing.yaml"), "-"}, strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: from-stdin}\n"))
	if len(snap.Objects) != 4 {
		t.Errorf("%d objects, want 4", len(snap.Objects))
	}
	if !snap.HasNamespace("from-stdin") || !snap.HasNamespace("bookinfo") {
		t.Errorf("namespaces %v", snap.Namespaces())
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	joined := strings.Join(msgs, "\n")
	if len(errs) != 2 || !strings.Contains(joined, "big.yaml") || !strings.Contains(joined, "larger than") || !strings.Contains(joined, "missing.yaml") {
		t.Errorf("errors:\n%s", joined)
	}
}

const portLevelMTLS = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  mtls: {mode: STRICT}
  portLevelMtls:
    8080:
      mode: DISABLE
    9090: {mode: PERMISSIVE}
`

func TestIntegerMapKeysLoad(t *testing.T) {
	objects, errs := Parse("pa.yaml", []byte(portLevelMTLS))
	if len(errs) > 0 || len(objects) != 1 {
		t.Fatalf("%d objects, errors %v", len(objects), errs)
	}
	pa := objects[0].Typed.(*securityv1.PeerAuthentication)
	if got := pa.Spec.PortLevelMtls[8080].GetMode().String(); got != "DISABLE" {
		t.Errorf("port 8080 mode %s, want DISABLE", got)
	}
	if got := pa.Spec.PortLevelMtls[9090].GetMode().String(); got != "PERMISSIVE" {
		t.Errorf("port 9090 mode %s, want PERMISSIVE", got)
	}
}

func TestRemovedAPIVersionsAreReadWithAWarning(t *testing.T) {
	for _, apiVersion := range []string{"extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"} {
		t.Run(apiVersion, func(t *testing.T) {
			doc := "apiVersion: " + apiVersion + "\nkind: Deployment\nmetadata: {name: old, namespace: shop}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: old, version: v1}}\n    spec: {containers: [{name: old, ports: [{containerPort: 9080}]}]}\n"
			objects, errs := Parse("old.yaml", []byte(doc))
			if len(objects) != 1 || len(errs) != 1 || !errs[0].Warning || !strings.Contains(errs[0].Error(), "removed") {
				t.Fatalf("%d objects, errors %v", len(objects), errs)
			}
			snap := NewSnapshot(objects)
			if len(snap.Workloads) != 1 || snap.Workloads[0].App != "old" || snap.Workloads[0].DesiredReplicas != 2 {
				t.Errorf("workloads %+v", snap.Workloads)
			}
		})
	}
}

func TestAnObjectDefinedTwiceIsKeptOnceAndReportedOnce(t *testing.T) {
	dir := t.TempDir()
	vs := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: bookinfo}\nspec: {hosts: [reviews], http: [{route: [{destination: {host: reviews, subset: %s}}]}]}\n"
	for i, subset := range []string{"v1", "v2", "v3"} {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("virtual-service-reviews-%d.yaml", i)), []byte(fmt.Sprintf(vs, subset)), 0o644)
	}
	snap, errs := Load([]string{dir}, nil)
	if n := len(snap.Of("VirtualService")); n != 1 {
		t.Errorf("%d VirtualServices kept, want 1", n)
	}
	if len(errs) != 1 || !errs[0].Warning {
		t.Fatalf("errors %v, want one warning", errs)
	}
	msg := errs[0].Error()
	for _, want := range []string{"virtual-service-reviews-0.yaml:1", "defined 3 times", "virtual-service-reviews-1.yaml:1", "virtual-service-reviews-2.yaml:1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q does not say %q", msg, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(twoObjects))
	f.Add([]byte(portLevelMTLS))
	f.Add([]byte(twoObjects + "---\n" + twoObjects))
	f.Add([]byte(aliasBomb()))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Namespace, metadata: {name: a}}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		objects, _ := Parse("fuzz.yaml", b)
		snap := NewSnapshot(objects)
		for _, o := range snap.Objects {
			o.LineOf("spec/http[0]/route[0]/destination/subset")
		}
	})
}
