package cluster

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/meshlens/meshlens/inventory"
)

// TestKubernetesAndFilesAgree puts bookinfo's manifests in client-go's fake
// clientsets and checks that the informer-backed inventory answers what the
// file-backed one does.
func TestKubernetesAndFilesAgree(t *testing.T) {
	// Istio's generated fake clientset does not stream initial lists with
	// bookmarks, which client-go's informers now ask for; a real API
	// server does. Plain lists for the fake.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	b, err := os.ReadFile("../../simulate/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects, errs := inventory.Parse("bookinfo.yaml", append(b, gatewayAPIAndWorkloadGroups...))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	fromFiles := inventory.NewSnapshot(objects)

	var kubeObjs []runtime.Object
	istio := istiofake.NewSimpleClientset()
	gateway := gatewayfake.NewSimpleClientset()
	for _, o := range objects {
		ro := o.Typed.(runtime.Object)
		if o.Group == inventory.GatewayAPIGroup {
			gvr := schema.GroupVersionResource{Group: o.Group, Version: o.Version, Resource: gatewayResources[o.Kind]}
			if err := gateway.Tracker().Create(gvr, ro, o.Namespace); err != nil {
				t.Fatalf("%s: %v", o.ID(), err)
			}
			continue
		}
		if !strings.HasSuffix(o.Group, "istio.io") {
			kubeObjs = append(kubeObjs, ro)
			continue
		}
		// Through the tracker with the resource named: the fake's own
		// guess turns Gateway into "gatewaies", where its lists never look.
		gvr := schema.GroupVersionResource{Group: o.Group, Version: "v1", Resource: istioResources[o.Kind]}
		if err := istio.Tracker().Create(gvr, ro, o.Namespace); err != nil {
			t.Fatalf("%s: %v", o.ID(), err)
		}
	}
	k := NewKubernetes(kubefake.NewClientset(kubeObjs...), istio, gateway, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); k.Shutdown() }()
	if err := k.Start(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	fromCluster := k.Snapshot()

	summary := func(s *inventory.Snapshot) []string {
		var out []string
		for _, o := range s.Objects {
			out = append(out, o.Group+"/"+o.Kind+" "+o.Namespace+"/"+o.Name)
		}
		for _, w := range s.Workloads {
			out = append(out, "workload "+w.Namespace+"/"+w.Name+" app="+w.App+" version="+w.Version+" sa="+w.ServiceAccount+boolWord(w.Sidecar, " sidecar", ""))
		}
		for _, svc := range s.Services {
			out = append(out, "service "+svc.Namespace+"/"+svc.Name+" backends="+names(s.ServiceWorkloads(svc)))
		}
		out = append(out, "namespaces "+strings.Join(s.Namespaces(), ","))
		sort.Strings(out)
		return out
	}
	a, c := summary(fromFiles), summary(fromCluster)
	if strings.Join(a, "\n") != strings.Join(c, "\n") {
		t.Errorf("files:\n%s\n\ncluster:\n%s", strings.Join(a, "\n"), strings.Join(c, "\n"))
	}
	if len(fromCluster.Objects) != len(objects) {
		t.Errorf("%d objects from the cluster, %d from files", len(fromCluster.Objects), len(objects))
	}
}

func boolWord(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func names(ws []*inventory.Workload) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

var istioResources = map[string]string{
	"VirtualService": "virtualservices", "DestinationRule": "destinationrules", "Gateway": "gateways",
	"ServiceEntry": "serviceentries", "Sidecar": "sidecars", "WorkloadEntry": "workloadentries",
	"PeerAuthentication": "peerauthentications", "AuthorizationPolicy": "authorizationpolicies",
	"RequestAuthentication": "requestauthentications", "WorkloadGroup": "workloadgroups",
}

var gatewayResources = map[string]string{
	"Gateway": "gateways", "GatewayClass": "gatewayclasses", "HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes", "ReferenceGrant": "referencegrants",
}

// gatewayAPIAndWorkloadGroups are objects of the kinds bookinfo lacks.
const gatewayAPIAndWorkloadGroups = `
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio}
spec: {controllerName: istio.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  parentRefs: [{name: bookinfo-gateway}]
  rules: [{backendRefs: [{name: productpage, port: 9080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc, namespace: bookinfo}
spec:
  parentRefs: [{name: bookinfo-gateway}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-istio-system, namespace: bookinfo}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: istio-system}]
  to: [{group: "", kind: Service}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: ratings-vm, namespace: bookinfo}
spec:
  metadata: {labels: {app: ratings-vm}}
  template: {serviceAccount: bookinfo-ratings}
`
