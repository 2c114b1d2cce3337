package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshlens/meshlens/inventory"
)

// TestIstioBookinfoSampleFindings validates Istio's bookinfo sample as it
// ships (examples/bookinfo: the platform manifest and every networking
// alternative in one directory) and states every finding and load warning.
// What Kiali would say of the same objects in a cluster where they were
// applied in file order: the ingress gateway workload is missing (these
// files do not deploy it), and the subsets of versions that are not
// deployed and that no route uses are at the unknown level.
func TestIstioBookinfoSampleFindings(t *testing.T) {
	snap, loadErrs := inventory.Load([]string{"../examples/bookinfo"}, nil)
	const dir = "../examples/bookinfo/networking/"
	var gotLoad []string
	for _, e := range loadErrs {
		if !e.Warning {
			t.Errorf("load error: %v", e)
			continue
		}
		gotLoad = append(gotLoad, strings.TrimPrefix(e.File, dir)+fmt.Sprintf(":%d ", e.Line)+strings.Split(e.Err.Error(), ":")[0])
	}
	wantLoad := []string{
		"destination-rule-all-mtls.yaml:1 DestinationRule default/productpage is defined 2 times",
		"destination-rule-all-mtls.yaml:9 DestinationRule default/reviews is defined 3 times",
		"destination-rule-all-mtls.yaml:17 DestinationRule default/ratings is defined 2 times",
		"destination-rule-all-mtls.yaml:25 DestinationRule default/details is defined 2 times",
		"virtual-service-all-v1.yaml:9 VirtualService default/reviews is defined 5 times",
		"virtual-service-all-v1.yaml:17 VirtualService default/ratings is defined 4 times",
		"virtual-service-all-v1.yaml:25 VirtualService default/details is defined 2 times",
	}
	if strings.Join(gotLoad, "\n") != strings.Join(wantLoad, "\n") {
		t.Errorf("load warnings:\n%s\nwant:\n%s", strings.Join(gotLoad, "\n"), strings.Join(wantLoad, "\n"))
	}
	var got []string
	for _, f := range Run(snap, Options{}) {
		got = append(got, fmt.Sprintf("%s %s %s %s/%s %s", f.Code, f.Severity, f.Kind, f.Namespace, f.Name, f.Path))
	}
	want := []string{
		"KIA0302 warning Gateway default/bookinfo-gateway spec/selector",
		"KIA0203 unknown DestinationRule default/ratings spec/subsets[1]",
		"KIA0203 unknown DestinationRule default/ratings spec/subsets[2]",
		"KIA0203 unknown DestinationRule default/ratings spec/subsets[3]",
		"KIA0203 unknown DestinationRule default/details spec/subsets[1]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(snap.Objects); n != 25 {
		t.Errorf("%d objects kept, want 25: 14 of the platform, the gateway and its route, 4 rules, 4 routes and a ServiceEntry", n)
	}
}
