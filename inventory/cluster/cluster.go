// Package cluster keeps the inventory of a running cluster with client-go
// informers. It lives apart from the file loader so that the loader stays
// small (and fast to fuzz).
package cluster

import (
	"context"
	"fmt"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"github.com/meshlens/meshlens/inventory"
)

// Kubernetes keeps the inventory of a cluster with client-go informers:
// one watch per kind, lists served from memory.
type Kubernetes struct {
	kube    informers.SharedInformerFactory
	istio   istioinformers.SharedInformerFactory
	gateway gatewayinformers.SharedInformerFactory // nil without the Gateway API
	// listers, in the order objects are listed.
	listers []func() ([]*inventory.Object, error)
}

// NewKubernetes watches the cluster through the clientsets; gateway is
// nil for a cluster without the Gateway API's CRDs.
func NewKubernetes(kube kubernetes.Interface, istio istioclient.Interface, gateway gatewayclient.Interface, resync time.Duration) *Kubernetes {
	k := &Kubernetes{
		kube:  informers.NewSharedInformerFactory(kube, resync),
		istio: istioinformers.NewSharedInformerFactory(istio, resync),
	}
	core, apps := k.kube.Core().V1(), k.kube.Apps().V1()
	net, sec := k.istio.Networking().V1(), k.istio.Security().V1()
	all := labels.Everything()
	add := func(group, kind string, list func() ([]any, error)) {
		k.listers = append(k.listers, func() ([]*inventory.Object, error) {
			items, err := list()
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", kind, err)
			}
			out := make([]*inventory.Object, 0, len(items))
			for _, it := range items {
				out = append(out, fromCluster(group, kind, it))
			}
			return out, nil
		})
	}
	// Each lister is registered before Start so its informer runs.
	nsL, podL, svcL, saL := core.Namespaces().Lister(), core.Pods().Lister(), core.Services().Lister(), core.ServiceAccounts().Lister()
	depL, stsL, dsL, rsL := apps.Deployments().Lister(), apps.StatefulSets().Lister(), apps.DaemonSets().Lister(), apps.ReplicaSets().Lister()
	vsL, drL, gwL, seL, scL, weL := net.VirtualServices().Lister(), net.DestinationRules().Lister(), net.Gateways().Lister(), net.ServiceEntries().Lister(), net.Sidecars().Lister(), net.WorkloadEntries().Lister()
	wgL := net.WorkloadGroups().Lister()
	paL, apL, raL := sec.PeerAuthentications().Lister(), sec.AuthorizationPolicies().Lister(), sec.RequestAuthentications().Lister()
	add("", "Namespace", func() ([]any, error) { return asAny(nsL.List(all)) })
	add("", "Pod", func() ([]any, error) { return asAny(podL.List(all)) })
	add("", "Service", func() ([]any, error) { return asAny(svcL.List(all)) })
	add("", "ServiceAccount", func() ([]any, error) { return asAny(saL.List(all)) })
	add("apps", "Deployment", func() ([]any, error) { return asAny(depL.List(all)) })
	add("apps", "StatefulSet", func() ([]any, error) { return asAny(stsL.List(all)) })
	add("apps", "DaemonSet", func() ([]any, error) { return asAny(dsL.List(all)) })
	add("apps", "ReplicaSet", func() ([]any, error) { return asAny(rsL.List(all)) })
	add("networking.istio.io", "VirtualService", func() ([]any, error) { return asAny(vsL.List(all)) })
	add("networking.istio.io", "DestinationRule", func() ([]any, error) { return asAny(drL.List(all)) })
	add("networking.istio.io", "Gateway", func() ([]any, error) { return asAny(gwL.List(all)) })
	add("networking.istio.io", "ServiceEntry", func() ([]any, error) { return asAny(seL.List(all)) })
	add("networking.istio.io", "Sidecar", func() ([]any, error) { return asAny(scL.List(all)) })
	add("networking.istio.io", "WorkloadEntry", func() ([]any, error) { return asAny(weL.List(all)) })
	add("networking.istio.io", "WorkloadGroup", func() ([]any, error) { return asAny(wgL.List(all)) })
	add("security.istio.io", "PeerAuthentication", func() ([]any, error) { return asAny(paL.List(all)) })
	add("security.istio.io", "AuthorizationPolicy", func() ([]any, error) { return asAny(apL.List(all)) })
	add("security.istio.io", "RequestAuthentication", func() ([]any, error) { return asAny(raL.List(all)) })
	if gateway != nil {
		k.gateway = gatewayinformers.NewSharedInformerFactory(gateway, resync)
		g, gb := k.gateway.Gateway().V1(), k.gateway.Gateway().V1beta1()
		gL, gcL, hrL, grL, rgL := g.Gateways().Lister(), g.GatewayClasses().Lister(), g.HTTPRoutes().Lister(), g.GRPCRoutes().Lister(), gb.ReferenceGrants().Lister()
		add(inventory.GatewayAPIGroup, "Gateway", func() ([]any, error) { return asAny(gL.List(all)) })
		add(inventory.GatewayAPIGroup, "GatewayClass", func() ([]any, error) { return asAny(gcL.List(all)) })
		add(inventory.GatewayAPIGroup, "HTTPRoute", func() ([]any, error) { return asAny(hrL.List(all)) })
		add(inventory.GatewayAPIGroup, "GRPCRoute", func() ([]any, error) { return asAny(grL.List(all)) })
		add(inventory.GatewayAPIGroup, "ReferenceGrant", func() ([]any, error) { return asAny(rgL.List(all)) })
	}
	return k
}

func asAny[T any](items []T, err error) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out, err
}

// named is what every API object has.
type named interface {
	GetName() string
	GetNamespace() string
}

func fromCluster(group, kind string, item any) *inventory.Object {
	n := item.(named)
	return &inventory.Object{Group: group, Version: "v1", Kind: kind, Namespace: n.GetNamespace(), Name: n.GetName(),
		File: "kubernetes", Typed: item}
}

// Start runs the informers until ctx is done and waits for their first
// lists; it fails when they do not arrive within timeout.
func (k *Kubernetes) Start(ctx context.Context, timeout time.Duration) error {
	k.kube.Start(ctx.Done())
	k.istio.Start(ctx.Done())
	if k.gateway != nil {
		k.gateway.Start(ctx.Done())
	}
	wait, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for typ, ok := range k.kube.WaitForCacheSync(wait.Done()) {
		if !ok {
			return fmt.Errorf("kubernetes inventory: %v did not sync within %s", typ, timeout)
		}
	}
	for typ, ok := range k.istio.WaitForCacheSync(wait.Done()) {
		if !ok {
			return fmt.Errorf("kubernetes inventory: %v did not sync within %s (are Istio's CRDs installed?)", typ, timeout)
		}
	}
	if k.gateway != nil {
		for typ, ok := range k.gateway.WaitForCacheSync(wait.Done()) {
			if !ok {
				return fmt.Errorf("kubernetes inventory: %v did not sync within %s (are the Gateway API's CRDs installed?)", typ, timeout)
			}
		}
	}
	return nil
}

// Shutdown stops the informers and waits for them.
func (k *Kubernetes) Shutdown() {
	k.kube.Shutdown()
	k.istio.Shutdown()
	if k.gateway != nil {
		k.gateway.Shutdown()
	}
}

// Snapshot implements inventory.Source: the objects the informers hold now.
func (k *Kubernetes) Snapshot() *inventory.Snapshot {
	var objects []*inventory.Object
	for _, list := range k.listers {
		items, err := list()
		if err != nil {
			continue // a lister of an informer that has not synced
		}
		objects = append(objects, items...)
	}
	return inventory.NewSnapshot(objects)
}
