//go:build bench

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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	batchv1 "k8s.io/api/batch/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// prepareWebhooks generates a CA and a serving certificate for 127.0.0.1 (and localhost) into dir/webhook-certs
// (tls.crt, tls.key, as the manager's --webhook-cert-path expects them), picks a free port, and rewrites the
// webhook configurations of config/webhook/manifests.yaml to clientConfig.url https://127.0.0.1:<port><path> with
// the CA as caBundle, as envtest does for the integration tests. Nothing is installed yet.
func prepareWebhooks(dir string) (*envtest.WebhookInstallOptions, string, error) {
	hooks := &envtest.WebhookInstallOptions{
		Paths:            []string{filepath.Join(utils.WebhookPaths()[0], "manifests.yaml")},
		LocalServingHost: "127.0.0.1",
	}
	if err := hooks.PrepWithoutInstalling(); err != nil {
		return nil, "", fmt.Errorf("preparing the webhook configurations: %w", err)
	}
	// envtest writes the certificate into a directory of its own under $TMPDIR; keep it with the work directory.
	certDir, err := os.MkdirTemp(dir, "webhook-certs-")
	if err != nil {
		return nil, "", err
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		data, err := os.ReadFile(filepath.Join(hooks.LocalServingCertDir, f))
		if err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(filepath.Join(certDir, f), data, 0o600); err != nil {
			return nil, "", err
		}
	}
	if err := hooks.Cleanup(); err != nil {
		return nil, "", err
	}
	hooks.LocalServingCertDir = certDir
	if len(hooks.MutatingWebhooks) == 0 || len(hooks.ValidatingWebhooks) == 0 {
		return nil, "", errors.New("config/webhook/manifests.yaml: no mutating or no validating webhook configuration")
	}
	return hooks, certDir, nil
}

// installWebhooks creates the webhook configurations once, and waits until the API server has them.
func (cl *cluster) installWebhooks() error {
	if cl.webhooksInstalled {
		return nil
	}
	if err := cl.webhooks.Install(cl.cfg); err != nil {
		return fmt.Errorf("installing the webhook configurations: %w", err)
	}
	cl.webhooksInstalled = true
	return nil
}

// twinGroup is the API group of the plain client's twins of ReactiveJob and QuarksJob: the same schema under a
// group the manager does not watch and no webhook admits.
const twinGroup = "plain.bench.jobkeeper.io"

// twinCRDs are the CRDs of ReactiveJob and QuarksJob from config/crd/bases with their group rewritten to
// twinGroup (short names and categories dropped): the API server validates a twin's create and status write
// against the same schema, and the manager never sees a twin.
func twinCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, file := range []string{"batch.cs.sap.com_reactivejobs.yaml", "quarks.cloudfoundry.org_quarksjobs.yaml"} {
		data, err := os.ReadFile(filepath.Join(utils.CRDPaths()[0], file))
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		crd.Spec.Group = twinGroup
		crd.Name = crd.Spec.Names.Plural + "." + twinGroup
		crd.Spec.Names.ShortNames, crd.Spec.Names.Categories = nil, nil
		crd.Spec.Conversion = nil
		out = append(out, crd)
	}
	return out, nil
}

// twinGVK is the kind of the twin of kind (ReactiveJob, QuarksJob).
func twinGVK(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: twinGroup, Version: "v1alpha1", Kind: kind}
}

// twin is the plain client's copy of obj (a ReactiveJob or QuarksJob) as an object of twinGroup.
func twin(obj client.Object, kind string) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(twinGVK(kind))
	return u, nil
}

// twinJob is a Job controlled by the twin u.
func twinJob(u *unstructured.Unstructured, name string, spec batchv1.JobSpec) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: u.GetNamespace(),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(),
				UID: u.GetUID(), Controller: new(true), BlockOwnerDeletion: new(true)}}},
		Spec: spec,
	}
}

// patchTwinStatus writes the status of the twin u once (a merge patch of its status subresource).
func (cl *cluster) patchTwinStatus(ctx context.Context, u *unstructured.Unstructured, status any) error {
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	return cl.c.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, data))
}

// runningConditions are the conditions the operator writes once an object's Job is created: Ready False and
// Reconciling True, reason and message naming the Job.
func runningConditions(job string, generation int64) []metav1.Condition {
	now := metav1.Now()
	msg := "Job " + job + " is running"
	return []metav1.Condition{
		{Type: "Ready", Status: metav1.ConditionFalse, Reason: "JobRunning", Message: msg,
			ObservedGeneration: generation, LastTransitionTime: now},
		{Type: "Reconciling", Status: metav1.ConditionTrue, Reason: "JobRunning", Message: msg,
			ObservedGeneration: generation, LastTransitionTime: now},
	}
}

// reactiveJobRunningStatus is a ReactiveJob's status as the operator writes it when it has created job.
func reactiveJobRunningStatus(job string, generation int64) batchv1alpha1.ReactiveJobStatus {
	return batchv1alpha1.ReactiveJobStatus{Conditions: runningConditions(job, generation), ObservedGeneration: generation,
		State: batchv1alpha1.ReactiveJobStateProcessing, CurrentJobName: job}
}

// quarksJobRunningStatus is a QuarksJob's status as the operator writes it when it has started run number run
// with job.
func quarksJobRunningStatus(job string, generation, run int64, trigger quarksv1alpha1.RunTrigger) quarksv1alpha1.QuarksJobStatus {
	now := metav1.Now()
	return quarksv1alpha1.QuarksJobStatus{Conditions: runningConditions(job, generation), ObservedGeneration: generation,
		LastReconcile: &now, RunCount: run,
		LastRun: &quarksv1alpha1.RunStatus{Name: job, Result: quarksv1alpha1.RunResultRunning, Trigger: trigger,
			Generation: generation, StartTime: &now}}
}

// minimalReactiveJob does for one ReactiveJob the API work the operator cannot avoid, on its twin: create the
// object, create its Job, write its status once.
func minimalReactiveJob(ctx context.Context, cl *cluster, ns, name string) error {
	rj := reactiveJob(ns, name)
	u, err := twin(rj, "ReactiveJob")
	if err != nil {
		return err
	}
	if err := cl.c.Create(ctx, u); err != nil {
		return err
	}
	job := name + "-1"
	if err := cl.c.Create(ctx, twinJob(u, job, rj.Spec.JobTemplate.Spec)); err != nil {
		return err
	}
	return cl.patchTwinStatus(ctx, u, reactiveJobRunningStatus(job, u.GetGeneration()))
}

// minimalQuarksJob does the same for a QuarksJob (strategy once; with configMap it references the ConfigMap).
func minimalQuarksJob(ctx context.Context, cl *cluster, ns, name string) error {
	u, spec, err := cl.createQuarksJobTwin(ctx, ns, name, "")
	if err != nil {
		return err
	}
	return cl.quarksJobTwinRun(ctx, u, spec, 1, quarksv1alpha1.RunTriggerOnce)
}

// createQuarksJobTwin creates the twin of a QuarksJob of strategy once and returns it and its Job spec.
func (cl *cluster) createQuarksJobTwin(ctx context.Context, ns, name, configMap string) (*unstructured.Unstructured, batchv1.JobSpec, error) {
	qj := quarksJob(ns, name, configMap)
	u, err := twin(qj, "QuarksJob")
	if err != nil {
		return nil, batchv1.JobSpec{}, err
	}
	return u, qj.Spec.Template.Spec, cl.c.Create(ctx, u)
}

// quarksJobTwinRun does a QuarksJob run's minimal API work on its twin: create the run's Job, write the status once.
func (cl *cluster) quarksJobTwinRun(ctx context.Context, u *unstructured.Unstructured, spec batchv1.JobSpec, run int64,
	trigger quarksv1alpha1.RunTrigger) error {
	job := fmt.Sprintf("%s-%d", u.GetName(), run)
	if err := cl.c.Create(ctx, twinJob(u, job, spec)); err != nil {
		return err
	}
	return cl.patchTwinStatus(ctx, u, quarksJobRunningStatus(job, u.GetGeneration(), run, trigger))
}
