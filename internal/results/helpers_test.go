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

package results_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/nodejob"
	"github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

const (
	audience     = results.DefaultAudience
	jobSA        = "job"
	executionID  = "202601010000"
	executionID2 = "202601010100"
)

// recordingSink is a NodeJob sink that keeps what it receives, per pod.
type recordingSink struct {
	mu      sync.Mutex
	store   *reports.FileStore
	results map[string][]nodejob.Series
	files   map[string][]reports.StoredFile
	events  map[string][]nodejob.Event
}

func (s *recordingSink) Result(_ context.Context, t *nodejob.Target, r *nodejob.Result) error {
	if err := s.store.PutResult(t.Location, t.Node, r.Raw, t.Limits.MaxRunStorage); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.results == nil {
		s.results = map[string][]nodejob.Series{}
	}
	s.results[key(t.Pod)] = r.Series
	return nil
}

func (s *recordingSink) FilesStored(_ context.Context, t *nodejob.Target, files []reports.StoredFile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string][]reports.StoredFile{}
	}
	s.files[key(t.Pod)] = append(s.files[key(t.Pod)], files...)
	return nil
}

func (s *recordingSink) Event(_ context.Context, t *nodejob.Target, e *nodejob.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events == nil {
		s.events = map[string][]nodejob.Event{}
	}
	s.events[key(t.Pod)] = append(s.events[key(t.Pod)], *e)
	return nil
}

func (s *recordingSink) seriesOf(pod *corev1.Pod) []nodejob.Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results[key(pod)]
}

func (s *recordingSink) eventsOf(pod *corev1.Pod) []nodejob.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events[key(pod)]
}

// recordingOutputSink is a QuarksJob sink that keeps the uploads per pod and
// answers with one Secret name per file.
type recordingOutputSink struct {
	mu      sync.Mutex
	outputs map[string]*quarksjob.Output
}

func (s *recordingOutputSink) PersistOutput(_ context.Context, t *quarksjob.Target, out *quarksjob.Output) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outputs == nil {
		s.outputs = map[string]*quarksjob.Output{}
	}
	s.outputs[key(t.Pod)] = out
	var names []string
	for _, f := range out.Files {
		if !f.Missing {
			names = append(names, t.QuarksJob.Name+"-"+f.File)
		}
	}
	return names, nil
}

func (s *recordingOutputSink) outputOf(pod *corev1.Pod) *quarksjob.Output {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outputs[key(pod)]
}

// key names a pod in the sinks' records.
func key(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}

// burst sends n requests from 8 workers and counts the answers by status code.
func burst(n int, send func() answer) map[int]int {
	GinkgoHelper()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range 8 {
		wg.Go(func() {
			defer GinkgoRecover()
			for range next {
				a := send()
				mu.Lock()
				codes[a.Code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return codes
}

// newNamespace creates a fresh namespace with the job service account.
func newNamespace(prefix string) string {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	Expect(k8sClient.Create(ctx, n)).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: jobSA, Namespace: n.Name},
	})).To(Succeed())
	return n.Name
}

// createRun creates a NodeJobRun whose nodes are Running.
func createRun(ns, name, execID string, nodes []string, mutate func(*batchv1alpha1.NodeJobRun)) *batchv1alpha1.NodeJobRun {
	run := &batchv1alpha1.NodeJobRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1alpha1.NodeJobRunSpec{
			NodeJobName:   "nj",
			ExecutionID:   execID,
			ScheduledTime: metav1.Now(),
			Trigger:       batchv1alpha1.NodeJobRunTriggerSchedule,
			NodeJobRunTemplate: batchv1alpha1.NodeJobRunTemplate{
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "main", Image: "busybox"}},
				}},
				Metrics: batchv1alpha1.NodeJobMetrics{Gauges: map[string]batchv1alpha1.NodeJobGauge{
					"test": {Help: "a test gauge", Labels: []string{"label_a", "label_b"}},
				}},
			},
		},
	}
	if mutate != nil {
		mutate(run)
	}
	Expect(k8sClient.Create(ctx, run)).To(Succeed())
	run.Status.Phase = batchv1alpha1.NodeJobRunPhaseRunning
	Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
	return run
}

// createPod creates a pod of the job service account, controlled by owner when it is set.
func createPod(ns, name string, owner client.Object, gvk schema.GroupVersionKind, annotations map[string]string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: jobSA,
			RestartPolicy:      corev1.RestartPolicyNever,
			Containers:         []corev1.Container{{Name: "main", Image: "busybox"}},
		},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)}
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	return pod
}

// createNodePod creates the pod of a run for a node and records its UID in the node's record, as the run
// controller does.
func createNodePod(run *batchv1alpha1.NodeJobRun, node string) *corev1.Pod {
	pod := createUnrecordedNodePod(run, node)
	recordPod(run, node, pod)
	return pod
}

// recordPod records pod as the run's pod for node, as the run controller does right after creating it.
func recordPod(run *batchv1alpha1.NodeJobRun, node string, pod *corev1.Pod) {
	GinkgoHelper()
	_, err := njRoutes.Store().UpdateNode(reports.LocationOf(run), node, func(rec *reports.NodeRecord) error {
		rec.Phase, rec.PodName, rec.PodUID = batchv1alpha1.NodeJobRunNodePhaseRunning, pod.Name, pod.UID
		return nil
	})
	Expect(err).NotTo(HaveOccurred())
}

// createUnrecordedNodePod creates a pod named, annotated and controlled like the run's pod for a node, whose UID
// the operator never recorded.
func createUnrecordedNodePod(run *batchv1alpha1.NodeJobRun, node string) *corev1.Pod {
	return createPod(run.Namespace, nodejob.PodName(run.Name, node), run,
		batchv1alpha1.GroupVersion.WithKind("NodeJobRun"),
		map[string]string{batchv1alpha1.NodeJobNodeNameAnnotation: node})
}

// createQuarksJobRun creates a QuarksJob whose active run is a Job, and the Job's pod.
func createQuarksJobRun(ns, name string) (*quarksv1alpha1.QuarksJob, *batchv1.Job, *corev1.Pod) {
	qj := &quarksv1alpha1.QuarksJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: quarksv1alpha1.QuarksJobSpec{Template: quarksv1alpha1.JobTemplate{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
			}},
		}}},
	}
	Expect(k8sClient.Create(ctx, qj)).To(Succeed())
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-0123456789abcdef", Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(qj, quarksv1alpha1.GroupVersion.WithKind("QuarksJob"))}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
		}}},
	}
	Expect(k8sClient.Create(ctx, job)).To(Succeed())
	now := metav1.Now()
	qj.Status.LastRun = &quarksv1alpha1.RunStatus{Name: job.Name, Result: quarksv1alpha1.RunResultRunning, StartTime: &now}
	Expect(k8sClient.Status().Update(ctx, qj)).To(Succeed())
	pod := createPod(ns, job.Name+"-abcde", job, batchv1.SchemeGroupVersion.WithKind("Job"), nil)
	return qj, job, pod
}

// tokenFor requests a token of the job service account bound to pod (unbound when pod is nil).
func tokenFor(pod *corev1.Pod, ns string, audiences ...string) string {
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         audiences,
		ExpirationSeconds: new(int64(3600)),
	}}
	if pod != nil {
		tr.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID,
		}
	}
	out, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, jobSA, tr, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return out.Status.Token
}

// answer is a response of the results API.
type answer struct {
	Code       int
	Body       []byte
	Error      wire.Error
	RetryAfter string
	Allow      string
}

// call sends a request to the results API.
func call(method, path, token string, body []byte, header map[string]string) answer {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	a := answer{Code: resp.StatusCode, Body: data, RetryAfter: resp.Header.Get("Retry-After"), Allow: resp.Header.Get("Allow")}
	if resp.StatusCode >= 300 {
		Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
		Expect(json.Unmarshal(data, &a.Error)).To(Succeed(), "error body %q", data)
		Expect(a.Error.Code).To(Equal(resp.StatusCode))
		Expect(a.Error.Reason).To(MatchRegexp(`^[A-Z][A-Za-z]+$`))
		Expect(a.Error.Message).NotTo(BeEmpty())
	}
	return a
}

// post sends a JSON body.
func post(path, token string, v any) answer {
	GinkgoHelper()
	var body []byte
	switch b := v.(type) {
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		body, err = json.Marshal(v)
		Expect(err).NotTo(HaveOccurred())
	}
	return call(http.MethodPost, path, token, body, map[string]string{"Content-Type": "application/json"})
}

// haveCode matches an answer's status code and, when given, its reason.
func haveCode(code int, reason ...string) OmegaMatcher {
	m := HaveField("Code", code)
	if len(reason) > 0 {
		return And(m, HaveField("Error.Reason", reason[0]))
	}
	return m
}

func reportPath(node, execID, kind string) string {
	return "/report/" + node + "/" + execID + "/" + kind
}
