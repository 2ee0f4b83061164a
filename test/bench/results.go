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
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/certs"
	resultsnodejob "github.com/jobkeeper/jobkeeper/internal/results/nodejob"
)

// resultBody is the result of the README's example.
const resultBody = `{"test": [{"value": 1.0, "labels": {"label_a": "AAA", "label_b": "BBB"}}, ` +
	`{"value": 2.554, "labels": {"label_a": "AAA2", "label_b": "BBB2"}}]}`

const executionID = "202601010000"

// resultsBench is the results API served in this process as the manager serves it (TLS, TokenReview of projected
// tokens, the NodeJob routes and the controller's sink), and the pods that post to it.
type resultsBench struct {
	cl     *cluster
	sink   *switchSink
	url    string
	http   *http.Client
	run    *batchv1alpha1.NodeJobRun
	nodes  []string
	tokens []string
}

// loadWindow bounds every load run of B6: it sends its requests, or stops when the window has passed.
const loadWindow = 20 * time.Second

// resultsAPI is B6: results/s and latency at 16 and 64 clients, and the server's heap over 200×N requests. Every
// result is measured twice: with the controller's sink (result.json, series, and a status write of the run per
// result), and with the sink's API write left out (result.json only), which is the server's own path: TLS, token
// review (cached), pod and run look-up, parsing, the file store.
func (s *suite) resultsAPI(ctx context.Context) error {
	cl, err := startCluster(ctx, s.dir)
	if err != nil {
		return err
	}
	defer cl.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b, err := startResults(ctx, cl, filepath.Join(s.dir, "results"), 64)
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
	if _, err := b.load(ctx, len(b.tokens), len(b.tokens)); err != nil {
		return err
	}
	sent += len(b.tokens)
	heapSamples = append(heapSamples, sampleHeap())

	byClients := map[int]*b6Figures{1: {}, 16: {}, 64: {}}
	var failures int
	for r := range s.cfg.repeat {
		for _, c := range []int{1, 16, 64} {
			n, failed, err := s.resultsAt(ctx, cl, b, r, c, byClients[c], perRun)
			if err != nil {
				return err
			}
			sent, failures = sent+n, failures+failed
		}
		heapSamples = append(heapSamples, sampleHeap())
	}
	// The rest of the 200×N requests go the server's own path: with a status write per result they would take hours.
	b.sink.storeOnly.Store(true)
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

	one := byClients[1]
	s.add(row{bench: "B6", figure: "plain client: run status patches, 1 at a time", unit: unitPerSec, values: one.plainRate})
	for _, c := range []int{16, 64} {
		f := byClients[c]
		rateRow := row{bench: "B6", figure: fmt.Sprintf("results/s, %d clients (keep-alive TLS, tokens reviewed)", c),
			unit: unitPerSec, values: f.rate, limitName: fmt.Sprintf("plain client: run status patches, %d at once", c),
			limit: f.plainRate, higherIsBetter: true}
		p99Row := row{bench: "B6", figure: fmt.Sprintf("  latency p99, %d clients", c), unit: unitMillis, values: f.p99,
			limitName: "plain status patch p99", limit: f.plainP99}
		if c == 16 {
			rateRow.target, rateRow.check = "≥ 4000/s", func(v, _ float64) bool { return v >= 4000 }
			p99Row.target, p99Row.check = "≤ 20 ms", func(v, _ float64) bool { return v <= 20 }
		}
		s.add(rateRow)
		s.add(row{bench: "B6", figure: fmt.Sprintf("  latency p50, %d clients", c), unit: unitMillis, values: f.p50,
			limitName: "plain status patch p50", limit: f.plainP50})
		s.add(p99Row)
		s.add(row{bench: "B6", figure: fmt.Sprintf("  without the run status write: results/s, %d clients", c),
			unit: unitPerSec, values: f.fastRate})
		s.add(row{bench: "B6", figure: fmt.Sprintf("  without the run status write: p99, %d clients", c),
			unit: unitMillis, values: f.fastP99})
	}
	last := heapSamples[len(heapSamples)-1]
	s.add(row{bench: "B6", figure: fmt.Sprintf("  Go heap in use after %d requests (after GC)", sent), unit: unitMiB,
		values: series{last}, limitName: "after the warm-up", limit: series{heapSamples[0]},
		target: "flat (≤ 1.2×)", check: func(_, q float64) bool { return q <= 1.2 }})
	s.add(row{bench: "B6", figure: "  requests not answered 200", unit: unitCount, values: series{float64(failures)}})
	return nil
}

// b6Figures are B6's figures at one number of clients.
type b6Figures struct{ rate, p50, p99, fastRate, fastP50, fastP99, plainRate, plainP50, plainP99 series }

// resultsAt measures repetition r at c clients: the server's own path, the results with the run status write, and
// the plain client's status patches. It returns the results sent and how many were not answered 200.
func (s *suite) resultsAt(ctx context.Context, cl *cluster, b *resultsBench, r, c int, f *b6Figures,
	perRun int) (sent, failures int, err error) {
	plainRun := func() error {
		if r == 0 && c == 16 {
			s.prof.apiServer(ctx, cl, "b6-plain-16", loadWindow)
		}
		plain, err := b.plainPatches(ctx, c, perRun)
		if err != nil {
			return err
		}
		f.plainRate = append(f.plainRate, plain.rate())
		f.plainP50 = append(f.plainP50, millis(percentile(plain.latencies, 50)))
		f.plainP99 = append(f.plainP99, millis(percentile(plain.latencies, 99)))
		log.Printf("B6 rep %d, %d clients, plain run status patches: %.0f/s, p50 %s, p99 %s, %d failed", r, c,
			plain.rate(), percentile(plain.latencies, 50), percentile(plain.latencies, 99), plain.failed)
		return nil
	}
	if c == 1 {
		return 0, 0, plainRun()
	}

	b.sink.storeOnly.Store(true)
	stopProfile := s.profileSelf(r == 0 && c == 16, "b6-results-16-server-path")
	res, err := b.load(ctx, c, perRun)
	stopProfile()
	if err != nil {
		return 0, 0, err
	}
	sent += len(res.latencies)
	failures += res.failed
	f.fastRate = append(f.fastRate, res.rate())
	f.fastP50 = append(f.fastP50, millis(percentile(res.latencies, 50)))
	f.fastP99 = append(f.fastP99, millis(percentile(res.latencies, 99)))
	log.Printf("B6 rep %d, %d clients, no status write: %.0f results/s, p50 %s, p99 %s, %d not 200: %v", r, c,
		res.rate(), percentile(res.latencies, 50), percentile(res.latencies, 99), res.failed, res.codes)
	b.sink.storeOnly.Store(false)
	if r == 0 && c == 16 {
		s.prof.apiServer(ctx, cl, "b6-results-16", loadWindow)
	}
	stopProfile = s.profileSelf(r == 0 && c == 16, "b6-results-16")
	res, err = b.load(ctx, c, perRun)
	stopProfile()
	if err != nil {
		return 0, 0, err
	}
	sent += len(res.latencies)
	failures += res.failed
	f.rate = append(f.rate, res.rate())
	f.p50 = append(f.p50, millis(percentile(res.latencies, 50)))
	f.p99 = append(f.p99, millis(percentile(res.latencies, 99)))
	log.Printf("B6 rep %d, %d clients: %.0f results/s, p50 %s, p99 %s, %d not 200: %v", r, c, res.rate(),
		percentile(res.latencies, 50), percentile(res.latencies, 99), res.failed, res.codes)

	if err := plainRun(); err != nil {
		return 0, 0, err
	}
	time.Sleep(5 * time.Second) // the API server finishes what the clients gave up on
	return sent, failures, nil
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

// switchSink is the NodeJob results sink; with storeOnly it only stores result.json, as the real sink does
// first, and leaves out the node record and the series.
type switchSink struct {
	*resultsnodejob.StoreSink
	storeOnly atomic.Bool
}

func (s *switchSink) Result(ctx context.Context, t *resultsnodejob.Target, r *resultsnodejob.Result) error {
	if s.storeOnly.Load() {
		return s.Store.PutResult(t.Location, t.Node, r.Raw, t.Limits.MaxRunStorage)
	}
	return s.StoreSink.Result(ctx, t, r)
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
	sink := &switchSink{StoreSink: &resultsnodejob.StoreSink{Client: mgr.GetClient(), Store: store,
		Metrics: nodemetrics.New()}}
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
	srv, err := results.Add(mgr, results.Options{BindAddress: "127.0.0.1:0", CertDir: certDir,
		Families: []results.Family{nj.Family()}})
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
	b := &resultsBench{cl: cl, sink: sink, url: "https://" + srv.Addr(), http: &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 128,
		},
		Timeout: 30 * time.Second,
	}}
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
		if _, err := b.sink.Store.UpdateNode(reports.LocationOf(run), node, func(rec *reports.NodeRecord) error {
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

// loadN posts total results from clients pods at once, for at most window.
func (b *resultsBench) loadN(ctx context.Context, clients, total int, window time.Duration) (loadResult, error) {
	body := []byte(resultBody)
	return drive(clients, total, window, func(c int) (int, error) {
		node := b.nodes[c%len(b.nodes)]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost,
			b.url+"/report/"+node+"/"+executionID+"/result", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+b.tokens[c%len(b.tokens)])
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.http.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	})
}

// plainPatches is the API work of one result done by a plain client: a merge patch of the run's status that sets
// the node's resultReceived and resultTime, clients at once, with the manager user's rights.
func (b *resultsBench) plainPatches(ctx context.Context, clients, total int) (loadResult, error) {
	c, err := client.New(managerRESTConfig(b.cl), client.Options{Scheme: scheme})
	if err != nil {
		return loadResult{}, err
	}
	var n atomic.Int64
	return drive(clients, total, loadWindow, func(int) (int, error) {
		patch := fmt.Sprintf(`{"status":{"storageBytes":%d}}`, n.Add(1))
		run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Name: b.run.Name, Namespace: b.run.Namespace}}
		if err := c.Status().Patch(ctx, run, client.RawPatch(client.Merge.Type(), []byte(patch))); err != nil {
			return http.StatusServiceUnavailable, nil //nolint:nilerr // counted as a failed request
		}
		return http.StatusOK, nil
	})
}
