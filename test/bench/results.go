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
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/certs"
	resultsnodejob "github.com/jobkeeper/jobkeeper/internal/results/nodejob"
)

// resultBodyFormat is the result of the README's example, with a sequence number as the value of its first series,
// so that what the store holds can be matched with the request that was answered 200 (the bodies have the size of
// the README's example give or take a few digits).
const resultBodyFormat = `{"test": [{"value": %d, "labels": {"label_a": "AAA", "label_b": "BBB"}}, ` +
	`{"value": 2.554, "labels": {"label_a": "AAA2", "label_b": "BBB2"}}]}`

func resultBody(seq int64) []byte { return fmt.Appendf(nil, resultBodyFormat, seq) }

const executionID = "202601010000"

// resultsBench is the results API served in this process as the manager serves it (TLS, TokenReview of projected
// tokens, the NodeJob routes and the StoreSink with the run controller's change notes), and the pods that post to
// it: distinct nodes of one run, each with a token bound to its own pod.
type resultsBench struct {
	cl     *cluster
	store  *reports.FileStore
	sink   *resultsnodejob.StoreSink
	nj     *batchv1alpha1.NodeJob
	url    string
	http   *http.Client
	run    *batchv1alpha1.NodeJobRun
	nodes  []string
	tokens []string
	// seq numbers the requests; acked[i] is the sequence number of the last request for node i answered 200.
	seq   atomic.Int64
	acked []atomic.Int64
	ok    atomic.Int64
	// notes and reconciles count the change notes of the sink and the run reconciles they became.
	notes, reconciles atomic.Int64
}

// loadWindow bounds every load run of B6: it sends its requests, or stops when the window has passed.
const loadWindow = 20 * time.Second

// resultsAPI is B6: results/s and latency at 16 and 64 clients through the StoreSink (result.json written durably,
// which is also the node's receipt; the series; a change note for the run controller), next to the minimal work of
// a result measured in the same repetition at the same concurrency on the same file system: one durable atomic
// write of the same body. Then the server's heap over 200×N requests, and what a store opened afresh and a registry
// rebuilt from it hold, next to the requests answered 200.
func (s *suite) resultsAPI(ctx context.Context) error {
	cl, err := startCluster(ctx, s.dir)
	if err != nil {
		return err
	}
	defer cl.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dir := filepath.Join(s.dir, "results")
	b, err := startResults(ctx, cl, dir, 64)
	if err != nil {
		return err
	}
	plain, err := newPlainWriter(filepath.Join(dir, "plain"), len(b.nodes))
	if err != nil {
		return err
	}
	n := s.cfg.n
	perRun := 20 * n
	total := 200 * n
	sent := 0
	var heapSamples []float64
	sampleHeap := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapInuse) / mib
	}

	// Warm-up: every token reviewed once, every pod read once.
	warm, err := b.warmUp(ctx)
	if err != nil {
		return err
	}
	sent += warm
	heapSamples = append(heapSamples, sampleHeap())

	byClients := map[int]*b6Figures{16: {}, 64: {}}
	var failures int
	for r := range s.cfg.repeat {
		for _, c := range []int{16, 64} {
			f := byClients[c]
			lim, err := plain.load(c, perRun)
			if err != nil {
				return err
			}
			f.plainRate = append(f.plainRate, lim.rate())
			f.plainP50 = append(f.plainP50, millis(percentile(lim.latencies, 50)))
			f.plainP99 = append(f.plainP99, millis(percentile(lim.latencies, 99)))
			log.Printf("B6 rep %d, %d clients, plain durable writes: %.0f/s, p50 %s, p99 %s", r, c, lim.rate(),
				percentile(lim.latencies, 50), percentile(lim.latencies, 99))

			stopProfile := s.profileSelf(r == 0, fmt.Sprintf("b6-results-%d", c))
			res, err := b.load(ctx, c, perRun)
			stopProfile()
			if err != nil {
				return err
			}
			sent += len(res.latencies)
			failures += res.failed
			f.rate = append(f.rate, res.rate())
			f.p50 = append(f.p50, millis(percentile(res.latencies, 50)))
			f.p99 = append(f.p99, millis(percentile(res.latencies, 99)))
			log.Printf("B6 rep %d, %d clients: %.0f results/s, p50 %s, p99 %s, %d not 200: %v", r, c, res.rate(),
				percentile(res.latencies, 50), percentile(res.latencies, 99), res.failed, res.codes)
		}
		heapSamples = append(heapSamples, sampleHeap())
	}
	for sent < total {
		res, err := b.loadN(ctx, 16, min(perRun, total-sent), time.Hour)
		if err != nil {
			return err
		}
		failures += res.failed
		sent += len(res.latencies)
		heapSamples = append(heapSamples, sampleHeap())
	}
	log.Printf("B6: Go heap in use after GC over %d requests (MiB): %.1f", sent, heapSamples)
	log.Printf("B6: %d change notes for the run controller, %d run reconciles after coalescing", b.notes.Load(),
		b.reconciles.Load())
	if s.prof != nil {
		runtime.GC()
		f, err := os.Create(filepath.Join(s.prof.dir, "b6-results.heap.pprof"))
		if err != nil {
			return err
		}
		err = pprof.WriteHeapProfile(f)
		if err := errors.Join(err, f.Close()); err != nil {
			return err
		}
	}
	check, err := b.verify(ctx, dir)
	if err != nil {
		return err
	}
	log.Printf("B6: %s", check)

	for _, c := range []int{16, 64} {
		f := byClients[c]
		rateRow := row{bench: "B6", figure: fmt.Sprintf("results/s, %d clients (keep-alive TLS, tokens reviewed, durable)", c),
			unit: unitPerSec, values: f.rate, limitName: fmt.Sprintf("plain durable write of the body, %d at once", c),
			limit: f.plainRate, higherIsBetter: true}
		p99Row := row{bench: "B6", figure: fmt.Sprintf("  latency p99, %d clients", c), unit: unitMillis, values: f.p99,
			limitName: "plain durable write p99", limit: f.plainP99}
		if c == 64 {
			rateRow.target, rateRow.check = "≥ 2000/s", func(v, _ float64) bool { return v >= 2000 }
			p99Row.target, p99Row.check = "≤ 100 ms", func(v, _ float64) bool { return v <= 100 }
		}
		s.add(rateRow)
		s.add(row{bench: "B6", figure: fmt.Sprintf("  latency p50, %d clients", c), unit: unitMillis, values: f.p50,
			limitName: "plain durable write p50", limit: f.plainP50})
		s.add(p99Row)
	}
	last := heapSamples[len(heapSamples)-1]
	s.add(row{bench: "B6", figure: fmt.Sprintf("  Go heap in use after %d requests (after GC)", sent), unit: unitMiB,
		values: series{last}, limitName: "after the warm-up", limit: series{heapSamples[0]},
		target: "flat (≤ 1.2×)", check: func(_, q float64) bool { return q <= 1.2 }})
	s.add(row{bench: "B6", figure: "  requests answered 200", unit: unitCount, values: series{float64(b.ok.Load())}})
	s.add(row{bench: "B6", figure: "  requests not answered 200", unit: unitCount, values: series{float64(failures)}})
	s.add(row{bench: "B6", figure: fmt.Sprintf("  nodes whose result.json is their last body answered 200 (of %d)",
		len(b.nodes)), unit: unitCount, values: series{float64(check.stored)}})
	s.add(row{bench: "B6", figure: fmt.Sprintf("  nodes whose series a registry rebuilt from the store holds (of %d)",
		len(b.nodes)), unit: unitCount, values: series{float64(check.restored)}})
	s.add(row{bench: "B6", figure: "  results lost (answered 200, not in the store or not restored)", unit: unitCount,
		values: series{float64(check.lost())}, target: "0", check: func(v, _ float64) bool { return v == 0 }})
	return nil
}

// b6Figures are B6's figures at one number of clients.
type b6Figures struct{ rate, p50, p99, plainRate, plainP50, plainP99 series }

// storeCheck is what a store opened afresh on the report directory holds after the load, compared with the
// requests answered 200.
type storeCheck struct {
	// nodes is the number of nodes with a request answered 200.
	nodes int
	// stored counts the nodes whose result.json is the last body answered 200; newer the nodes whose result.json
	// is a later body whose answer was not 200 (or came too late), which is not a loss.
	stored, newer int
	// received counts the nodes whose record says a result was received, as the run controller reads it.
	received int
	// restored counts the nodes whose series, in a fresh registry loaded from the store, carry the stored body.
	restored int
	// missing lists nodes whose last body answered 200 is not in the store or not restored.
	missing []string
}

func (c storeCheck) lost() int { return len(c.missing) }

func (c storeCheck) String() string {
	return fmt.Sprintf("store opened afresh: %d nodes answered 200; result.json holds the last body answered 200 for "+
		"%d, a later one for %d; %d records say a result was received; a registry rebuilt from the store holds the "+
		"series of %d; lost: %d %v", c.nodes, c.stored, c.newer, c.received, c.restored, c.lost(), c.missing)
}

// verify opens the report directory as a restarted manager does and compares what it holds with the requests
// answered 200: every node's result.json and record, and the series a fresh registry loads with SeriesLoader.
func (b *resultsBench) verify(ctx context.Context, dir string) (storeCheck, error) {
	var c storeCheck
	store, err := reports.NewFileStore(filepath.Join(dir, "reports"))
	if err != nil {
		return c, err
	}
	defer func() { _ = store.Close() }()
	loc := reports.LocationOf(b.run)
	recs, err := store.Nodes(loc)
	if err != nil {
		return c, err
	}
	// The run controller's view: every node's record, as syncMetrics builds it.
	var nodes []batchv1alpha1.NodeJobRunNode
	for _, node := range b.nodes {
		rec := recs[node]
		if rec.ResultReceived {
			c.received++
		}
		nodes = append(nodes, batchv1alpha1.NodeJobRunNode{Name: node, Phase: rec.Phase,
			PodName: rec.PodName, ResultReceived: rec.ResultReceived})
	}
	reg := nodemetrics.New()
	if _, err := reg.Declare(b.nj); err != nil {
		return c, err
	}
	reg.SyncRun(b.run, nodes, resultsnodejob.SeriesLoader(store))
	restored, err := gatheredSeq(reg, "_test")
	if err != nil {
		return c, err
	}
	for i, node := range b.nodes {
		acked := b.acked[i].Load()
		if acked == 0 {
			continue
		}
		c.nodes++
		data, err := store.ReadResult(loc, node)
		var stored int64
		if err == nil {
			var body struct {
				Test []struct{ Value float64 } `json:"test"`
			}
			if json.Unmarshal(data, &body) == nil && len(body.Test) > 0 {
				stored = int64(body.Test[0].Value)
			}
		}
		switch {
		case stored == acked:
			c.stored++
		case stored > acked:
			c.newer++
		}
		if stored >= acked && restored[node] == stored {
			c.restored++
		} else {
			c.missing = append(c.missing, fmt.Sprintf("%s: answered 200 up to %d, stored %d, restored %d", node,
				acked, stored, restored[node]))
		}
	}
	return c, ctx.Err()
}

// gatheredSeq returns, per node, the value of the series with label_a="AAA" of the family named suffix (after the
// NodeJob's metric prefix) that reg exports.
func gatheredSeq(reg *nodemetrics.Registry, suffix string) (map[string]int64, error) {
	pr := prometheus.NewRegistry()
	if err := pr.Register(reg); err != nil {
		return nil, err
	}
	mfs, err := pr.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), suffix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["label_a"] == "AAA" {
				out[labels["node"]] = int64(m.GetGauge().GetValue())
			}
		}
	}
	return out, nil
}

// profileSelf starts a CPU profile of this process when on and profiling is asked for; the result stops it.
func (s *suite) profileSelf(on bool, name string) func() {
	if !on || s.prof == nil {
		return func() {}
	}
	f, err := os.Create(filepath.Join(s.prof.dir, name+".cpu.pprof"))
	if err != nil {
		log.Printf("profile %s: %v", name, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Printf("profile %s: %v", name, err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// plainWriter is the minimal work of a result: one durable atomic write of its body, as a store without anything
// else would do it (a temporary file written and synced, renamed over nodes/<node>/result.json, the directory
// synced), on the file system of the report store.
type plainWriter struct {
	dir   string
	nodes int
	seq   atomic.Int64
}

func newPlainWriter(dir string, nodes int) (*plainWriter, error) {
	for i := range nodes {
		if err := os.MkdirAll(filepath.Join(dir, "nodes", strconv.Itoa(i)), 0o750); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	return &plainWriter{dir: dir, nodes: nodes}, nil
}

// load writes total bodies from clients goroutines at once, for at most loadWindow; client i writes node i.
func (p *plainWriter) load(clients, total int) (loadResult, error) {
	return drive(clients, total, loadWindow, func(c int) (int, error) {
		seq := p.seq.Add(1)
		tmp := filepath.Join(p.dir, "tmp", strconv.FormatInt(seq, 10))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return 0, err
		}
		_, err = f.Write(resultBody(seq))
		if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
			return 0, err
		}
		nodeDir := filepath.Join(p.dir, "nodes", strconv.Itoa(c%p.nodes))
		if err := os.Rename(tmp, filepath.Join(nodeDir, reports.ResultFileName)); err != nil {
			return 0, err
		}
		d, err := os.Open(nodeDir)
		if err != nil {
			return 0, err
		}
		if err := errors.Join(d.Sync(), d.Close()); err != nil {
			return 0, err
		}
		return http.StatusOK, nil
	})
}

// startResults starts a manager in this process with the results API and the NodeJob routes (rate limit off),
// and a NodeJobRun with pods pods, each with a projected token.
func startResults(ctx context.Context, cl *cluster, dir string, pods int) (*resultsBench, error) {
	cfg := managerRESTConfig(cl)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return nil, err
	}
	store, err := reports.NewFileStore(filepath.Join(dir, "reports"))
	if err != nil {
		return nil, err
	}
	b := &resultsBench{cl: cl, store: store}
	// The run controller's side of the change notes: a workqueue holds each run once until a reconcile takes it,
	// and the reconcile reads the run's node records, as the run controller does before it writes the status.
	queue := workqueue.NewTyped[types.NamespacedName]()
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	go func() {
		for {
			key, shutdown := queue.Get()
			if shutdown {
				return
			}
			if b.run != nil {
				_, _ = store.Nodes(reports.LocationOf(b.run))
			}
			b.reconciles.Add(1)
			queue.Done(key)
		}
	}()
	changes := reports.NewChanges()
	changes.Start(func(key types.NamespacedName) {
		b.notes.Add(1)
		queue.Add(key)
	})
	b.sink = &resultsnodejob.StoreSink{Client: mgr.GetClient(), Store: store, Metrics: nodemetrics.New(),
		Changes: changes}
	sink := b.sink
	nj, err := resultsnodejob.New(mgr, resultsnodejob.Options{
		Store:             store,
		Sink:              sink,
		RequestsPerMinute: -1, // the benchmark posts far more often than a pod would
	})
	if err != nil {
		return nil, err
	}
	certDir := filepath.Join(dir, "certs")
	if err := certs.Generate(certDir, []string{"localhost", "127.0.0.1"}, time.Hour); err != nil {
		return nil, err
	}
	// Every pod posts from 127.0.0.1 here, where in a cluster each has its own address and so its own bucket of
	// token reviews: the bucket of the one address holds a review for every pod, as the pods' buckets would. Every
	// token is still reviewed (again when its cache entry expires).
	srv, err := results.Add(mgr, results.Options{BindAddress: "127.0.0.1:0", CertDir: certDir,
		Families: []results.Family{nj.Family()}, SourceReviewBurst: max(pods, results.DefaultSourceReviewBurst)})
	if err != nil {
		return nil, err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			log.Printf("results manager: %v", err)
		}
	}()
	for srv.Addr() == "" {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	pool, err := certs.CAPool(srv.CAFile())
	if err != nil {
		return nil, err
	}
	b.url = "https://" + srv.Addr()
	b.http = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 128,
		},
		Timeout: 30 * time.Second,
	}
	return b, b.createRun(ctx, pods)
}

// managerRESTConfig is the manager user's configuration without client-side throttling, as the manager configures it.
func managerRESTConfig(cl *cluster) *rest.Config {
	cfg := *cl.managerConfig
	cfg.QPS, cfg.Burst = -1, 0
	return &cfg
}

func (b *resultsBench) createRun(ctx context.Context, pods int) error {
	const ns = "results"
	if err := b.cl.namespace(ctx, ns); err != nil {
		return err
	}
	nj := nodeJob(ns, "nj", "none", 1)
	nj.Spec.RunOnCreate = false
	nj.Spec.Metrics.Gauges = map[string]batchv1alpha1.NodeJobGauge{"test": {Help: "a gauge", Labels: []string{"label_a", "label_b"}}}
	if err := b.cl.c.Create(ctx, nj); err != nil {
		return err
	}
	b.nj = nj
	run := &batchv1alpha1.NodeJobRun{
		ObjectMeta: metav1.ObjectMeta{Name: "nj-1", Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(nj, batchv1alpha1.GroupVersion.WithKind("NodeJob"))}},
		Spec: batchv1alpha1.NodeJobRunSpec{NodeJobName: nj.Name, ExecutionID: executionID, ScheduledTime: metav1.Now(),
			Trigger: batchv1alpha1.NodeJobRunTriggerManual, NodeJobRunTemplate: nj.Spec.NodeJobRunTemplate},
	}
	if err := b.cl.c.Create(ctx, run); err != nil {
		return err
	}
	now := metav1.Now()
	run.Status.Phase, run.Status.StartTime = batchv1alpha1.NodeJobRunPhaseRunning, &now
	for i := range pods {
		node := fmt.Sprintf("node-%02d", i)
		b.nodes = append(b.nodes, node)
	}
	b.acked = make([]atomic.Int64, pods)
	run.Status.Desired, run.Status.Active = int32(pods), int32(pods)
	if err := b.cl.c.Status().Update(ctx, run); err != nil {
		return err
	}
	b.run = run
	for _, node := range b.nodes {
		spec := podSpec()
		spec.ServiceAccountName = "job"
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: resultsnodejob.PodName(run.Name, node), Namespace: ns,
				Labels:      map[string]string{batchv1alpha1.NodeJobNameLabel: nj.Name, batchv1alpha1.NodeJobRunNameLabel: run.Name},
				Annotations: map[string]string{batchv1alpha1.NodeJobNodeNameAnnotation: node},
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(run,
					batchv1alpha1.GroupVersion.WithKind("NodeJobRun"))}},
			Spec: spec,
		}
		if err := b.cl.c.Create(ctx, pod); err != nil {
			return err
		}
		// As the run controller does: the pod is trusted once its UID is in the node's record.
		if _, err := b.store.UpdateNode(reports.LocationOf(run), node, func(rec *reports.NodeRecord) error {
			rec.Phase, rec.PodName, rec.PodUID = batchv1alpha1.NodeJobRunNodePhaseRunning, pod.Name, pod.UID
			return nil
		}); err != nil {
			return err
		}
		tr, err := b.cl.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "job", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{
				Audiences:         []string{results.DefaultAudience},
				ExpirationSeconds: new(int64(3600)),
				BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		b.tokens = append(b.tokens, tr.Status.Token)
	}
	return nil
}

// loadResult is what a load run measured.
type loadResult struct {
	took      time.Duration
	latencies []time.Duration
	failed    int
	codes     map[int]int
}

// rate is the rate of requests answered 200.
func (l loadResult) rate() float64 { return float64(len(l.latencies)-l.failed) / l.took.Seconds() }

// drive sends total requests from clients goroutines, or fewer when window has passed; client i is pod i.
func drive(clients, total int, window time.Duration, send func(i int) (int, error)) (loadResult, error) {
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{codes: map[int]int{}}
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(window)
	for c := range clients {
		wg.Go(func() {
			var lat []time.Duration
			codes := map[int]int{}
			var err error
			for next.Add(1) <= int64(total) && time.Now().Before(deadline) {
				t0 := time.Now()
				var code int
				if code, err = send(c); err != nil {
					break
				}
				lat = append(lat, time.Since(t0))
				codes[code]++
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			for k, v := range codes {
				res.codes[k] += v
				if k != http.StatusOK {
					res.failed += v
				}
			}
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	return res, first
}

// load posts total results from clients pods at once, for at most loadWindow.
func (b *resultsBench) load(ctx context.Context, clients, total int) (loadResult, error) {
	return b.loadN(ctx, clients, total, loadWindow)
}

// warmUp posts one result for every pod, all pods at once, each until it is answered 200, as a pod retries after a
// 429 (the tokens of all pods come from one address here, whose bucket of token reviews is bounded). It returns
// the number of requests sent.
func (b *resultsBench) warmUp(ctx context.Context) (int, error) {
	var sent atomic.Int64
	_, err := drive(len(b.nodes), len(b.nodes), time.Minute, func(c int) (int, error) {
		for {
			sent.Add(1)
			code, err := b.post(ctx, c)
			if err != nil || code == http.StatusOK {
				return code, err
			}
			if code != http.StatusTooManyRequests {
				return code, fmt.Errorf("warm-up of %s: answered %d", b.nodes[c], code)
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return int(sent.Load()), err
}

// loadN posts total results from clients pods at once, for at most window. Each body carries a new sequence
// number; the last one answered 200 is kept per node.
func (b *resultsBench) loadN(ctx context.Context, clients, total int, window time.Duration) (loadResult, error) {
	return drive(clients, total, window, func(c int) (int, error) { return b.post(ctx, c%len(b.nodes)) })
}

// post sends one result for node i with its pod's token and returns the answer's status code.
func (b *resultsBench) post(ctx context.Context, i int) (int, error) {
	seq := b.seq.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		b.url+"/report/"+b.nodes[i]+"/"+executionID+"/result", bytes.NewReader(resultBody(seq)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.tokens[i])
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		// Only one client posts for node i, one request at a time: seq only grows.
		b.acked[i].Store(seq)
		b.ok.Add(1)
	}
	return resp.StatusCode, nil
}
