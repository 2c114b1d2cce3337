package validate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestReportsMatchGoldenFiles(t *testing.T) {
	snap, errs := inventory.Load([]string{"testdata/broken.yaml"}, nil)
	r := &Report{Findings: Run(snap, Options{}), LoadErrors: errs, Objects: len(snap.Objects)}
	for _, c := range []struct {
		golden string
		write  func(*bytes.Buffer) error
	}{
		{"broken.txt", func(b *bytes.Buffer) error { return r.WriteText(b) }},
		{"broken.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
		{"broken.sarif", func(b *bytes.Buffer) error { return r.WriteSARIF(b) }},
	} {
		t.Run(c.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := c.write(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.golden)
			if *update {
				os.WriteFile(path, buf.Bytes(), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the golden file:\n%s", path, buf.Bytes())
			}
		})
	}
	t.Run("the SARIF log has what code hosts need", func(t *testing.T) {
		var buf bytes.Buffer
		r.WriteSARIF(&buf)
		var log struct {
			Version string `json:"version"`
			Runs    []struct {
				Results []struct {
					RuleID    string `json:"ruleId"`
					Level     string `json:"level"`
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
							Region           struct{ StartLine int } `json:"region"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
			t.Fatal(err)
		}
		if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != len(r.Findings)+len(r.LoadErrors) {
			t.Fatalf("log %+v", log)
		}
		for _, res := range log.Runs[0].Results {
			loc := res.Locations[0].PhysicalLocation
			if loc.ArtifactLocation.URI != "testdata/broken.yaml" || loc.Region.StartLine == 0 || res.Level == "" {
				t.Errorf("result %+v", res)
			}
		}
	})
	t.Run("thresholds", func(t *testing.T) {
		if !r.Fails(Error) {
			t.Error("errors do not fail at the error threshold")
		}
		warnOnly := &Report{Findings: []Finding{{Severity: Warning}}}
		if warnOnly.Fails(Error) || !warnOnly.Fails(Warning) {
			t.Error("a warning fails at error, or passes at warning")
		}
	})
}

func TestByService(t *testing.T) {
	snap, _ := inventory.Load([]string{"testdata/broken.yaml"}, nil)
	got := ByService(snap, Run(snap, Options{}), Options{})
	if len(got) != 1 || got["shop/cart"] != Error {
		t.Errorf("by service %v, want shop/cart: error only (payments is no service)", got)
	}
}

// Istio's bookinfo ships one VirtualService in several alternative files:
// validating the directory must report the duplicate once, as a warning,
// and never compare the object with itself.
func TestAnObjectInSeveralFilesIsOneWarningAndNoSelfComparison(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "bookinfo.yaml"), b, 0o644)
	alternative := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews, subset: v2}}]}]\n"
	os.WriteFile(filepath.Join(dir, "virtual-service-reviews-v2.yaml"), []byte(alternative), 0o644)
	snap, loadErrs := inventory.Load([]string{dir}, nil)
	r := &Report{Findings: Run(snap, Options{}), LoadErrors: loadErrs, Objects: len(snap.Objects)}
	if len(r.Findings) != 0 {
		t.Errorf("findings:%s", describe(r.Findings))
	}
	c := r.Counts()
	if c[Warning] != 1 || c[Error] != 0 {
		t.Errorf("counts %v, want one warning", c)
	}
	if r.Fails(Error) || !r.Fails(Warning) {
		t.Errorf("the duplicate fails --fail-on error (%v) or passes --fail-on warning (%v)", r.Fails(Error), !r.Fails(Warning))
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	if !bytes.Contains(buf.Bytes(), []byte("warning: VirtualService bookinfo/reviews is defined 2 times")) || !bytes.Contains(buf.Bytes(), []byte("virtual-service-reviews-v2.yaml:1")) {
		t.Errorf("report:\n%s", buf.String())
	}
}
