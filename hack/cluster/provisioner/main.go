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

// Command provisioner is the local cluster's storage provisioner: it gives
// every PersistentVolumeClaim of the StorageClass "local" (the cluster's
// default) a hostPath PersistentVolume on the real node, under a directory of
// the cluster's state, and removes the directory and the volume once the
// claim is deleted. The operator's report volume is such a claim, so the e2e
// suite runs the shipped configuration.
//
// usage: provisioner --kubeconfig FILE --dir DIR --node NAME
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

const (
	className   = "local"
	provisioner = "jobkeeper.local/hostpath"
)

func main() {
	// --kubeconfig is controller-runtime's flag.
	var dir, node string
	flag.StringVar(&dir, "dir", "", "directory that holds the volumes")
	flag.StringVar(&node, "node", "", "the node the volumes are on")
	flag.Parse()
	ctrl.SetLogger(zap.New())
	if err := run(dir, node); err != nil {
		fmt.Fprintln(os.Stderr, "provisioner:", err)
		os.Exit(1)
	}
}

func run(dir, node string) error {
	if dir == "" || node == "" {
		return errors.New("--dir and --node are required")
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	if err := ensureClass(ctx, mgr.GetAPIReader(), mgr.GetClient()); err != nil {
		return err
	}
	p := &volumes{Client: mgr.GetClient(), dir: dir, node: node}
	if err := ctrl.NewControllerManagedBy(mgr).For(&corev1.PersistentVolumeClaim{}).Named("claims").
		Complete(reconcileFunc(p.claim)); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).For(&corev1.PersistentVolume{}).Named("volumes").
		Complete(reconcileFunc(p.volume)); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// ensureClass creates the default StorageClass "local".
func ensureClass(ctx context.Context, r client.Reader, c client.Client) error {
	if err := r.Get(ctx, client.ObjectKey{Name: className}, &storagev1.StorageClass{}); err == nil {
		return nil
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	mode := storagev1.VolumeBindingImmediate
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: className,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       provisioner,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &mode,
	}
	if err := c.Create(ctx, sc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating StorageClass %s: %w", className, err)
	}
	return nil
}

type reconcileFunc func(ctx context.Context, key client.ObjectKey) error

func (f reconcileFunc) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, f(ctx, req.NamespacedName)
}

type volumes struct {
	client.Client
	dir, node string
}

// claim provisions a volume for a pending claim of the class.
func (v *volumes) claim(ctx context.Context, key client.ObjectKey) error {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := v.Get(ctx, key, pvc); err != nil {
		return client.IgnoreNotFound(err)
	}
	if pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil || pvc.Spec.StorageClassName == nil ||
		*pvc.Spec.StorageClassName != className {
		return nil
	}
	name := "pvc-" + string(pvc.UID)
	path := filepath.Join(v.dir, name)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	// Any user of the pod may write, as with other host-path provisioners: the pods run as non-root users
	// that the provisioner cannot know.
	if err := os.Chmod(path, 0o777); err != nil {
		return err
	}
	hostPathType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              className,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &hostPathType}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{v.node}}}}}}},
		},
	}
	if err := v.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// volume removes a released volume of the class and its directory.
func (v *volumes) volume(ctx context.Context, key client.ObjectKey) error {
	pv := &corev1.PersistentVolume{}
	if err := v.Get(ctx, key, pv); err != nil {
		return client.IgnoreNotFound(err)
	}
	if pv.Annotations["pv.kubernetes.io/provisioned-by"] != provisioner || pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.HostPath == nil {
		return nil
	}
	path := filepath.Clean(pv.Spec.HostPath.Path)
	if !strings.HasPrefix(path, filepath.Clean(v.dir)+string(filepath.Separator)) {
		return fmt.Errorf("volume %s is outside %s", pv.Name, v.dir)
	}
	if err := os.RemoveAll(path); err != nil {
		return err
	}
	return client.IgnoreNotFound(v.Delete(ctx, pv))
}
