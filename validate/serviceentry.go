package validate

import (
	"fmt"
	"maps"
	"slices"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlens/meshlens/inventory"
)

func (v *validation) serviceEntries() {
	type use struct {
		o        *inventory.Object
		path     string
		protocol string
	}
	// host|port -> where it is defined (KIA1211, KIA1212)
	defined := map[string][]use{}
	for _, o := range v.snap.Of("ServiceEntry") {
		se := &o.Typed.(*networkingv1.ServiceEntry).Spec
		for i, h := range se.Hosts {
			for _, p := range se.Ports {
				if p == nil {
					continue
				}
				key := fmt.Sprintf("%s|%d", h, p.Number)
				defined[key] = append(defined[key], use{o, fmt.Sprintf("spec/hosts[%d]", i), p.Protocol})
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(defined)) {
		uses := defined[key]
		distinct := map[*inventory.Object]bool{}
		protos := map[string]bool{}
		for _, u := range uses {
			distinct[u.o] = true
			protos[u.protocol] = true
		}
		if len(distinct) < 2 {
			continue
		}
		for _, u := range uses {
			var objs []*inventory.Object
			for _, x := range uses {
				objs = append(objs, x.o)
			}
			if len(protos) > 1 {
				v.add(KIA1212, u.o, u.path, "%s is %s here but another protocol in %s", key, u.protocol, others(objs, u.o))
			} else {
				v.add(KIA1211, u.o, u.path, "%s is also defined by %s", key, others(objs, u.o))
			}
		}
	}
}
