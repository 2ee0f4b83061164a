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
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results/nodejob"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

const exampleResult = `{"test": [{"value": 1.0, "labels": {"label_a": "AAA", "label_b": "BBB"}},
          {"value": 2.554, "labels": {"label_a": "AAA2", "label_b": "BBB2"}}]}`

var _ = Describe("NodeJob routes", func() {
	var (
		ns    string
		run   *batchv1alpha1.NodeJobRun
		podA  *corev1.Pod
		token string
	)
	BeforeEach(func() {
		ns = newNamespace("results-nj-")
		run = createRun(ns, "nj-29000000", executionID, []string{"node-a", "node-b"}, nil)
		podA = createNodePod(run, "node-a")
		token = tokenFor(podA, ns, audience)
	})

	filesDir := func(node string) string {
		return filepath.Join(njRoutes.Store().Dir(), ns, "nj", run.Name, "nodes", node, "files")
	}

	It("accepts a pod's own result, file and event (NJ-S3, NJ-S4)", func() {
		a := post(reportPath("node-a", executionID, "result"), token, exampleResult)
		Expect(a).To(haveCode(200))
		Expect(a.Body).To(MatchJSON(`{"accepted":2}`))
		fixed := map[string]string{"node": "node-a", "executionID": executionID, "namespace": ns, "nodejob": "nj"}
		with := func(m map[string]string) map[string]string {
			maps.Copy(m, fixed)
			return m
		}
		Expect(njSink.seriesOf(podA)).To(Equal([]nodejob.Series{
			{Suffix: "test", Value: 1, Labels: with(map[string]string{"label_a": "AAA", "label_b": "BBB"})},
			{Suffix: "test", Value: 2.554, Labels: with(map[string]string{"label_a": "AAA2", "label_b": "BBB2"})},
		}))
		stored, err := os.ReadFile(filepath.Join(filesDir("node-a"), "..", "result.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(stored)).To(Equal(exampleResult))

		a = call(http.MethodPost, reportPath("node-a", executionID, "file"), token, []byte("file content"),
			map[string]string{"Content-Disposition": `attachment;filename="test.txt"`})
		Expect(a).To(haveCode(200))
		Expect(a.Body).To(MatchJSON(`{"files":["test.txt"]}`))
		Expect(os.ReadFile(filepath.Join(filesDir("node-a"), "test.txt"))).To(BeEquivalentTo("file content"))

		a = post(reportPath("node-a", executionID, "event"), token,
			`{"reason":"TestReason","message":"test message with %s","args":["arg"]}`)
		Expect(a).To(haveCode(200))
		Expect(a.Body).To(MatchJSON(`{}`))
		Expect(njSink.eventsOf(podA)).To(ConsistOf(nodejob.Event{
			Type: "Normal", Reason: "TestReason", Action: "n/a", Note: "test message with arg"}))
	})

	It("forbids a pod to report for another node, execution or run (NJ-X25)", func() {
		Expect(post(reportPath("node-b", executionID, "result"), token, exampleResult)).To(haveCode(403, "Forbidden"))
		Expect(post(reportPath("node-a", executionID2, "result"), token, exampleResult)).To(haveCode(403, "Forbidden"))
		Expect(post(reportPath("node-x", executionID, "event"), token, `{}`)).To(haveCode(403, "Forbidden"))
		Expect(post(reportPath("NODE_A", executionID, "event"), token, `{}`)).To(haveCode(403, "Forbidden"))

		By("a pod of another run of the same NodeJob")
		run2 := createRun(ns, "nj-29000060", executionID2, []string{"node-a"}, nil)
		pod2 := createNodePod(run2, "node-a")
		token2 := tokenFor(pod2, ns, audience)
		Expect(post(reportPath("node-a", executionID, "result"), token2, exampleResult)).To(haveCode(403, "Forbidden"))
		Expect(post(reportPath("node-a", executionID2, "result"), token2, exampleResult)).To(haveCode(200))

		By("a pod named, annotated and controlled like the run's pod for a node, which the operator did not create")
		fake := createUnrecordedNodePod(run, "node-b")
		Expect(post(reportPath("node-b", executionID, "result"), tokenFor(fake, ns, audience), exampleResult)).
			To(haveCode(403, "Forbidden"))
		Expect(njSink.seriesOf(fake)).To(BeEmpty())

		By("a pod that no NodeJobRun controls")
		bare := createPod(ns, "bare", nil, run.GroupVersionKind(), nil)
		Expect(post(reportPath("node-a", executionID, "result"), tokenFor(bare, ns, audience), exampleResult)).
			To(haveCode(403, "Forbidden"))
		Expect(njSink.seriesOf(bare)).To(BeEmpty())
	})

	It("rejects missing, foreign, unbound and stale tokens with 401 (NJ-X24)", func() {
		path := reportPath("node-a", executionID, "result")
		Expect(post(path, "", exampleResult)).To(haveCode(401, "Unauthenticated"))
		Expect(call(http.MethodPost, path, "", []byte(exampleResult), map[string]string{"Authorization": "Basic eDp5"})).
			To(haveCode(401, "Unauthenticated"))
		Expect(post(path, "not-a-token", exampleResult)).To(haveCode(401, "Unauthenticated"))
		Expect(post(path, tokenFor(podA, ns, "another-audience"), exampleResult)).To(haveCode(401, "Unauthenticated"))
		Expect(post(path, tokenFor(nil, ns, audience), exampleResult)).To(haveCode(401, "Unauthenticated"))

		By("the token of a deleted pod, never used before")
		podB := createNodePod(run, "node-b")
		tokenB := tokenFor(podB, ns, audience)
		Expect(k8sClient.Delete(ctx, podB)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(podB), &corev1.Pod{}) }).
			ShouldNot(Succeed())
		Expect(post(reportPath("node-b", executionID, "result"), tokenB, exampleResult)).To(haveCode(401, "Unauthenticated"))

		By("the token of a deleted pod that the server has accepted before, once the caches have expired")
		Expect(post(path, token, exampleResult)).To(haveCode(200))
		Expect(k8sClient.Delete(ctx, podA)).To(Succeed())
		Eventually(func() answer { return post(path, token, exampleResult) }).Should(haveCode(401, "Unauthenticated"))
	})

	It("answers 404 when the run is gone and 409 when the node's outcome is final", func() {
		podB := createNodePod(run, "node-b")
		tokenB := tokenFor(podB, ns, audience)
		_, err := njRoutes.Store().UpdateNode(reports.LocationOf(run), "node-b", func(rec *reports.NodeRecord) error {
			rec.Phase = batchv1alpha1.NodeJobRunNodePhaseSucceeded
			return nil
		})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() answer { return post(reportPath("node-b", executionID, "result"), tokenB, exampleResult) }).
			Should(haveCode(409, "RunFinished"))
		Expect(post(reportPath("node-a", executionID, "result"), token, exampleResult)).To(haveCode(200))

		Expect(k8sClient.Delete(ctx, run)).To(Succeed())
		Eventually(func() answer { return post(reportPath("node-a", executionID, "result"), token, exampleResult) }).
			Should(haveCode(404, "NotFound"))
	})

	It("answers 413 for bodies over the limits, and keeps nothing of them (NJ-X17, NJ-X21)", func() {
		small := createRun(ns, "nj-29000120", executionID2, []string{"node-a"}, func(r *batchv1alpha1.NodeJobRun) {
			r.Spec.ResultLimits = batchv1alpha1.NodeJobResultLimits{
				MaxResultSize: new(resource.MustParse("1Ki")), MaxFileSize: new(resource.MustParse("1Ki")),
				MaxSeriesPerNode: new(int32(1)),
			}
		})
		pod := createNodePod(small, "node-a")
		tok := tokenFor(pod, ns, audience)
		Eventually(func() answer {
			return post(reportPath("node-a", executionID2, "result"), tok, `{"test":[{"value":1}]}`)
		}).Should(haveCode(200))

		padded := `{"test":[{"value":1}]}` + strings.Repeat(" ", 1024)
		Expect(post(reportPath("node-a", executionID2, "result"), tok, padded)).To(haveCode(413, "TooLarge"))
		Expect(post(reportPath("node-a", executionID2, "result"), tok, `{"test":[{"value":1},{"value":2}]}`)).
			To(haveCode(413, "TooLarge"))
		a := call(http.MethodPost, reportPath("node-a", executionID2, "file")+"?name=big.bin", tok,
			make([]byte, 1025), nil)
		Expect(a).To(haveCode(413, "TooLarge"))
		Expect(a.Error.Message).To(ContainSubstring("maxFileSize"))
		Expect(filepath.Join(njRoutes.Store().Dir(), ns, "nj", small.Name, "nodes", "node-a", "files", "big.bin")).
			NotTo(BeAnExistingFile())

		By("a body over the route's own cap, whatever the run allows")
		Expect(post(reportPath("node-a", executionID, "result"), token, make([]byte, 8<<20+1))).
			To(haveCode(413, "TooLarge"))
		Expect(post(reportPath("node-a", executionID, "event"), token, make([]byte, 64<<10+1))).
			To(haveCode(413, "TooLarge"))
	})

	It("stores traversal names safely or rejects them with 400 (NJ-X18, NJ-X19)", func() {
		file := func(query string, header map[string]string) answer {
			return call(http.MethodPost, reportPath("node-a", executionID, "file")+query, token, []byte("x"), header)
		}
		a := file("?name=/../../../x.txt", nil)
		Expect(a).To(haveCode(200))
		Expect(a.Body).To(MatchJSON(`{"files":["x.txt"]}`))
		a = file("", map[string]string{"Content-Disposition": `attachment; filename="..\\..\\y.txt"`})
		Expect(a).To(haveCode(200))
		Expect(a.Body).To(MatchJSON(`{"files":["y.txt"]}`))
		a = file("?name=%2E%2E%2F%2E%2E%2Fz.txt", nil)
		Expect(a.Body).To(MatchJSON(`{"files":["z.txt"]}`))
		for _, q := range []string{"?name=..", "?name=/", "?name=%2F..", "?name=a%2F.."} {
			a = file(q, nil)
			Expect(a).To(haveCode(400, "InvalidRequest"), q)
			Expect(a.Error.Message).To(ContainSubstring("invalid file name"))
		}
		Expect(file("", map[string]string{"Content-Type": "multipart/form-data; boundary=zz"})).
			To(haveCode(400, "InvalidRequest"))
		Expect(file("", map[string]string{"Content-Type": "text/plain"}).Body).To(MatchJSON(`{"files":["generated.txt"]}`))

		By("nothing lies outside the node's files directory")
		var stored []string
		Expect(filepath.WalkDir(njRoutes.Store().Dir(), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.Contains(p, ns) {
				stored = append(stored, p)
			}
			return err
		})).To(Succeed())
		dir := filesDir("node-a")
		Expect(stored).To(ConsistOf(filepath.Join(dir, "x.txt"), filepath.Join(dir, "y.txt"),
			filepath.Join(dir, "z.txt"), filepath.Join(dir, "generated.txt"),
			filepath.Join(filepath.Dir(dir), reports.NodeRecordFileName)))
	})

	It("ignores and counts items with undeclared suffixes or labels (NJ-X16)", func() {
		a := post(reportPath("node-a", executionID, "result"), token,
			`{"nope":[{"value":1}],"test":[{"value":2,"labels":{"zz":"1"}},{"value":3}]}`)
		Expect(a).To(haveCode(200))
		Expect(a.Body).To(MatchJSON(`{"accepted":1,"ignored":2,"ignoredSuffixes":["nope"],"ignoredLabels":["zz"]}`))
		Expect(njSink.seriesOf(podA)).To(HaveLen(1))
	})

	It("answers 400 for invalid bodies (NJ-X14, NJ-X15, NJ-X22, NJ-X23)", func() {
		for body, msg := range map[string]string{
			`null`: "JSON object", `[]`: "JSON object", `{"test":[{"value":"x"}]}`: "number",
			`{"test":[{"value":1}]} x`: "after", `{}`: "results must not be empty",
		} {
			a := post(reportPath("node-a", executionID, "result"), token, body)
			Expect(a).To(haveCode(400, "InvalidRequest"), body)
			Expect(a.Error.Message).To(ContainSubstring(msg), body)
		}
		for body, msg := range map[string]string{
			`{"reason":"testReason","message":"m"}`:                        "reason",
			`{"reason":"Test reason","message":"m"}`:                       "reason",
			`{"reason":"ärger","message":"m"}`:                             "reason",
			`{"reason":"A","message":""}`:                                  "message",
			`{"reason":"A","message":"` + strings.Repeat("x", 1025) + `"}`: "message",
		} {
			a := post(reportPath("node-a", executionID, "event"), token, body)
			Expect(a).To(haveCode(400, "InvalidRequest"), body)
			Expect(a.Error.Message).To(ContainSubstring(msg), body)
		}
		Expect(njSink.seriesOf(podA)).To(BeEmpty())
		Expect(njSink.eventsOf(podA)).To(BeEmpty())
	})

	It("limits each pod to 60 requests a minute", func() {
		path := reportPath("node-a", executionID, "event")
		var limited atomic.Pointer[answer]
		codes := burst(90, func() answer {
			a := post(path, token, `{"reason":"R","message":"m"}`)
			if a.Code == 429 {
				limited.Store(&a)
			}
			return a
		})
		Expect(codes[200]).To(BeNumerically(">=", 60))
		Expect(codes[429]).To(BeNumerically(">=", 1))
		Expect(codes[200] + codes[429]).To(Equal(90))
		Expect(limited.Load().Error.Message).To(ContainSubstring("more than 60 requests a minute from pod " + ns + "/" + podA.Name))
		Expect(limited.Load().RetryAfter).To(Equal("1"))

		By("another pod has its own budget")
		podB := createNodePod(run, "node-b")
		Expect(post(reportPath("node-b", executionID, "event"), tokenFor(podB, ns, audience), `{"reason":"R","message":"m"}`)).
			To(haveCode(200))
	})

	It("answers 404 for unknown paths and pprof, and 405 for wrong methods (NJ-X26)", func() {
		for _, p := range []string{"/", "/debug/pprof/", "/debug/pprof/heap", "/metrics", "/reports/",
			"/report/node-a/" + executionID, "/report/node-a/" + executionID + "/logs", "/report/../x/result"} {
			Expect(call(http.MethodGet, p, token, nil, nil)).To(haveCode(404, "NotFound"), p)
		}
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			a := call(m, reportPath("node-a", executionID, "result"), token, nil, nil)
			Expect(a).To(haveCode(405, "MethodNotAllowed"), m)
			Expect(a.Allow).To(Equal("POST"))
		}
		a := call(http.MethodPost, wire.QuarksJobWaitPath, token, nil, nil)
		Expect(a).To(haveCode(405, "MethodNotAllowed"))
		Expect(a.Allow).To(Equal("GET"))
	})

	It("keeps implicit labels from the token, not from the body", func() {
		body := `{"test":[{"value":5,"labels":{"node":"node-b","executionID":"x","namespace":"kube-system","nodejob":"other"}}]}`
		Expect(post(reportPath("node-a", executionID, "result"), token, body)).To(haveCode(200))
		series := njSink.seriesOf(podA)
		Expect(series).To(HaveLen(1))
		Expect(series[0].Labels).To(Equal(map[string]string{
			"label_a": "", "label_b": "", "node": "node-a", "executionID": executionID, "namespace": ns, "nodejob": "nj",
		}))
		raw, err := json.Marshal(series[0].Labels)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(ContainSubstring("kube-system"))
	})
})
