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
	"context"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/labelcache"
	"github.com/jobkeeper/jobkeeper/internal/results"
	"github.com/jobkeeper/jobkeeper/internal/results/certs"
	"github.com/jobkeeper/jobkeeper/internal/results/nodejob"
	"github.com/jobkeeper/jobkeeper/internal/results/quarksjob"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

var (
	ctx       context.Context
	cancel    context.CancelFunc
	testEnv   *envtest.Environment
	k8sClient client.Client
	clientset *kubernetes.Clientset
	scheme    = runtime.NewScheme()

	server     *results.Server
	njRoutes   *nodejob.Routes
	njSink     = &recordingSink{}
	qjSink     = &recordingOutputSink{}
	httpClient *http.Client
	baseURL    string
)

// serverUser is the identity of the results API in these tests. It has only
// the rights that the package's RBAC markers ask for.
const serverUser = "jobkeeper-results"

// cacheTTL is how long the server remembers accepted tokens and caller pods in
// these tests, shorter than the default so that a deleted pod is noticed soon.
const cacheTTL = 2 * time.Second

// serverRules repeats the +kubebuilder:rbac markers of internal/results/...
var serverRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}},
	// The run pod cache, which the NodeJobRun controller's rights cover in the manager.
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get"}},
	{APIGroups: []string{"batch.cs.sap.com"}, Resources: []string{"nodejobruns"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"quarks.cloudfoundry.org"}, Resources: []string{"quarksjobs"}, Verbs: []string{"get", "list", "watch"}},
}

func TestResults(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Results API Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.TODO())

	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(batchv1alpha1.AddToScheme(scheme)).To(Succeed())
	Expect(quarksv1alpha1.AddToScheme(scheme)).To(Succeed())

	By("bootstrapping test environment")
	assets, err := utils.EnvtestAssets()
	Expect(err).NotTo(HaveOccurred())
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     utils.CRDPaths(),
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	By("granting the results API only the rights of its RBAC markers")
	Expect(k8sClient.Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: serverUser}, Rules: serverRules,
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: serverUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: serverUser},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: serverUser}},
	})).To(Succeed())
	user, err := testEnv.AddUser(envtest.User{Name: serverUser}, nil)
	Expect(err).NotTo(HaveOccurred())

	By("starting a manager with the results API")
	mgr, err := ctrl.NewManager(user.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())

	// The cache of run pods that the NodeJobRun controller shares with the results API in the manager.
	runPods, err := labelcache.New(mgr, &corev1.Pod{}, batchv1alpha1.NodeJobRunNameLabel, nil,
		labelcache.Index{Field: labelcache.PodIPIndex, Extract: labelcache.PodIPs})
	Expect(err).NotTo(HaveOccurred())
	njRoutes, err = nodejob.New(mgr, nodejob.Options{
		PodsByIP:    runPods,
		AddressWait: time.Second,
		ReportDir:   filepath.Join(GinkgoT().TempDir(), "reports"),
		Sink:        njSink,
		NewFileName: func() string { return "generated" },
		PodCacheTTL: cacheTTL,
	})
	Expect(err).NotTo(HaveOccurred())
	njSink.store = njRoutes.Store()
	qjRoutes := quarksjob.New(mgr, quarksjob.Options{Sink: qjSink, PodCacheTTL: cacheTTL})
	njReports, err := nodejob.NewReports(mgr, nodejob.ReadOptions{Store: njRoutes.Store()})
	Expect(err).NotTo(HaveOccurred())

	certDir := GinkgoT().TempDir()
	Expect(certs.Generate(certDir, []string{"localhost", "127.0.0.1"}, time.Hour)).To(Succeed())
	server, err = results.Add(mgr, results.Options{
		BindAddress:   "127.0.0.1:0",
		CertDir:       certDir,
		TokenCacheTTL: cacheTTL,
		Families:      []results.Family{njRoutes.Family(), qjRoutes.Family(), njReports.Family()},
	})
	Expect(err).NotTo(HaveOccurred())

	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Eventually(server.Addr).ShouldNot(BeEmpty())
	pool, err := certs.CAPool(server.CAFile())
	Expect(err).NotTo(HaveOccurred())
	httpClient = &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		Timeout:   30 * time.Second,
	}
	baseURL = "https://" + server.Addr()
})

var _ = AfterSuite(func() {
	By("tearing down the test environment")
	cancel()
	Expect(testEnv.Stop()).To(Succeed())
})
