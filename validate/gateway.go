package validate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlens/meshlens/inventory"
)

func (v *validation) gateways() {
	// selector|host|port -> gateways serving it (KIA0301)
	serving := map[string][]*inventory.Object{}
	type place struct {
		o    *inventory.Object
		path string
	}
	paths := map[string][]place{}
	for _, o := range v.snap.Of("Gateway") {
		gw := &o.Typed.(*networkingv1.Gateway).Spec
		if len(gw.Selector) > 0 && len(v.snap.WorkloadsIn("", gw.Selector)) == 0 {
			// Gateway pods usually live in another namespace
			// (istio-system), so all namespaces are searched.
			v.add(KIA0302, o, "spec/selector", "no workload has labels %s", labels.SelectorFromSet(gw.Selector))
		}
		sel := labels.SelectorFromSet(gw.Selector).String()
		for i, s := range gw.Servers {
			if s == nil || s.Port == nil {
				continue
			}
			for j, h := range s.Hosts {
				_, host := splitRef(h, "")
				key := fmt.Sprintf("%s|%s|%d", sel, host, s.Port.Number)
				serving[key] = append(serving[key], o)
				paths[key] = append(paths[key], place{o, fmt.Sprintf("spec/servers[%d]/hosts[%d]", i, j)})
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(serving)) {
		objs := serving[key]
		distinct := map[*inventory.Object]bool{}
		for _, o := range objs {
			distinct[o] = true
		}
		if len(distinct) < 2 {
			continue
		}
		parts := strings.Split(key, "|")
		for _, p := range paths[key] {
			v.add(KIA0301, p.o, p.path, "host %s port %s is also served by %s", parts[1], parts[2], others(objs, p.o))
		}
	}
}
