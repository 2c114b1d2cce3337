package validate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// protocols Istio recognises in port names and appProtocol.
var protocols = map[string]bool{
	"http": true, "http2": true, "https": true, "http-proxy": true, "grpc": true, "grpc-web": true,
	"tcp": true, "tls": true, "mongo": true, "mysql": true, "redis": true, "udp": true, "h2c": true,
}

func (v *validation) services() {
	for _, svc := range v.snap.Services {
		o := svc.Object
		backends := v.snap.ServiceWorkloads(svc)
		for i, p := range svc.Ports {
			path := fmt.Sprintf("spec/ports[%d]", i)
			if p.AppProtocol != nil {
				ap := strings.ToLower(*p.AppProtocol)
				if !protocols[ap] && !strings.Contains(ap, "/") {
					v.add(KIA0602, o, path+"/appProtocol", "appProtocol %q is not a protocol Istio knows", *p.AppProtocol)
				}
			} else if p.Name != "" {
				proto := strings.ToLower(strings.SplitN(p.Name, "-", 2)[0])
				if !protocols[proto] {
					v.add(KIA0601, o, path+"/name", "port name %q does not start with a protocol", p.Name)
				}
			}
			if len(backends) == 0 || p.TargetPort.Type == intstr.String {
				continue
			}
			target := p.TargetPort.IntVal
			if target == 0 {
				target = p.Port
			}
			exposed := false
			for _, w := range backends {
				for _, cp := range w.ContainerPorts {
					exposed = exposed || cp == target
				}
			}
			if !exposed {
				v.add(KIA0701, o, path, "no workload behind %s exposes port %d", svc.Name, target)
			}
		}
	}
}
