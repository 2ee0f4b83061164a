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

package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	// The results sink is the results API's; these tests drive it next to the controllers.
	"github.com/jobkeeper/jobkeeper/internal/results/nodejob"
)

const sinkExampleResult = `{"test": [{"value": 1.0, "labels": {"label_a": "AAA", "label_b": "BBB"}},
          {"value": 2.554, "labels": {"label_a": "AAA2", "label_b": "BBB2"}}]}`

// scrape renders the registry as the manager's /metrics would.
func scrape(reg *nodemetrics.Registry) string {
	r := prometheus.NewPedanticRegistry()
	Expect(r.Register(reg)).To(Succeed())
	families, err := r.Gather()
	Expect(err).NotTo(HaveOccurred())
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		Expect(enc.Encode(mf)).To(Succeed())
	}
	return b.String()
}

// stubLogs stands in for the kubelet, which envtest does not run.
type stubLogs struct {
	log []byte
	err error
}

func (s stubLogs) ReadLog(_ context.Context, _, _, _ string, limit int64) ([]byte, error) {
	return s.log[:min(int64(len(s.log)), limit)], s.err
}

var _ = Describe("NodeJob results", func() {
	var (
		ns      string
		store   *reports.FileStore
		metrics *nodemetrics.Registry
		changes *reports.Changes
		stop    func()
		logs    PodLogReader
		// nodesCreated: the spec's nodes exist; later NodeJobs of the spec run on them too.
		nodesCreated bool
	)

	start := func() {
		changes = reports.NewChanges()
		stop = startNodeJobControllersFor(ns, clocktesting.NewFakeClock(time.Now()),
			func(r *NodeJobReconciler) { r.Metrics = metrics },
			func(r *NodeJobRunReconciler) {
				r.Reports, r.Metrics, r.Logs, r.Changes = store, metrics, logs, changes
				r.LoadSeries = nodejob.SeriesLoader(store)
			})
	}

	BeforeEach(func() {
		ns = newNamespace("njres-")
		store = storeOf(ns)
		metrics = nodemetrics.New()
		logs = stubLogs{log: []byte("hello\n")}
		stop = func() {}
		nodesCreated = false
		DeferCleanup(func() { stop() })
	})

	managerClient := func() client.Client {
		c, err := client.New(userConfig(managerUser), client.Options{Scheme: scheme.Scheme})
		Expect(err).NotTo(HaveOccurred())
		return c
	}

	// runWithPods creates a NodeJob that runs on create on n nodes and returns its run once every pod exists.
	runWithPods := func(name string, n int, mutate func(*batchv1alpha1.NodeJob)) (*batchv1alpha1.NodeJobRun, []corev1.Pod) {
		if !nodesCreated {
			createNodes(ns, readyNodes(ns, n)...)
			nodesCreated = true
		}
		nj := newNodeJob(ns, name)
		nj.Spec.RunOnCreate = true
		nj.Spec.Metrics = batchv1alpha1.NodeJobMetrics{Prefix: "res", Gauges: map[string]batchv1alpha1.NodeJobGauge{
			"test": {Help: "a test gauge", Labels: []string{"label_a", "label_b"}}}}
		if mutate != nil {
			mutate(nj)
		}
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		var pods []corev1.Pod
		Eventually(func(g Gomega) {
			runs := runsOf(ns, name)
			g.Expect(runs).To(HaveLen(1))
			pods = podsOf(ns, runs[0].Name)
			g.Expect(pods).To(HaveLen(n))
		}).Should(Succeed())
		run := &batchv1alpha1.NodeJobRun{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: runsOf(ns, name)[0].Name}, run)).To(Succeed())
			g.Expect(run.Status.Active).To(Equal(int32(n)))
		}).Should(Succeed())
		return run, pods
	}

	targetOf := func(run *batchv1alpha1.NodeJobRun, pod *corev1.Pod) *nodejob.Target {
		node := pod.Annotations[batchv1alpha1.NodeJobNodeNameAnnotation]
		Expect(node).NotTo(BeEmpty())
		return &nodejob.Target{Pod: pod, Run: run, Node: node, Location: reports.LocationOf(run),
			Limits: reports.LimitsOf(run)}
	}

	// nodeOf is the node's record in the report store.
	nodeOf := func(run *batchv1alpha1.NodeJobRun, node string) reports.NodeRecord {
		rec, ok, err := store.Node(reports.LocationOf(run), node)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		ExpectWithOffset(1, ok).To(BeTrue(), "no record of node "+node)
		return rec
	}

	newSink := func() *nodejob.StoreSink {
		return &nodejob.StoreSink{Client: managerClient(), Store: store, Metrics: metrics, Changes: changes,
			Instance: "test"}
	}

	It("NJ-26, NJ-27, NJ-29, NJ-30, NJ-S3, NJ-S4: results become series and status, files are counted, events land on the pod", func() {
		start()
		run, pods := runWithPods("res", 2, func(nj *batchv1alpha1.NodeJob) {
			nj.Spec.ResultLimits.MaxEventsPerNode = new(int32(1))
		})
		sink := newSink()
		ta := targetOf(run, &pods[0])
		res, err := nodejob.ParseResult([]byte(sinkExampleResult), nodejob.ResultSpecFor(run, ta.Node))
		Expect(err).NotTo(HaveOccurred())
		Expect(sink.Result(ctx, ta, res)).To(Succeed())

		entry := nodeOf(run, ta.Node)
		Expect(entry.ResultReceived).To(BeTrue())
		Expect(entry.ResultTime).NotTo(BeNil())
		Expect(entry.PodUID).To(Equal(pods[0].UID))
		// The sink never writes the run; the run controller counts the result once it is told.
		Eventually(func(g Gomega) {
			cur := &batchv1alpha1.NodeJobRun{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur)).To(Succeed())
			g.Expect(cur.Status.Reported).To(Equal(int32(1)))
			g.Expect(cur.Status.StorageBytes).To(BeNumerically(">=", len(sinkExampleResult)))
		}).Should(Succeed())
		labels := `executionID="` + run.Spec.ExecutionID + `",label_a="AAA",label_b="BBB",namespace="` + ns +
			`",node="` + ta.Node + `",nodejob="res"`
		Expect(scrape(metrics)).To(And(
			ContainSubstring(`res_test{`+labels+`} 1`),
			ContainSubstring(`res_processing{executionID="`+run.Spec.ExecutionID+`",namespace="`+ns+`",node="`+ta.Node+`",nodejob="res"} 0`),
			ContainSubstring(`res_pods{namespace="`+ns+`",nodejob="res"} 2`),
		))

		By("a file")
		up, err := store.Begin(ta.Location, ta.Node, reports.FileLimitsOf(ta.Limits))
		Expect(err).NotTo(HaveOccurred())
		Expect(up.Add("test.txt", strings.NewReader("file content"))).To(Succeed())
		stored, err := up.Commit()
		Expect(err).NotTo(HaveOccurred())
		Expect(sink.FilesStored(ctx, ta, stored)).To(Succeed())
		Expect(nodeOf(run, ta.Node).Files).To(Equal(1))

		By("an event, then one over the quota")
		Expect(sink.Event(ctx, ta, &nodejob.Event{Type: corev1.EventTypeNormal, Reason: "TestReason", Action: "n/a",
			Note: "test message with arg"})).To(Succeed())
		var list eventsv1.EventList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		var found *eventsv1.Event
		for i := range list.Items {
			if list.Items[i].Reason == "TestReason" {
				found = &list.Items[i]
			}
		}
		Expect(found).NotTo(BeNil())
		Expect(found.Note).To(Equal("test message with arg"))
		Expect(found.Regarding.Name).To(Equal(pods[0].Name))
		Expect(found.Regarding.UID).To(Equal(pods[0].UID))
		Expect(found.Related.Name).To(Equal(run.Name))
		Expect(found.ReportingController).To(Equal(nodejob.ReportingController))
		Expect(nodeOf(run, ta.Node).Events).To(Equal(1))
		err = sink.Event(ctx, ta, &nodejob.Event{Type: corev1.EventTypeNormal, Reason: "Again", Action: "n/a", Note: "x"})
		var answer *results.Error
		Expect(errors.As(err, &answer)).To(BeTrue())
		Expect(answer.Code).To(Equal(429))

		By("the pods end: one with its result, one without")
		setPodPhase(&pods[0], corev1.PodSucceeded)
		setPodPhase(&pods[1], corev1.PodSucceeded)
		nodeB := targetOf(run, &pods[1]).Node
		Eventually(func() string { return scrape(metrics) }).Should(And(
			ContainSubstring(`res_processing{executionID="`+run.Spec.ExecutionID+`",namespace="`+ns+`",node="`+nodeB+`",nodejob="res"} 1`),
			ContainSubstring(`res_processing{executionID="`+run.Spec.ExecutionID+`",namespace="`+ns+`",node="`+ta.Node+`",nodejob="res"} 0`),
			ContainSubstring(`res_duration{executionID="`+run.Spec.ExecutionID+`",namespace="`+ns+`",node="`+ta.Node+`",nodejob="res"}`),
		))

		By("a restart rebuilds the series from result.json (NJ-32)")
		stop()
		metrics = nodemetrics.New()
		start()
		Eventually(func() string { return scrape(metrics) }).Should(ContainSubstring(`res_test{` + labels + `} 1`))
	})

	It("a run's status does not grow with its nodes; results of many nodes posted at once are all accepted", func() {
		start()
		const many = 50
		nodes := make([]testNode, many)
		hostnames := make([]string, many)
		for i := range nodes {
			nodes[i] = testNode{name: fmt.Sprintf("%s-n%03d", ns, i), ready: true, matching: true}
			hostnames[i] = nodes[i].name
		}
		createNodes(ns, nodes...)
		nodesCreated = true
		sink := newSink()

		// runAll runs a NodeJob on the first n nodes, posts a result from every pod at once, ends the pods and
		// returns the finished run.
		runAll := func(name string, n int) *batchv1alpha1.NodeJobRun {
			run, pods := runWithPods(name, n, func(nj *batchv1alpha1.NodeJob) {
				nj.Spec.Parallelism = new(intstr.FromInt32(int32(n)))
				nj.Spec.NodeSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/hostname",
					Operator: metav1.LabelSelectorOpIn, Values: hostnames[:n]}}
			})
			errs := make([]error, len(pods))
			var wg sync.WaitGroup
			for i := range pods {
				wg.Go(func() {
					t := targetOf(run, &pods[i])
					res, err := nodejob.ParseResult([]byte(sinkExampleResult), nodejob.ResultSpecFor(run, t.Node))
					if err == nil {
						err = sink.Result(ctx, t, res)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i, err := range errs {
				Expect(err).NotTo(HaveOccurred(), "result of pod %s", pods[i].Name)
			}
			for i := range pods {
				setPodPhase(&pods[i], corev1.PodSucceeded)
			}
			cur := &batchv1alpha1.NodeJobRun{}
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur)).To(Succeed())
				g.Expect(cur.Status.Phase).To(Equal(batchv1alpha1.NodeJobRunPhaseSucceeded))
				g.Expect(cur.Status.Reported).To(Equal(int32(n)))
				g.Expect(cur.Status.Succeeded).To(Equal(int32(n)))
			}).WithTimeout(time.Minute).Should(Succeed())
			for _, p := range pods {
				Expect(nodeOf(cur, p.Annotations[batchv1alpha1.NodeJobNodeNameAnnotation]).ResultReceived).To(BeTrue())
			}
			return cur
		}
		sizeOf := func(run *batchv1alpha1.NodeJobRun) int {
			data, err := json.Marshal(run.Status)
			Expect(err).NotTo(HaveOccurred())
			return len(data)
		}
		small, large := sizeOf(runAll("ten", 10)), sizeOf(runAll("fifty", many))
		GinkgoWriter.Printf("NodeJobRun status: %d bytes at 10 nodes, %d bytes at %d nodes\n", small, large, many)
		// Only the digits of the counts may differ.
		Expect(large - small).To(BeNumerically("<=", 8))
	})

	It("NJ-31: savePodLogs stores each container's log once, cut to maxLogSize; a failure is an event, not an outcome", func() {
		logs = stubLogs{log: bytes.Repeat([]byte("0123456789"), 10)}
		start()
		run, pods := runWithPods("logs", 1, func(nj *batchv1alpha1.NodeJob) {
			nj.Spec.SavePodLogs = true
			nj.Spec.ResultLimits.MaxLogSize = new(resource.MustParse("25"))
		})
		node := targetOf(run, &pods[0]).Node
		setPodPhase(&pods[0], corev1.PodSucceeded)
		Eventually(func() bool { return nodeOf(run, node).LogsSaved }).Should(BeTrue())
		data, err := os.ReadFile(filepath.Join(store.Dir(), ns, "logs", run.Name, "nodes", node, "logs", "main.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).To(Equal("0123456789012345678901234\n[truncated]\n"))

		By("a log that cannot be read")
		stop()
		logs = stubLogs{err: errors.New("the kubelet is not reachable")}
		start()
		run2, pods2 := runWithPods("nologs", 1, func(nj *batchv1alpha1.NodeJob) { nj.Spec.SavePodLogs = true })
		setPodPhase(&pods2[0], corev1.PodSucceeded)
		Eventually(func() []string { return eventReasons(ns, run2.Name) }).Should(ContainElement(EventPodLogSaveFailed))
		// The event comes before the record of the outcome.
		node2 := targetOf(run2, &pods2[0]).Node
		Eventually(func(g Gomega) {
			entry := nodeOf(run2, node2)
			g.Expect(entry.Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseSucceeded))
			g.Expect(entry.LogsSaved).To(BeFalse())
		}).Should(Succeed())
	})

	It("NJ-22, NJ-24: a deleted run takes its reports and series; orphaned marked directories go at start-up", func() {
		orphan := reports.RunLocation{Namespace: ns, NodeJob: "gone", Run: "gone-1"}
		Expect(store.WriteRunMarker(orphan, "0000")).To(Succeed())
		foreign := filepath.Join(store.Dir(), ns, "lost+found")
		Expect(os.MkdirAll(foreign, 0o750)).To(Succeed())
		start()
		Eventually(func() bool {
			_, err := os.Stat(filepath.Join(store.Dir(), ns, "gone", "gone-1"))
			return os.IsNotExist(err)
		}).Should(BeTrue())
		Expect(foreign).To(BeADirectory())

		run, pods := runWithPods("del", 1, nil)
		runDir := filepath.Join(store.Dir(), ns, "del", run.Name)
		Expect(filepath.Join(runDir, reports.RunMarkerFileName)).To(BeAnExistingFile())
		sink := newSink()
		t := targetOf(run, &pods[0])
		res, err := nodejob.ParseResult([]byte(sinkExampleResult), nodejob.ResultSpecFor(run, t.Node))
		Expect(err).NotTo(HaveOccurred())
		Expect(sink.Result(ctx, t, res)).To(Succeed())
		Expect(scrape(metrics)).To(ContainSubstring(`nodejob="del"`))

		Expect(k8sClient.Delete(ctx, run)).To(Succeed())
		Eventually(func() bool { _, err := os.Stat(runDir); return os.IsNotExist(err) }).Should(BeTrue())
		Eventually(func() string { return scrape(metrics) }).ShouldNot(ContainSubstring(`res_test{`))
	})

	It("NJ-X12, NJ-34: a NodeJob declaring an older NodeJob's family differently is Stalled MetricConflict", func() {
		start()
		older := newNodeJob(ns, "a-older")
		older.Spec.Metrics = batchv1alpha1.NodeJobMetrics{Prefix: "shared", Gauges: map[string]batchv1alpha1.NodeJobGauge{
			"test": {Help: "a gauge", Labels: []string{"x"}}}}
		Expect(k8sClient.Create(ctx, older)).To(Succeed())
		Eventually(func() status.Status { return kstatusOf(getNodeJob(ns, "a-older")) }).Should(Equal(status.CurrentStatus))

		newer := newNodeJob(ns, "b-newer")
		newer.Spec.Metrics = older.Spec.Metrics
		newer.Spec.Metrics.Gauges = map[string]batchv1alpha1.NodeJobGauge{"test": {Help: "a gauge", Labels: []string{"y"}}}
		Expect(k8sClient.Create(ctx, newer)).To(Succeed())
		Eventually(func(g Gomega) {
			cur := getNodeJob(ns, "b-newer")
			g.Expect(kstatusOf(cur)).To(Equal(status.FailedStatus))
			c := findCondition(cur.Status.Conditions, "Stalled")
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(NodeJobReasonMetricConflict))
			g.Expect(c.Message).To(ContainSubstring("shared_test"))
		}).Should(Succeed())
		Eventually(func() []string { return eventReasons(ns, "b-newer") }).Should(ContainElement(EventMetricConflict))
		Expect(kstatusOf(getNodeJob(ns, "a-older"))).To(Equal(status.CurrentStatus))

		By("the newer one declares the same labels and recovers")
		Eventually(func() error {
			cur := getNodeJob(ns, "b-newer")
			cur.Spec.Metrics.Gauges = older.Spec.Metrics.Gauges
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func() status.Status { return kstatusOf(getNodeJob(ns, "b-newer")) }).Should(Equal(status.CurrentStatus))
	})
})

func getNodeJob(namespace, name string) *batchv1alpha1.NodeJob {
	out := &batchv1alpha1.NodeJob{}
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, out)).To(Succeed())
	return out
}
