package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// caseNamespaces are the namespaces the cases' series name, which Kiali
// must find in the cluster.
var caseNamespaces = []string{"istio-system", "bookinfo", "shop", "frontend"}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// setup creates, in the cluster of kubeconfig, the custom resource
// definitions of crds (Istio's, which Kiali watches) and the namespaces;
// what exists already is left as it is.
func setup(ctx context.Context, kubeconfig, crds string, namespaces []string) error {
	cfg, kube, err := clients(kubeconfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(crds)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %w", crds, err)
		}
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if _, err := dyn.Resource(crdResource).Create(ctx, &u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("custom resource definition %s: %w", u.GetName(), err)
		}
	}
	for _, ns := range namespaces {
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	return nil
}

// created is when the last of the cases' namespaces was created.
func created(ctx context.Context, kubeconfig string) (time.Time, error) {
	_, kube, err := clients(kubeconfig)
	if err != nil {
		return time.Time{}, err
	}
	var last time.Time
	for _, name := range caseNamespaces {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return time.Time{}, fmt.Errorf("namespace %s: %w (run kialicompare setup first)", name, err)
		}
		if t := ns.CreationTimestamp.Time; t.After(last) {
			last = t
		}
	}
	return last, nil
}

// clients are the configuration and the clientset of kubeconfig's cluster.
func clients(kubeconfig string) (*rest.Config, *kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	return cfg, kube, err
}
