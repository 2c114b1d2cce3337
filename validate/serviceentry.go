package validate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlens/meshlens/inventory"
)

func (v *validation) serviceEntries() {
	type use struct {
		o        *inventory.Object
		port     int
		protocol string
	}
	// host|port -> each ServiceEntry port declaring it (KIA1211, KIA1212)
	defined := map[string][]use{}
	for _, o := range v.snap.Of("ServiceEntry") {
		se := &o.Typed.(*networkingv1.ServiceEntry).Spec
		for i, p := range se.Ports {
			if p == nil {
				continue
			}
			if !portNameMatches(p.Name, p.Protocol) {
				v.add(KIA0601, o, fmt.Sprintf("spec/ports[%d]/name", i), "port name %q does not start with its protocol %s", p.Name, p.Protocol)
			}
			for _, h := range se.Hosts {
				key := fmt.Sprintf("%s|%d", h, p.Number)
				defined[key] = append(defined[key], use{o, i, strings.ToUpper(p.Protocol)})
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(defined)) {
		uses := defined[key]
		if len(uses) < 2 {
			continue
		}
		check := KIA1211
		for _, u := range uses[1:] {
			if u.protocol != uses[0].protocol {
				check = KIA1212
			}
		}
		objs := make([]*inventory.Object, len(uses))
		for i, u := range uses {
			objs[i] = u.o
		}
		host, port, _ := strings.Cut(key, "|")
		for _, u := range uses {
			v.add(check, u.o, fmt.Sprintf("spec/ports[%d]", u.port), "host %s port %s (%s) is also declared by %s", host, port, u.protocol, others(objs, u.o))
		}
	}
}

// portNameMatches tells whether a ServiceEntry port's name is
// <protocol>[-suffix] for its own protocol; TCP and UDP ports may have any name.
func portNameMatches(name, protocol string) bool {
	protocol = strings.ToLower(protocol)
	if protocol == "tcp" || protocol == "udp" {
		return true
	}
	rest, ok := strings.CutPrefix(name, protocol)
	return ok && (rest == "" || (len(rest) > 1 && rest[0] == '-'))
}
