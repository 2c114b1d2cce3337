package validate

import (
	"fmt"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
)

func (v *validation) sidecars() {
	for _, o := range v.snap.Of("Sidecar") {
		sc := &o.Typed.(*networkingv1.Sidecar).Spec
		// Istio reads an unset mode as REGISTRY_ONLY, its enum's zero, and
		// cannot tell it from one written so (KIA1007).
		if sc.OutboundTrafficPolicy != nil && sc.OutboundTrafficPolicy.Mode.Number() == 0 {
			v.add(KIA1007, o, "spec/outboundTrafficPolicy", "mode reads as %s whether or not it is written", sc.OutboundTrafficPolicy.Mode)
		}
		if o.Namespace == v.opts.RootNamespace && sc.WorkloadSelector != nil && len(sc.WorkloadSelector.Labels) > 0 {
			v.add(KIA1006, o, "spec/workloadSelector", "a Sidecar in %s is the mesh-wide default", v.opts.RootNamespace)
		}
		for i, eg := range sc.Egress {
			if eg == nil {
				continue
			}
			for j, h := range eg.Hosts {
				ns, host := splitRef(h, o.Namespace)
				if ns == "." {
					ns = o.Namespace
				}
				if ns == "*" || ns == "~" || host == "*" || strings.HasPrefix(host, "*") {
					continue
				}
				if !v.registry.exists(host, ns) {
					v.add(KIA1004, o, fmt.Sprintf("spec/egress[%d]/hosts[%d]", i, j), "host %q not found", h)
				}
			}
		}
	}
}
