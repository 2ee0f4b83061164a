//go:build e2e

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

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The install methods of the README, one after the other on the operator the suite deployed with kustomize:
// dist/install.yaml applied over it, every sample of config/samples/ under it, then the move to the Helm chart as
// dist/chart/README.md describes it, a sample of each kind under the release, helm upgrade and helm uninstall. The
// kustomize deployment is restored at the end (hack/cluster/deploy.sh operator), so the other scenarios and the
// suite's teardown find the operator as they expect it.
var _ = Describe("Install methods on the local cluster", Ordered, Serial, func() {
	const release = "jobkeeper"
	crds := []string{
		"quarksjobs.quarks.cloudfoundry.org", "reactivejobs.batch.cs.sap.com",
		"nodejobs.batch.cs.sap.com", "nodejobruns.batch.cs.sap.com",
	}
	var (
		installYAML = filepath.Join(root, "dist", "install.yaml")
		chartDir    = filepath.Join(root, "dist", "chart")
		helmBin     = filepath.Join(root, "bin", "helm")
		samplesDir  = filepath.Join(root, "config", "samples")

		img, imgRepo, imgTag string
		samplesNS, helmNS    string
		tmpDir, valuesFile   string
		crdUIDs              string
		releaseMayExist      bool
	)

	// run runs a program in the repository root and logs what it printed.
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		out := stdout.String()
		if len(out) > 4000 {
			out = out[:4000] + "…\n"
		}
		GinkgoWriter.Printf("$ %s %s\n%s%s", filepath.Base(name), strings.Join(args, " "), out, stderr.String())
		if err != nil {
			return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err,
				stderr.String())
		}
		return stdout.String(), nil
	}
	helm := func(args ...string) (string, error) {
		return run(helmBin, append(args, "--kubeconfig", kubeconfig)...)
	}
	// get returns a jsonpath of an object of namespace ns ("" for a cluster-scoped one), or "" when it cannot be
	// read.
	get := func(ns, object, path string) string {
		args := []string{"get", object, "-o", "jsonpath=" + path}
		if ns != "" {
			args = append([]string{"-n", ns}, args...)
		}
		out, err := kubectl(args...)
		if err != nil {
			return ""
		}
		return out
	}
	gone := func(ns, object string) bool {
		args := []string{"get", object, "--ignore-not-found", "-o", "name"}
		if ns != "" {
			args = append([]string{"-n", ns}, args...)
		}
		out, err := kubectl(args...)
		return err == nil && strings.TrimSpace(out) == ""
	}
	secretData := func(ns, name string) map[string]string {
		GinkgoHelper()
		out, err := kubectl("-n", ns, "get", "secret", name, "-o", "json")
		Expect(err).NotTo(HaveOccurred())
		var s struct {
			Data map[string][]byte `json:"data"`
		}
		Expect(json.Unmarshal([]byte(out), &s)).To(Succeed())
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data
	}
	uidsOfCRDs := func() string {
		GinkgoHelper()
		out, err := kubectl(append([]string{"get", "crd", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.uid} {end}"},
			crds...)...)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(out)).To(HaveLen(len(crds)))
		return out
	}
	// operatorReady waits until the manager runs one Ready pod, the webhook configurations carry a CA and a
	// ReactiveJob passes the admission webhooks (a server-side dry run), as hack/cluster/deploy.sh does.
	operatorReady := func() {
		GinkgoHelper()
		_, err := kubectl("-n", operatorNamespace, "rollout", "status", "deployment/"+operatorDeployment, "--timeout=300s")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			out, err := kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager",
				"-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(strings.Fields(out)).To(ConsistOf("True"))
		}).Should(Succeed())
		for _, cfg := range []string{
			"validatingwebhookconfiguration/jobkeeper-validating-webhook-configuration",
			"mutatingwebhookconfiguration/jobkeeper-mutating-webhook-configuration",
		} {
			Eventually(func(g Gomega) {
				out, err := kubectl("get", cfg, "-o", `jsonpath={range .webhooks[*]}{.clientConfig.caBundle}{"\n"}{end}`)
				g.Expect(err).NotTo(HaveOccurred())
				bundles := strings.Split(strings.TrimSpace(out), "\n")
				g.Expect(bundles).NotTo(BeEmpty())
				g.Expect(bundles).To(HaveEach(Not(BeEmpty())), "%s has a webhook without caBundle", cfg)
			}).Should(Succeed())
		}
		Eventually(func() error {
			_, err := kubectlIn(reactiveJob("webhook-probe", "busybox"), "-n", samplesNS, "create", "--dry-run=server", "-f", "-")
			return err
		}).Should(Succeed())
	}
	// managerImageID is the image ID the manager's pod runs.
	managerImageID := func() string {
		GinkgoHelper()
		out, err := kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager",
			"-o", `jsonpath={range .items[*]}{.status.containerStatuses[?(@.name=="manager")].imageID}{"\n"}{end}`)
		Expect(err).NotTo(HaveOccurred())
		ids := strings.Fields(out)
		Expect(ids).To(HaveLen(1))
		return ids[0]
	}
	// snapshot lists what the operator made of the samples of a namespace: the QuarksJobs' runs, the ReactiveJobs'
	// Jobs, the NodeJobs' finished runs and the output Secrets with their data. An installation step that leaves the
	// samples alone keeps every line. The NodeJob sample's schedule ticks at :00 and :30, so a step may see a run
	// start; a run that has not finished is left out, since its phase and counts move on by themselves.
	snapshot := func(ns string) []string {
		GinkgoHelper()
		var lines []string
		for _, q := range []struct{ resource, format string }{
			{"quarksjobs", `qjob {.metadata.name} {.metadata.uid} {.spec.trigger.strategy} {.status.runCount} ` +
				`{.status.lastRun.name} {.status.lastRun.result} {.status.completed}`},
			{"reactivejobs", `rjob {.metadata.name} {.metadata.uid} {.status.runCount} {.status.currentJobName} ` +
				`{.status.state}`},
			{"nodejobs", `njob {.metadata.name} {.metadata.uid}`},
			{"nodejobruns", `njrun {.metadata.name} {.metadata.uid} {.status.phase} {.status.reported}`},
			{"secrets -l quarks.cloudfoundry.org/qjob-name", `secret {.metadata.name} {.metadata.uid} {.data}`},
		} {
			args := append([]string{"-n", ns, "get"}, strings.Fields(q.resource)...)
			out, err := kubectl(append(args, "-o", `jsonpath={range .items[*]}`+q.format+`{"\n"}{end}`)...)
			Expect(err).NotTo(HaveOccurred())
			for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(line); len(f) > 0 && f[0] == "njrun" && (len(f) < 4 || (f[3] != "Succeeded" && f[3] != "Failed")) {
					continue
				}
				if line != "" {
					lines = append(lines, line)
				}
			}
		}
		return lines
	}
	applySamples := func(ns string, files ...string) {
		GinkgoHelper()
		args := []string{"-n", ns, "apply"}
		for _, f := range files {
			args = append(args, "-f", filepath.Join(samplesDir, f))
		}
		_, err := kubectl(args...)
		Expect(err).NotTo(HaveOccurred())
	}

	// qjobDone waits until a QuarksJob with trigger once ran, succeeded and was set to done.
	qjobDone := func(ns, name string) {
		GinkgoHelper()
		Eventually(func() string {
			state := get(ns, "quarksjob/"+name, `{.spec.trigger.strategy}/{.status.lastRun.result}/{.status.completed}/`+
				`{.status.conditions[?(@.type=="Ready")].status}`)
			if strings.Contains(state, "/Failed/") {
				StopTrying(fmt.Sprintf("QuarksJob %s failed: %s", name, get(ns, "quarksjob/"+name, "{.status}"))).Now()
			}
			return state
		}).WithTimeout(4*time.Minute).WithPolling(2*time.Second).Should(Equal("done/Succeeded/true/True"), name)
	}
	// outputSample checks the sample quarks_v1alpha1_quarksjob_output.yaml: the Secret quarksjob-output-json with
	// the keys foo and bar and the sample's secretLabels.
	outputSample := func(ns string) {
		GinkgoHelper()
		qjobDone(ns, "quarksjob-output")
		Expect(secretData(ns, "quarksjob-output-json")).To(Equal(map[string]string{"foo": "1", "bar": "baz"}))
		Expect(get(ns, "secret/quarksjob-output-json", `{.metadata.labels.example\.com/source}`)).
			To(Equal("quarksjob-output"))
	}
	// reactiveJobSample checks batch_v1alpha1_reactivejob.yaml: Ready, its Job complete.
	reactiveJobSample := func(ns string) {
		GinkgoHelper()
		_, err := kubectl("-n", ns, "wait", "reactivejob/reactivejob-sample", "--for=condition=Ready", "--timeout=180s")
		Expect(err).NotTo(HaveOccurred())
		Expect(get(ns, "reactivejob/reactivejob-sample", "{.status.state}/{.status.succeeded}")).To(Equal("Ready/1"))
		job := get(ns, "reactivejob/reactivejob-sample", "{.status.currentJobName}")
		Expect(job).NotTo(BeEmpty())
		Expect(get(ns, "job/"+job, `{.status.conditions[?(@.type=="Complete")].status}`)).To(Equal("True"))
	}
	// nodeJobSample checks batch_v1alpha1_nodejob.yaml: its first run succeeded, every node that succeeded
	// reported, and the manager exports the gauge the real node's pod measured, for the run and as latest.
	nodeJobSample := func(ns string) {
		GinkgoHelper()
		node := realNode()
		var run string
		Eventually(func() string {
			run = get(ns, "nodejobruns", "{.items[0].metadata.name}")
			phase := get(ns, "nodejobrun/"+run, "{.status.phase}")
			if phase == "Failed" {
				StopTrying(fmt.Sprintf("NodeJobRun %s failed: %s", run, get(ns, "nodejobrun/"+run, "{.status}"))).Now()
			}
			return phase
		}).WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).Should(Equal("Succeeded"))
		counts := get(ns, "nodejobrun/"+run, "{.status.succeeded}/{.status.reported}/{.status.failed}")
		Expect(counts).To(MatchRegexp(`^([1-9]\d*)/([1-9]\d*)/(0)?$`))
		f := strings.Split(counts, "/")
		Expect(f[1]).To(Equal(f[0]), "every node that succeeded reported its result: %s", counts)
		_, err := kubectl("-n", ns, "wait", "nodejob/nodejob-sample", "--for=condition=Ready", "--timeout=60s")
		Expect(err).NotTo(HaveOccurred())

		execID := get(ns, "nodejobrun/"+run, "{.spec.executionID}")
		Expect(execID).NotTo(BeEmpty())
		metrics := scrapeMetrics(ns)
		for _, id := range []string{execID, "latest"} {
			Expect(metrics).To(MatchRegexp(`(?m)^node_check_root_used_percent\{executionID="%s",mount="/",namespace="%s",`+
				`node="%s",nodejob="nodejob-sample"\} \d+(\.\d+)?$`, regexp.QuoteMeta(id), ns, regexp.QuoteMeta(node)))
		}
	}

	BeforeAll(func() {
		img = os.Getenv("IMG")
		if img == "" {
			img = "jobkeeper:latest"
		}
		imgRepo, imgTag = img, "latest"
		if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
			imgRepo, imgTag = img[:i], img[i+1:]
		}

		By("building helm and dist/install.yaml (make helm build-installer)")
		_, err := run("make", "helm", "build-installer", "IMG="+img)
		Expect(err).NotTo(HaveOccurred())

		samplesNS = newNamespace("e2e-samples-")
		helmNS = newNamespace("e2e-helm-")
		for _, ns := range []string{samplesNS, helmNS} {
			// scrapeMetrics reads /metrics with this ServiceAccount.
			_, err := kubectl("-n", ns, "create", "serviceaccount", "scraper")
			Expect(err).NotTo(HaveOccurred())
			_, err = kubectl("create", "clusterrolebinding", ns+"-scraper", "--clusterrole=jobkeeper-metrics-reader",
				"--serviceaccount="+ns+":scraper")
			Expect(err).NotTo(HaveOccurred())
		}

		// The release runs the image the suite deployed, pulled from the cluster's registry like the kustomize
		// Deployment does with the tag latest.
		tmpDir, err = os.MkdirTemp("", "e2e-install-")
		Expect(err).NotTo(HaveOccurred())
		valuesFile = filepath.Join(tmpDir, "values.yaml")
		Expect(os.WriteFile(valuesFile, fmt.Appendf(nil, "image:\n  repository: %s\n  tag: %q\n  pullPolicy: Always\n",
			imgRepo, imgTag), 0o600)).To(Succeed())
		crdUIDs = uidsOfCRDs()
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(samplesNS, helmNS)
		}
	})

	AfterAll(func() {
		By("restoring the kustomize deployment (hack/cluster/deploy.sh operator)")
		if releaseMayExist {
			if _, err := helm("status", release, "-n", operatorNamespace); err == nil {
				_, err := helm("uninstall", release, "-n", operatorNamespace, "--wait", "--timeout", "3m")
				Expect(err).NotTo(HaveOccurred())
			}
		}
		// A report claim that is still being deleted would take the restored Deployment's volume with it.
		if get(operatorNamespace, "pvc/jobkeeper-reports", "{.metadata.deletionTimestamp}") != "" {
			_, _ = kubectl("-n", operatorNamespace, "wait", "--for=delete", "pvc/jobkeeper-reports", "--timeout=120s")
		}
		// The release's metadata stays on what the uninstall kept: the CRDs are kustomize's again.
		for _, crd := range crds {
			_, _ = kubectl("label", "crd", crd, "app.kubernetes.io/managed-by-", "app.kubernetes.io/instance-",
				"app.kubernetes.io/version-", "helm.sh/chart-")
			_, _ = kubectl("annotate", "crd", crd, "meta.helm.sh/release-name-", "meta.helm.sh/release-namespace-",
				"helm.sh/resource-policy-")
		}
		_, _ = kubectl("annotate", "namespace", operatorNamespace, "meta.helm.sh/release-name-",
			"meta.helm.sh/release-namespace-")
		Expect(script("deploy.sh", "operator")).To(Succeed())

		// The namespaces go while the manager runs: ReactiveJobs and NodeJob pods carry its finalizers.
		for _, ns := range []string{samplesNS, helmNS} {
			if ns == "" {
				continue
			}
			_, _ = kubectl("delete", "clusterrolebinding", ns+"-scraper", "--ignore-not-found", "--wait=false")
			_, _ = kubectl("delete", "namespace", ns, "--wait=false")
		}
		if tmpDir != "" {
			_ = os.RemoveAll(tmpDir)
		}
	})

	It("upgrades the kustomize deployment in place with dist/install.yaml, applied server-side with --force-conflicts", func() {
		manifest, err := os.ReadFile(installYAML)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(manifest)).To(ContainSubstring("image: " + img + "\n"))
		uidOf := func() string {
			return get(operatorNamespace, "deployment/"+operatorDeployment, "{.metadata.uid}") + " " +
				get(operatorNamespace, "pvc/jobkeeper-reports", "{.metadata.uid}")
		}
		before := uidOf()

		_, err = kubectl("apply", "--server-side", "--force-conflicts", "-f", installYAML)
		Expect(err).NotTo(HaveOccurred())
		operatorReady()

		By("every object of the file exists; the CRDs, the Deployment and the report claim are the same objects")
		docs := regexp.MustCompile(`(?m)^kind: `).FindAll(manifest, -1)
		names, err := kubectl("get", "-f", installYAML, "-o", "name")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(names)).To(HaveLen(len(docs)))
		Expect(uidsOfCRDs()).To(Equal(crdUIDs))
		Expect(uidOf()).To(Equal(before))
		Expect(get(operatorNamespace, "deployment/"+operatorDeployment,
			`{.spec.template.spec.containers[?(@.name=="manager")].image}`)).To(Equal(img))
	})

	It("runs every QuarksJob sample to its documented result", func() {
		_, err := kubectl("-n", samplesNS, "apply", "-k", samplesDir)
		Expect(err).NotTo(HaveOccurred())

		By("once: runs after creation, then done")
		qjobDone(samplesNS, "quarksjob-once")

		By("output: the Secret quarksjob-output-json with foo and bar")
		outputSample(samplesNS)

		By("versioned output: quarksjob-password-v1 holds a password")
		qjobDone(samplesNS, "quarksjob-versioned-output")
		Expect(secretData(samplesNS, "quarksjob-password-v1")).To(HaveKeyWithValue("password", MatchRegexp(`^[0-9a-f]{32}$`)))
		Expect(get(samplesNS, "secret/quarksjob-password-v1",
			`{.metadata.labels.quarks\.cloudfoundry\.org/secret-kind}/{.metadata.labels.quarks\.cloudfoundry\.org/secret-version}`)).
			To(Equal("versionedSecret/1"))

		By("fan-out: one Secret per key, quarksjob-link-nats and quarksjob-link-uaa")
		qjobDone(samplesNS, "quarksjob-fan-out")
		Expect(secretData(samplesNS, "quarksjob-link-nats")).To(Equal(map[string]string{"host": "nats.example", "port": "4222"}))
		Expect(secretData(samplesNS, "quarksjob-link-uaa")).To(Equal(map[string]string{"url": "https://uaa.example"}))

		By("config change: runs once, and again when the ConfigMap's data changes")
		qjobDone(samplesNS, "quarksjob-config-change")
		Expect(get(samplesNS, "quarksjob/quarksjob-config-change", "{.status.runCount}")).To(Equal("1"))
		_, err = kubectl("-n", samplesNS, "patch", "configmap", "quarksjob-config", "--type", "merge",
			"-p", `{"data":{"greeting":"bonjour"}}`)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			return get(samplesNS, "quarksjob/quarksjob-config-change",
				"{.status.runCount}/{.status.lastRun.trigger}/{.status.lastRun.result}/{.spec.trigger.strategy}")
		}).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Equal("2/configChange/Succeeded/done"))

		By("errand: nothing runs while manual; set to now, it runs once and reads manual again")
		Expect(get(samplesNS, "quarksjob/quarksjob-errand",
			`{.spec.trigger.strategy}/{.status.runCount}/{.status.conditions[?(@.type=="Ready")].reason}`)).
			To(Or(Equal("manual//Idle"), Equal("manual/0/Idle")))
		jobs, err := kubectl("-n", samplesNS, "get", "jobs", "-l", "quarks.cloudfoundry.org/qjob-name=quarksjob-errand", "-o", "name")
		Expect(err).NotTo(HaveOccurred())
		Expect(jobs).To(BeEmpty())
		_, err = kubectl("-n", samplesNS, "patch", "quarksjob", "quarksjob-errand", "--type", "merge",
			"-p", `{"spec":{"trigger":{"strategy":"now"}}}`)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			return get(samplesNS, "quarksjob/quarksjob-errand",
				"{.spec.trigger.strategy}/{.status.runCount}/{.status.lastRun.trigger}/{.status.lastRun.result}")
		}).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Equal("manual/1/now/Succeeded"))
	})

	It("runs the ReactiveJob sample to Ready with its Job complete", func() {
		reactiveJobSample(samplesNS)
	})

	It("runs the NodeJob sample: the run succeeds with the real node's result on /metrics", func() {
		nodeJobSample(samplesNS)
	})

	It("moves to the Helm chart as dist/chart/README.md describes: the release adopts the installation, CRDs included", func() {
		before := snapshot(samplesNS)
		imageID := managerImageID()

		By("the CRDs alone with the release's metadata are not enough: helm refuses the other objects")
		for _, crd := range crds {
			_, err := kubectl("label", "crd", crd, "app.kubernetes.io/managed-by=Helm", "--overwrite")
			Expect(err).NotTo(HaveOccurred())
			_, err = kubectl("annotate", "crd", crd, "meta.helm.sh/release-name="+release,
				"meta.helm.sh/release-namespace="+operatorNamespace, "--overwrite")
			Expect(err).NotTo(HaveOccurred())
		}
		_, err := helm("install", release, chartDir, "-n", operatorNamespace, "-f", valuesFile, "--dry-run=server")
		Expect(err).To(MatchError(ContainSubstring("exists and cannot be imported into the current release")))

		By("labelling and annotating every object of dist/install.yaml for the release")
		_, err = kubectl("label", "-f", installYAML, "app.kubernetes.io/managed-by=Helm", "--overwrite")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("annotate", "-f", installYAML, "meta.helm.sh/release-name="+release,
			"meta.helm.sh/release-namespace="+operatorNamespace, "--overwrite")
		Expect(err).NotTo(HaveOccurred())

		By("helm install")
		releaseMayExist = true
		_, err = helm("install", release, chartDir, "-n", operatorNamespace, "-f", valuesFile, "--wait", "--timeout", "5m")
		Expect(err).NotTo(HaveOccurred())
		out, err := helm("list", "-n", operatorNamespace, "-o", "json")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`"name":"jobkeeper".*"revision":"1".*"status":"deployed"`))
		operatorReady()

		By("the release owns the operator's objects and the CRDs, which are the same objects as before")
		Expect(get(operatorNamespace, "deployment/"+operatorDeployment,
			`{.metadata.labels.app\.kubernetes\.io/managed-by}/{.metadata.labels.app\.kubernetes\.io/instance}`)).
			To(Equal("Helm/" + release))
		manifest, err := helm("get", "manifest", release, "-n", operatorNamespace)
		Expect(err).NotTo(HaveOccurred())
		for _, crd := range crds {
			Expect(manifest).To(ContainSubstring("name: "+crd+"\n"), "the release manifest holds the CRD %s", crd)
		}
		Expect(uidsOfCRDs()).To(Equal(crdUIDs))
		Expect(managerImageID()).To(Equal(imageID), "the release runs the image the suite deployed")

		By("the samples' objects are untouched")
		Expect(snapshot(samplesNS)).To(ContainElements(before))
	})

	It("runs a sample of each kind under the Helm release", func() {
		applySamples(helmNS, "quarks_v1alpha1_quarksjob_output.yaml", "batch_v1alpha1_reactivejob.yaml",
			"batch_v1alpha1_nodejob.yaml")
		outputSample(helmNS)
		reactiveJobSample(helmNS)
		nodeJobSample(helmNS)
	})

	It("helm upgrade with another value rolls the manager out and leaves the samples' objects alone", func() {
		before := append(snapshot(samplesNS), snapshot(helmNS)...)
		generation := get(operatorNamespace, "deployment/"+operatorDeployment, "{.metadata.generation}")

		_, err := helm("upgrade", release, chartDir, "-n", operatorNamespace, "-f", valuesFile,
			"--set-json", `extraArgs=["--reactivejob-concurrency=2"]`, "--wait", "--timeout", "5m")
		Expect(err).NotTo(HaveOccurred())
		out, err := helm("list", "-n", operatorNamespace, "-o", "json")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`"name":"jobkeeper".*"revision":"2".*"status":"deployed"`))
		operatorReady()
		Expect(get(operatorNamespace, "deployment/"+operatorDeployment, "{.metadata.generation}")).NotTo(Equal(generation))
		out, err = kubectl("-n", operatorNamespace, "get", "pods", "-l", "control-plane=controller-manager",
			"-o", `jsonpath={.items[*].spec.containers[?(@.name=="manager")].args}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("--reactivejob-concurrency=2"))

		By("the samples' objects are untouched")
		Expect(append(snapshot(samplesNS), snapshot(helmNS)...)).To(ContainElements(before))
		Expect(uidsOfCRDs()).To(Equal(crdUIDs))

		By("the upgraded manager reconciles: a rerun of the ReactiveJob sample runs a second Job")
		_, err = kubectl("-n", helmNS, "annotate", "reactivejob", "reactivejob-sample",
			"batch.cs.sap.com/rerun=after-upgrade", "--overwrite")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			return get(helmNS, "reactivejob/reactivejob-sample", "{.status.runCount}/{.status.state}")
		}).WithTimeout(3 * time.Minute).Should(Equal("2/Ready"))
	})

	It("helm uninstall keeps the CRDs and every object of the four kinds (crds.keep)", func() {
		before := append(snapshot(samplesNS), snapshot(helmNS)...)

		out, err := helm("uninstall", release, "-n", operatorNamespace, "--wait", "--timeout", "3m")
		Expect(err).NotTo(HaveOccurred())
		for _, crd := range crds {
			Expect(out).To(ContainSubstring(crd), "helm reports the CRD %s as kept", crd)
		}
		out, err = helm("list", "-n", operatorNamespace, "--all", "-q")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(out)).To(BeEmpty())

		By("the operator's objects are gone")
		for _, object := range []string{"deployment/" + operatorDeployment, "service/jobkeeper-results",
			"service/jobkeeper-webhook-service", "pvc/jobkeeper-reports", "certificate/jobkeeper-serving-cert"} {
			Expect(gone(operatorNamespace, object)).To(BeTrue(), object)
		}
		for _, object := range []string{"validatingwebhookconfiguration/jobkeeper-validating-webhook-configuration",
			"mutatingwebhookconfiguration/jobkeeper-mutating-webhook-configuration", "clusterrole/jobkeeper-manager-role",
			"clusterrolebinding/jobkeeper-manager-rolebinding"} {
			Expect(gone("", object)).To(BeTrue(), object)
		}

		By("the CRDs and the custom objects remain")
		Expect(uidsOfCRDs()).To(Equal(crdUIDs))
		Expect(append(snapshot(samplesNS), snapshot(helmNS)...)).To(ContainElements(before))
		for ns, want := range map[string]string{samplesNS: "6/1/1", helmNS: "1/1/1"} {
			count := func(resource string) int {
				out, err := kubectl("-n", ns, "get", resource, "-o", "name")
				Expect(err).NotTo(HaveOccurred())
				return len(strings.Fields(out))
			}
			Expect(fmt.Sprintf("%d/%d/%d", count("quarksjobs"), count("reactivejobs"), count("nodejobs"))).To(Equal(want))
			Expect(count("nodejobruns")).To(BeNumerically(">=", 1))
		}
	})
})
