package simulate

import (
	"sort"
	"testing"

	"github.com/meshlens/meshlens/inventory"
	"github.com/meshlens/meshlens/validate"
)

func TestManifestsDescribeTheMesh(t *testing.T) {
	synthetic, err := Synthetic(SyntheticOptions{Services: 40, Namespaces: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for name, mesh := range map[string]*Mesh{"bookinfo": Bookinfo(), "synthetic": synthetic} {
		t.Run(name+" manifests load, list every workload and service, and validate clean", func(t *testing.T) {
			objects, errs := inventory.Parse(name+".yaml", mesh.Manifests())
			if len(errs) > 0 {
				t.Fatalf("load errors: %v", errs)
			}
			snap := inventory.NewSnapshot(objects)
			var want, got []string
			for _, w := range mesh.Workloads {
				want = append(want, w.Key())
			}
			for _, w := range snap.Workloads {
				got = append(got, w.Namespace+"/"+w.Name)
				if !w.Sidecar && !mesh.Workload(w.Namespace, w.Name).NoSidecar {
					t.Errorf("%s/%s has no sidecar in the manifests", w.Namespace, w.Name)
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if len(want) != len(got) {
				t.Fatalf("workloads in manifests %v, in the mesh %v", got, want)
			}
			for i := range want {
				if want[i] != got[i] {
					t.Errorf("workload %s in the manifests, %s in the mesh", got[i], want[i])
				}
			}
			inMesh := 0
			for _, s := range mesh.Services {
				if !s.External {
					inMesh++
				}
			}
			if len(snap.Services) != inMesh {
				t.Errorf("%d services in the manifests, %d in the mesh", len(snap.Services), inMesh)
			}
			for _, f := range validate.Run(snap, validate.Options{}) {
				t.Errorf("finding: %s %s/%s %s %s", f.Code, f.Namespace, f.Name, f.Path, f.Detail)
			}
		})
	}
}
