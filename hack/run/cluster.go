/*
Copyright 2026 The jobkeeper Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

// Names of what a local run creates on the cluster, as config/default names them.
const (
	operatorNamespace  = "jobkeeper-system"
	resultsServiceName = "jobkeeper-results"
	resultsPort        = 8443
)

// runOnCluster brings the local cluster up and runs the manager on this host against it.
func runOnCluster(ctx context.Context, root, manager string, args []string) error {
	state := filepath.Join(root, ".state", "cluster")
	if dir := os.Getenv("CLUSTER_STATE"); dir != "" {
		state = dir
	}
	fmt.Println("bringing the local cluster up (hack/cluster/up.sh); the first time builds its components")
	up := exec.CommandContext(ctx, filepath.Join(root, "hack", "cluster", "up.sh"))
	up.Dir, up.Stdout, up.Stderr = root, os.Stdout, os.Stderr
	up.Env = append(os.Environ(), "CLUSTER_STATE="+state)
	if err := up.Run(); err != nil {
		return fmt.Errorf("bringing the local cluster up: %w", err)
	}
	kubeconfig := filepath.Join(state, "kubeconfig", "admin.kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return err
	}
	var deployed appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: "jobkeeper-controller-manager"}, &deployed); err == nil {
		return errors.New("the operator is deployed on the local cluster (make cluster-deploy); " +
			"remove it with `make undeploy KUBECONFIG=" + kubeconfig + "` before running it locally")
	}

	fmt.Println("installing the CRDs")
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: utils.CRDPaths(), ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("installing the CRDs: %w", err)
	}
	wh := &envtest.WebhookInstallOptions{Paths: utils.WebhookPaths(), LocalServingHost: "127.0.0.1"}
	if err := wh.Install(cfg); err != nil {
		return fmt.Errorf("installing the webhook configurations: %w", err)
	}
	defer removeWebhooks(c, wh)

	hostIP, err := nodeAddress(ctx, c)
	if err != nil {
		return err
	}
	if err := routeResults(ctx, c, hostIP); err != nil {
		return err
	}
	defer unrouteResults(c)

	stateDir := filepath.Join(root, ".state", "run")
	fmt.Printf("the local cluster is up; use it with:\n  export KUBECONFIG=%s\n"+
		"then, for instance: kubectl apply -f config/samples/ && kubectl get qjobs,rjobs,njobs,pods -A\n"+
		"the cluster stays up after the manager stops; stop it with: make cluster-down\n", kubeconfig)
	return runManager(ctx, manager, append([]string{
		"--kubeconfig=" + kubeconfig,
		"--webhook-port=" + strconv.Itoa(wh.LocalServingPort),
		"--webhook-cert-path=" + wh.LocalServingCertDir,
		"--metrics-bind-address=:8080",
		"--operator-namespace=" + operatorNamespace,
		"--results-bind-address=:" + strconv.Itoa(resultsPort),
		"--report-dir=" + filepath.Join(stateDir, "reports"),
	}, args...), []string{"KUBECONFIG=" + kubeconfig})
}

// nodeAddress returns the InternalIP of the cluster's real node: job pods reach this host there.
func nodeAddress(ctx context.Context, c client.Client) (string, error) {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return "", fmt.Errorf("listing nodes: %w", err)
	}
	for _, n := range nodes.Items {
		if n.Annotations["kwok.x-k8s.io/node"] != "" {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				return a.Address, nil
			}
		}
	}
	return "", errors.New("the local cluster has no node with an InternalIP")
}

// routeResults points the results API Service at the manager on this host: a Service without a selector and
// an EndpointSlice with the host's address, so job pods reach it by its DNS name as in a deployment.
func routeResults(ctx context.Context, c client.Client, hostIP string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", operatorNamespace, err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: resultsServiceName}}
	if err := c.Get(ctx, client.ObjectKeyFromObject(svc), svc); err == nil && svc.Spec.Selector != nil {
		return fmt.Errorf("service %s/%s selects pods; it belongs to a deployed operator", operatorNamespace, resultsServiceName)
	}
	svc.Spec = corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443,
		TargetPort: intstr.FromInt32(resultsPort), Protocol: corev1.ProtocolTCP}}}
	if err := upsert(ctx, c, svc); err != nil {
		return err
	}
	ready := true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: resultsServiceName + "-local",
			Labels: map[string]string{discoveryv1.LabelServiceName: resultsServiceName,
				discoveryv1.LabelManagedBy: "jobkeeper-local-run"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{hostIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports: []discoveryv1.EndpointPort{{Name: new("https"), Port: new(int32(resultsPort)),
			Protocol: new(corev1.ProtocolTCP)}},
	}
	return upsert(ctx, c, slice)
}

// unrouteResults removes the Service and EndpointSlice that point at this host, so that a later deployment of
// the operator gets its own.
func unrouteResults(c client.Client) {
	ctx := context.Background()
	_ = c.Delete(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace,
		Name: resultsServiceName + "-local"}})
	_ = c.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: resultsServiceName}})
}

// upsert creates obj, or replaces the existing object's content with it.
func upsert(ctx context.Context, c client.Client, obj client.Object) error {
	obj.SetResourceVersion("")
	err := c.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) {
		cur := obj.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
			return err
		}
		obj.SetResourceVersion(cur.GetResourceVersion())
		err = c.Update(ctx, obj)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", obj.GetName(), err)
	}
	return nil
}

// removeWebhooks deletes the webhook configurations that point at this host, so that the cluster stays usable
// without the local manager.
func removeWebhooks(c client.Client, wh *envtest.WebhookInstallOptions) {
	ctx := context.Background()
	for _, m := range wh.MutatingWebhooks {
		_ = c.Delete(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: m.Name}})
	}
	for _, v := range wh.ValidatingWebhooks {
		_ = c.Delete(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: v.Name}})
	}
	_ = wh.Cleanup()
	fmt.Println("removed the webhook configurations of the local manager")
}
