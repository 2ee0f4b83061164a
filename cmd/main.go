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

// Command manager runs the jobkeeper controllers and admission webhooks.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	// Import all Kubernetes client auth plugins (e.g. Azure, GCP, OIDC, etc.)
	// to ensure that exec-entrypoint and run can make use of them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/apimetrics"
	batchcontroller "github.com/jobkeeper/jobkeeper/internal/controller/batch"
	quarkscontroller "github.com/jobkeeper/jobkeeper/internal/controller/quarks"
	"github.com/jobkeeper/jobkeeper/internal/labelcache"
	"github.com/jobkeeper/jobkeeper/internal/leaderpod"
	"github.com/jobkeeper/jobkeeper/internal/memlimit"
	"github.com/jobkeeper/jobkeeper/internal/nodemetrics"
	"github.com/jobkeeper/jobkeeper/internal/objectmetrics"
	"github.com/jobkeeper/jobkeeper/internal/quarksoutput"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
	resultsnodejob "github.com/jobkeeper/jobkeeper/internal/results/nodejob"
	resultsquarksjob "github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/internal/resultsca"
	webhookbatchv1alpha1 "github.com/jobkeeper/jobkeeper/internal/webhook/batch/v1alpha1"
	webhookquarksv1alpha1 "github.com/jobkeeper/jobkeeper/internal/webhook/quarks/v1alpha1"
	// +kubebuilder:scaffold:imports
)

// defaultMemoryLimitRatio leaves the rest of the container's memory limit to what the Go runtime does not count
// (stacks of cgo threads, the binary's mapped pages) and to the headroom the collector needs to keep up.
const defaultMemoryLimitRatio = 0.9

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))

	utilruntime.Must(quarksv1alpha1.AddToScheme(scheme))
	utilruntime.Must(batchv1alpha1.AddToScheme(scheme))
	// +kubebuilder:scaffold:scheme
}

// options holds the command-line configuration of the manager.
type options struct {
	metricsAddr          string
	metricsSecure        bool
	metricsCertPath      string
	metricsCertName      string
	metricsCertKey       string
	probeAddr            string
	enableLeaderElection bool
	leaderElectionID     string
	leaderElectionNS     string
	webhookPort          int
	webhookCertPath      string
	webhookCertName      string
	webhookCertKey       string
	enableWebhooks       bool
	enableHTTP2          bool
	watchNamespaces      string
	reactiveJobWorkers   int
	rjAuthorizeCreate    bool
	operatorNamespace    string
	quarksJobWorkers     int
	monitoredID          string
	adoptLegacyOutput    bool
	outputPersistImage   string
	persistOutputTimeout int64
	memoryLimitRatio     float64
	resultsAddr          string
	resultsAudience      string
	resultsCertPath      string
	resultsCertName      string
	resultsCertKey       string
	reportDir            string
	nodeJobWorkers       int
	maxNodesPerRun       int
	nodeJobMaxSeries     int
	zap                  zap.Options
}

func (o *options) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to, e.g. :8080. \"0\" disables the metrics server.")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization; false serves plain HTTP.")
	fs.StringVar(&o.metricsCertPath, "metrics-cert-path", "",
		"Directory holding the metrics server certificate. Empty uses a generated self-signed certificate.")
	fs.StringVar(&o.metricsCertName, "metrics-cert-name", "tls.crt", "The metrics server certificate file name.")
	fs.StringVar(&o.metricsCertKey, "metrics-cert-key", "tls.key", "The metrics server key file name.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	fs.BoolVar(&o.enableLeaderElection, "leader-elect", false,
		"Enable leader election (a coordination.k8s.io Lease) so that only one replica runs the controllers.")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "jobkeeper.cs.sap.com", "The name of the leader election Lease.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "",
		"The namespace of the leader election Lease. Empty uses the namespace the manager runs in.")
	fs.IntVar(&o.webhookPort, "webhook-port", webhook.DefaultPort, "The port the admission webhook server listens on.")
	fs.StringVar(&o.webhookCertPath, "webhook-cert-path", "",
		"Directory holding the webhook server certificate. Empty uses <temp>/k8s-webhook-server/serving-certs.")
	fs.StringVar(&o.webhookCertName, "webhook-cert-name", "tls.crt", "The webhook certificate file name.")
	fs.StringVar(&o.webhookCertKey, "webhook-cert-key", "tls.key", "The webhook key file name.")
	fs.BoolVar(&o.enableWebhooks, "enable-webhooks", true, "Serve the admission webhooks.")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics and webhook servers (off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs).")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces to watch. Empty watches all namespaces.")
	fs.IntVar(&o.reactiveJobWorkers, "reactivejob-concurrency", 4, "The number of ReactiveJobs reconciled at once.")
	fs.BoolVar(&o.rjAuthorizeCreate, "reactivejob-authorize-job-create", false,
		"Deny ReactiveJobs from users who may not create jobs.batch in the namespace themselves.")
	fs.StringVar(&o.operatorNamespace, "operator-namespace", defaultOperatorNamespace(),
		"The namespace the operator keeps its own objects in (the configuration hash key).")
	fs.IntVar(&o.quarksJobWorkers, "quarksjob-concurrency", 4, "The number of QuarksJobs reconciled at once.")
	fs.StringVar(&o.monitoredID, "monitored-id", os.Getenv("MONITORED_ID"),
		"Serve QuarksJobs only in namespaces labelled quarks.cloudfoundry.org/monitored=<id>; empty serves all.")
	fs.BoolVar(&o.adoptLegacyOutput, "adopt-legacy-output-secrets", true,
		"Let a QuarksJob write into an existing output Secret that has no qjob-name label and no ownerReferences "+
			"when its container-name label matches the mapped container, adopting it with the qjob-name label.")
	fs.Float64Var(&o.memoryLimitRatio, "memory-limit-ratio", defaultMemoryLimitRatio,
		"The Go runtime's soft memory limit as a fraction of the container's memory limit (its cgroup's); "+
			"0 sets none. The GOMEMLIMIT environment variable, when set, wins.")
	fs.Int64Var(&o.persistOutputTimeout, "persist-output-timeout", int64(quarkscontroller.DefaultPersistOutputTimeout.Seconds()),
		"Seconds the output-persist sidecar waits for the other containers of a QuarksJob pod when "+
			"spec.output.timeoutSeconds is unset.")
	fs.StringVar(&o.outputPersistImage, "output-persist-image",
		cmp.Or(os.Getenv("OUTPUT_PERSIST_IMAGE"), quarkscontroller.DefaultOutputPersistImage),
		"The image of the output-persist sidecar of QuarksJob pods.")
	fs.StringVar(&o.resultsAddr, "results-bind-address", results.DefaultBindAddress,
		"The address the results API for job pods binds to. \"0\" disables it.")
	fs.StringVar(&o.resultsAudience, "results-audience", results.DefaultAudience,
		"The audience of the projected service-account tokens that job pods present to the results API.")
	fs.StringVar(&o.resultsCertPath, "results-cert-dir", "",
		"Directory holding the results API certificate, key and CA bundle (tls.crt, tls.key, ca.crt). "+
			"Empty generates a CA and a certificate into <temp>/jobkeeper-results/serving-certs.")
	fs.StringVar(&o.resultsCertName, "results-cert-name", "tls.crt", "The results API certificate file name.")
	fs.StringVar(&o.resultsCertKey, "results-cert-key", "tls.key", "The results API key file name.")
	fs.StringVar(&o.reportDir, "report-dir", cmp.Or(os.Getenv("REPORT_DIRECTORY"), resultsnodejob.DefaultReportDir),
		"The directory NodeJob report files are stored in (env REPORT_DIRECTORY).")
	fs.IntVar(&o.nodeJobWorkers, "nodejob-concurrency", 4, "The number of NodeJobs and NodeJobRuns reconciled at once.")
	fs.IntVar(&o.maxNodesPerRun, "max-nodes-per-run", batchcontroller.DefaultMaxNodesPerRun,
		"NodeJob runs that select more nodes fail with TooManyNodes.")
	fs.IntVar(&o.nodeJobMaxSeries, "nodejob-max-series", nodemetrics.DefaultMaxSeries,
		"The result series kept across all NodeJobs; series beyond it are dropped and counted.")
	o.zap.Development = false
	o.zap.BindFlags(fs)
}

func main() {
	if err := run(ctrl.SetupSignalHandler(), os.Args[1:], nil); err != nil {
		setupLog.Error(err, "manager exited with an error")
		os.Exit(1)
	}
}

// run parses args, builds the manager and runs it until ctx ends. A nil cfg
// loads the kubeconfig the usual way (--kubeconfig, $KUBECONFIG, in-cluster).
func run(ctx context.Context, args []string, cfg *rest.Config) error {
	var o options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	o.bindFlags(fs)
	if cfg == nil {
		// --kubeconfig is registered on the global flag set by controller-runtime.
		if f := flag.CommandLine.Lookup("kubeconfig"); f != nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.persistOutputTimeout < 1 {
		return fmt.Errorf("--persist-output-timeout must be at least 1 second, not %d", o.persistOutputTimeout)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	if soft, err := memlimit.Set("/", o.memoryLimitRatio); err != nil {
		return fmt.Errorf("setting the memory limit: %w", err)
	} else if soft > 0 {
		setupLog.Info("soft memory limit set from the container's limit", "bytes", soft, "ratio", o.memoryLimitRatio)
	}

	if cfg == nil {
		var err error
		if cfg, err = ctrl.GetConfig(); err != nil {
			return fmt.Errorf("loading kubeconfig: %w", err)
		}
	}

	cfg = rest.CopyConfig(cfg)
	apimetrics.Instrument(cfg)
	mgr, watchers, err := newManager(cfg, &o)
	if err != nil {
		return err
	}
	conditions := objectmetrics.New(mgr.GetCache(), mgr.Elected())
	if err := metrics.Registry.Register(conditions); err != nil {
		return fmt.Errorf("registering the condition metrics: %w", err)
	}
	defer metrics.Registry.Unregister(conditions)

	var ca *resultsca.Publisher
	nodeJobGauges.SetMaxSeries(o.nodeJobMaxSeries)
	reports := newNodeJobReports()
	if reports.pods, err = batchcontroller.NewRunPodCache(mgr, splitList(o.watchNamespaces)); err != nil {
		return fmt.Errorf("setting up the cache of NodeJob pods: %w", err)
	}
	if o.resultsAddr != "0" {
		srv, store, err := setupResults(mgr, &o, reports)
		if err != nil {
			return err
		}
		caCache, err := resultsca.NewCache(mgr, splitList(o.watchNamespaces))
		if err != nil {
			return err
		}
		ca = &resultsca.Publisher{Client: mgr.GetClient(), Reader: caCache, CAFile: srv.CAFile()}
		// A renewed CA reaches the namespaces that have job pods now, not only those of the next pods.
		caChanged := make(chan struct{}, 1)
		srv.OnCertificateReload(func() {
			select {
			case caChanged <- struct{}{}:
			default:
			}
		})
		if err := mgr.Add(&resultsca.Republisher{Publisher: ca, Changed: caChanged}); err != nil {
			return err
		}
		reports.store = store
		// In a pod, the leader labels its pod, which the results Service selects.
		if pod := os.Getenv("POD_NAME"); pod != "" {
			if err := mgr.Add(&leaderpod.Labeler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
				Namespace: o.operatorNamespace, PodName: pod, Elected: mgr.Elected()}); err != nil {
				return err
			}
		}
	}
	if err := setupControllers(ctx, mgr, &o, ca, reports); err != nil {
		return err
	}
	if o.enableWebhooks {
		if err := setupWebhooks(mgr, &o); err != nil {
			return err
		}
	}

	// +kubebuilder:scaffold:builder

	for _, w := range watchers {
		if err := mgr.Add(w); err != nil {
			return fmt.Errorf("adding certificate watcher: %w", err)
		}
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}
	if o.enableWebhooks {
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return fmt.Errorf("adding webhook ready check: %w", err)
		}
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}

// newManager builds the manager from the options. The returned certificate
// watchers reload the webhook and metrics certificates and must be added to it.
func newManager(cfg *rest.Config, o *options) (ctrl.Manager, []*certwatcher.CertWatcher, error) {
	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}

	var watchers []*certwatcher.CertWatcher
	webhookOpts := webhook.Options{Port: o.webhookPort, TLSOpts: tlsOpts}
	if o.webhookCertPath != "" {
		w, opt, err := certWatcher(o.webhookCertPath, o.webhookCertName, o.webhookCertKey)
		if err != nil {
			return nil, nil, fmt.Errorf("loading webhook certificate: %w", err)
		}
		watchers = append(watchers, w)
		webhookOpts.TLSOpts = append(webhookOpts.TLSOpts, opt)
	}

	metricsOpts := metricsserver.Options{
		BindAddress:   o.metricsAddr,
		SecureServing: o.metricsSecure,
		TLSOpts:       tlsOpts,
	}
	if o.metricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if o.metricsCertPath != "" {
		w, opt, err := certWatcher(o.metricsCertPath, o.metricsCertName, o.metricsCertKey)
		if err != nil {
			return nil, nil, fmt.Errorf("loading metrics certificate: %w", err)
		}
		watchers = append(watchers, w)
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, opt)
	}

	// The caches keep no managedFields and no last-applied-configuration: nothing reads them, and they are a large
	// part of every object.
	cacheOpts := cache.Options{DefaultTransform: labelcache.StripMetadata}
	if ns := splitList(o.watchNamespaces); len(ns) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, n := range ns {
			cacheOpts.DefaultNamespaces[n] = cache.Config{}
		}
	}

	renewDeadline, leaseDuration, retryPeriod := 10*time.Second, 15*time.Second, 2*time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		WebhookServer:                 webhook.NewServer(webhookOpts),
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.enableLeaderElection,
		LeaderElectionID:              o.leaderElectionID,
		LeaderElectionNamespace:       o.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
		Cache:                         cacheOpts,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating manager: %w", err)
	}
	return mgr, watchers, nil
}

// certWatcher watches a certificate and key in dir and returns the TLS option
// that serves the current pair.
func certWatcher(dir, certName, keyName string) (*certwatcher.CertWatcher, func(*tls.Config), error) {
	w, err := certwatcher.New(filepath.Join(dir, certName), filepath.Join(dir, keyName))
	if err != nil {
		return nil, nil, err
	}
	return w, func(c *tls.Config) { c.GetCertificate = w.GetCertificate }, nil
}

// setupControllers registers every reconciler with the manager.
// nodeJobGauges exports the results of NodeJob pods on the manager's /metrics.
var nodeJobGauges = nodemetrics.New()

func init() {
	metrics.Registry.MustRegister(nodeJobGauges)
}

// nodeJobReports is where NodeJob results go: the gauges, and the report store when the results API is on;
// changes carries the runs whose node records the results API changed to the run controller.
type nodeJobReports struct {
	metrics *nodemetrics.Registry
	store   *reports.FileStore
	changes *reports.Changes
	// pods is the cache of the runs' pods, shared by the NodeJobRun controller and the results API.
	pods cache.Cache
}

func newNodeJobReports() nodeJobReports {
	return nodeJobReports{metrics: nodeJobGauges, changes: reports.NewChanges()}
}

func setupControllers(ctx context.Context, mgr ctrl.Manager, o *options, ca *resultsca.Publisher,
	reports nodeJobReports) error {
	// The manager's client reads from caches that start with the manager, so
	// the hash key is read with a direct client.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return err
	}
	hashKey, err := quarkscontroller.LoadOrCreateHashKey(ctx, direct, o.operatorNamespace)
	if err != nil {
		return err
	}
	return errors.Join(
		(&quarkscontroller.QuarksJobReconciler{
			Client:                  mgr.GetClient(),
			Scheme:                  mgr.GetScheme(),
			Namespaces:              splitList(o.watchNamespaces),
			HashKey:                 hashKey,
			MaxConcurrentReconciles: o.quarksJobWorkers,
			MonitoredID:             o.monitoredID,
			ResultsCA:               ca,
			Sidecar: quarkscontroller.SidecarConfig{
				Image:            o.outputPersistImage,
				Timeout:          time.Duration(o.persistOutputTimeout) * time.Second,
				ResultsNamespace: o.operatorNamespace,
				Audience:         o.resultsAudience,
			},
		}).SetupWithManager(mgr),
		(&batchcontroller.ReactiveJobReconciler{
			Client:                  mgr.GetClient(),
			Scheme:                  mgr.GetScheme(),
			Namespaces:              splitList(o.watchNamespaces),
			MaxConcurrentReconciles: o.reactiveJobWorkers,
		}).SetupWithManager(mgr),
		(&batchcontroller.NodeJobReconciler{
			Client:                  mgr.GetClient(),
			Scheme:                  mgr.GetScheme(),
			MaxConcurrentReconciles: o.nodeJobWorkers,
			Metrics:                 reports.metrics,
		}).SetupWithManager(mgr),
		(&batchcontroller.NodeJobRunReconciler{
			Client:                  mgr.GetClient(),
			Scheme:                  mgr.GetScheme(),
			Namespaces:              splitList(o.watchNamespaces),
			MaxConcurrentReconciles: o.nodeJobWorkers,
			MaxNodesPerRun:          o.maxNodesPerRun,
			ResultsServiceNamespace: o.operatorNamespace,
			ResultsAudience:         o.resultsAudience,
			ResultsCA:               ca,
			Reports:                 reports.store,
			Changes:                 reports.changes,
			Metrics:                 reports.metrics,
			LoadSeries:              reports.loadSeries(),
			PodCache:                reports.pods,
		}).SetupWithManager(mgr),
	)
}

// loadSeries reads stored results back into series after a restart (NJ-32); nil without a store.
func (r nodeJobReports) loadSeries() nodemetrics.Loader {
	if r.store == nil {
		return nil
	}
	return resultsnodejob.SeriesLoader(r.store)
}

// setupWebhooks registers every admission webhook with the manager.
func setupWebhooks(mgr ctrl.Manager, o *options) error {
	return errors.Join(
		webhookquarksv1alpha1.SetupQuarksJobWebhookWithManager(mgr),
		webhookbatchv1alpha1.SetupReactiveJobWebhookWithManager(mgr,
			webhookbatchv1alpha1.ReactiveJobWebhookOptions{AuthorizeJobCreate: o.rjAuthorizeCreate}),
		webhookbatchv1alpha1.SetupNodeJobWebhookWithManager(mgr),
		webhookbatchv1alpha1.SetupNodeJobRunWebhookWithManager(mgr),
	)
}

// setupResults adds the results API that job pods report to.
func setupResults(mgr ctrl.Manager, o *options, njr nodeJobReports) (*results.Server, *reports.FileStore,
	error) {
	store, err := reports.NewFileStore(o.reportDir)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the report store: %w", err)
	}
	sink := &resultsnodejob.StoreSink{Client: mgr.GetClient(), Store: store, Metrics: njr.metrics, Changes: njr.changes}
	nj, err := resultsnodejob.New(mgr, resultsnodejob.Options{Store: store, Sink: sink, PodsByIP: njr.pods,
		Rejected: batchcontroller.CountRejectedCallback})
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the NodeJob results routes: %w", err)
	}
	waiter, err := quarksoutput.NewWaiter(mgr, splitList(o.watchNamespaces))
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the QuarksJob output wait: %w", err)
	}
	qj := resultsquarksjob.New(mgr, resultsquarksjob.Options{
		Waiter: waiter,
		Sink: &quarksoutput.Sink{
			Client:      mgr.GetClient(),
			Reader:      mgr.GetAPIReader(),
			Recorder:    mgr.GetEventRecorder("jobkeeper-quarksjob"),
			AdoptLegacy: o.adoptLegacyOutput,
		},
	})
	srv, err := results.Add(mgr, results.Options{
		BindAddress:      o.resultsAddr,
		Audience:         o.resultsAudience,
		CertDir:          o.resultsCertPath,
		CertName:         o.resultsCertName,
		KeyName:          o.resultsCertKey,
		ServiceNamespace: o.operatorNamespace,
		EnableHTTP2:      o.enableHTTP2,
		Families:         []results.Family{nj.Family(), qj.Family(), resultsnodejob.ReportsFamily(mgr, nj.Store())},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the results API: %w", err)
	}
	if err := mgr.AddReadyzCheck("results", srv.StartedChecker()); err != nil {
		return nil, nil, fmt.Errorf("adding results ready check: %w", err)
	}
	return srv, nj.Store(), nil
}

// defaultOperatorNamespace is $POD_NAMESPACE, else the namespace of the pod's
// service account, else "default" (a local run).
func defaultOperatorNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(ns) > 0 {
		return strings.TrimSpace(string(ns))
	}
	return "default"
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
