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
	"encoding/base64"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

var _ = Describe("QuarksJob routes", func() {
	var (
		ns    string
		qj    *quarksv1alpha1.QuarksJob
		job   *batchv1.Job
		pod   *corev1.Pod
		token string
	)
	BeforeEach(func() {
		ns = newNamespace("results-qj-")
		qj, job, pod = createQuarksJobRun(ns, "qjob")
		token = tokenFor(pod, ns, audience)
	})

	output := func(files ...wire.OutputFile) wire.OutputRequest { return wire.OutputRequest{Files: files} }

	It("accepts the output of its own QuarksJob run", func() {
		Eventually(func() answer {
			return post(wire.QuarksJobOutputPath, token, output(
				wire.FileOutput("main", "out.json", []byte(`{"k":"v"}`)), wire.MissingOutput("main", "gone.json")))
		}).Should(haveCode(200))
		Expect(qjSink.outputOf(pod)).To(Equal(&quarksjob.Output{Files: []quarksjob.OutputFile{
			{Container: "main", File: "out.json", Data: []byte(`{"k":"v"}`)},
			{Container: "main", File: "gone.json", Missing: true},
		}}))
		a := post(wire.QuarksJobOutputPath, token, output(wire.FileOutput("main", "out.json", []byte(`{}`))))
		Expect(a.Body).To(MatchJSON(`{"secrets":["qjob-out.json"]}`))
	})

	It("rejects tokens of other audiences, missing tokens and tokens of deleted pods with 401 (QJ-X16)", func() {
		req := output(wire.MissingOutput("main", "f"))
		Expect(post(wire.QuarksJobOutputPath, "", req)).To(haveCode(401, "Unauthenticated"))
		Expect(post(wire.QuarksJobOutputPath, tokenFor(pod, ns, "https://kubernetes.default.svc"), req)).
			To(haveCode(401, "Unauthenticated"))
		Expect(call(http.MethodGet, wire.QuarksJobWaitPath, "", nil, nil)).To(haveCode(401, "Unauthenticated"))
		other := createPod(ns, "doomed", job, batchv1.SchemeGroupVersion.WithKind("Job"), nil)
		otherToken := tokenFor(other, ns, audience)
		Expect(k8sClient.Delete(ctx, other)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(other), &corev1.Pod{}) }).
			ShouldNot(Succeed())
		Expect(post(wire.QuarksJobOutputPath, otherToken, req)).To(haveCode(401, "Unauthenticated"))
	})

	It("forbids pods that are not part of a QuarksJob run (QJ-X17)", func() {
		req := output(wire.MissingOutput("main", "f"))
		bare := createPod(ns, "bare", nil, batchv1.SchemeGroupVersion.WithKind("Job"), nil)
		Expect(post(wire.QuarksJobOutputPath, tokenFor(bare, ns, audience), req)).To(haveCode(403, "Forbidden"))

		plainJob := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
			}}},
		}
		Expect(k8sClient.Create(ctx, plainJob)).To(Succeed())
		plainPod := createPod(ns, "plain-pod", plainJob, batchv1.SchemeGroupVersion.WithKind("Job"), nil)
		Expect(post(wire.QuarksJobOutputPath, tokenFor(plainPod, ns, audience), req)).To(haveCode(403, "Forbidden"))
		Expect(call(http.MethodGet, wire.QuarksJobWaitPath, tokenFor(plainPod, ns, audience), nil, nil)).
			To(haveCode(403, "Forbidden"))

		By("a NodeJob pod")
		run := createRun(ns, "nj-29000000", executionID, []string{"node-a"}, nil)
		njPod := createNodePod(run, "node-a")
		Expect(post(wire.QuarksJobOutputPath, tokenFor(njPod, ns, audience), req)).To(haveCode(403, "Forbidden"))
	})

	It("answers 404 when the Job or the QuarksJob is gone, and 409 when the run is not active", func() {
		req := output(wire.MissingOutput("main", "f"))
		Eventually(func() answer { return post(wire.QuarksJobOutputPath, token, req) }).Should(haveCode(200))

		qj.Status.LastRun.Result = quarksv1alpha1.RunResultSucceeded
		Expect(k8sClient.Status().Update(ctx, qj)).To(Succeed())
		Eventually(func() answer { return post(wire.QuarksJobOutputPath, token, req) }).
			Should(haveCode(409, "RunNotActive"))

		Expect(k8sClient.Delete(ctx, qj)).To(Succeed())
		Eventually(func() answer { return post(wire.QuarksJobOutputPath, token, req) }).Should(haveCode(404, "NotFound"))

		_, job2, pod2 := createQuarksJobRun(ns, "second")
		token2 := tokenFor(pod2, ns, audience)
		Eventually(func() answer { return post(wire.QuarksJobOutputPath, token2, req) }).Should(haveCode(200))
		Expect(k8sClient.Delete(ctx, job2)).To(Succeed())
		Expect(post(wire.QuarksJobOutputPath, token2, req)).To(haveCode(404, "NotFound"))
	})

	It("answers 413 for a file over 1 MiB or a body over 8 MiB (QJ-X18)", func() {
		a := post(wire.QuarksJobOutputPath, token, output(wire.FileOutput("main", "big.json", make([]byte, 1<<20+1))))
		Expect(a).To(haveCode(413, "TooLarge"))
		Expect(a.Error.Message).To(ContainSubstring("container main, file big.json: file too large"))

		many := output()
		for i := range 9 {
			many.Files = append(many.Files, wire.FileOutput("main", "f"+strings.Repeat("x", i), make([]byte, 1<<20-10)))
		}
		Expect(post(wire.QuarksJobOutputPath, token, many)).To(haveCode(413, "TooLarge"))
		Expect(qjSink.outputOf(pod)).To(BeNil())
	})

	It("answers 400 for malformed uploads", func() {
		bad := base64.StdEncoding.EncodeToString([]byte("x"))[:2]
		for _, body := range []string{
			`null`, `{}`, `{"files":[{"container":"main","file":"../x","missing":true}]}`,
			`{"files":[{"container":"main","file":"f","data":"` + bad + `"}]}`,
			`{"files":[{"container":"main","file":"f"}]}`, `{"files":[]} {}`,
		} {
			Expect(post(wire.QuarksJobOutputPath, token, body)).To(haveCode(400, "InvalidRequest"), body)
		}
	})

	It("answers the long poll with 503 until a waiter is registered", func() {
		a := call(http.MethodGet, wire.QuarksJobWaitPath+"?timeout=5", token, nil, nil)
		Expect(a).To(haveCode(503, "Unavailable"))
		Expect(a.RetryAfter).To(Equal("1"))
		Expect(call(http.MethodGet, wire.QuarksJobWaitPath+"?timeout=61", token, nil, nil)).To(haveCode(400, "InvalidRequest"))
	})

	It("limits each pod to 30 requests a minute", func() {
		req := output(wire.MissingOutput("main", "f"))
		Eventually(func() answer { return post(wire.QuarksJobOutputPath, token, req) }).Should(haveCode(200))
		codes := burst(45, func() answer { return post(wire.QuarksJobOutputPath, token, req) })
		Expect(codes[200]).To(BeNumerically(">=", 29))
		Expect(codes[429]).To(BeNumerically(">=", 1))
		Expect(codes[200] + codes[429]).To(Equal(45))
	})
})
