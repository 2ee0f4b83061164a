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
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

var _ = Describe("QuarksJob on the local cluster", func() {
	var ns string

	BeforeEach(func() {
		ns = newNamespace("e2e-qj-")
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			dumpDiagnostics(ns)
		}
		_, _ = kubectl("delete", "namespace", ns, "--wait=false")
	})

	// example returns an upstream example manifest, or skips the spec when the examples are absent.
	example := func(file string) string {
		manifest, err := os.ReadFile(filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks", file))
		if os.IsNotExist(err) {
			Skip("the upstream examples are not beside the repository")
		}
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		return string(manifest)
	}
	apply := func(manifest string) {
		_, err := kubectlIn(manifest, "-n", ns, "apply", "-f", "-")
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
	}
	// field returns a jsonpath of a QuarksJob; "" when it cannot be read.
	field := func(name, path string) string {
		out, err := kubectl("-n", ns, "get", "quarksjob", name, "-o", "jsonpath="+path)
		if err != nil {
			return ""
		}
		return out
	}
	runCount := func(name string) func() int {
		return func() int {
			n, _ := strconv.Atoi(field(name, "{.status.runCount}"))
			return n
		}
	}
	// jobs returns the number of Jobs of a QuarksJob that exist now.
	jobs := func(name string) func() int {
		return func() int {
			out, err := kubectl("-n", ns, "get", "jobs", "-l", "quarks.cloudfoundry.org/qjob-name="+name, "-o", "name")
			if err != nil {
				return -1
			}
			return len(strings.Fields(out))
		}
	}
	// waitResult waits until the last run of a QuarksJob has the given result.
	waitResult := func(name, result string) {
		EventuallyWithOffset(1, func() string { return field(name, "{.status.lastRun.result}") }).
			WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).Should(Equal(result))
	}
	secretField := func(name, path string) (string, error) {
		return kubectl("-n", ns, "get", "secret", name, "-o", "jsonpath="+path)
	}
	// outputJobAs is a QuarksJob whose container writes files into /mnt/quarks
	// with script, with the pod-level lines podExtra (e.g. a securityContext).
	// backoffLimit is above 0, as users set it: a rejected output must still end
	// the run after one pod.
	outputJobAs := func(name, script, outputMap, podExtra string) string {
		return fmt.Sprintf(`apiVersion: quarks.cloudfoundry.org/v1alpha1
kind: QuarksJob
metadata:
  name: %s
spec:
  trigger:
    strategy: once
  template:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
%s          containers:
          - name: writer
            image: busybox
            command: ["sh", "-c"]
            args:
            - |
%s
  output:
    outputMap:
      writer:
%s
`, name, podExtra, indent(script, 14), indent(outputMap, 8))
	}
	outputJob := func(name, script, outputMap string) string { return outputJobAs(name, script, outputMap, "") }
	// podsOf counts the pods a QuarksJob's runs have had so far.
	podsOf := func(name string) int {
		out, err := kubectl("-n", ns, "get", "pods", "-l", "quarks.cloudfoundry.org/qjob-name="+name, "-o", "name")
		Expect(err).NotTo(HaveOccurred())
		return len(strings.Fields(out))
	}

	It("QJ-S2, QJ-3: an errand runs only when set to now, exactly once, and reads manual afterwards", func() {
		apply(example("qjob_errand.yaml"))
		Eventually(func() string { return field("manual-sleep", `{.status.conditions[?(@.type=="Ready")].reason}`) }).
			WithPolling(time.Second).Should(Equal("Idle"))
		Consistently(jobs("manual-sleep")).WithTimeout(5 * time.Second).WithPolling(time.Second).Should(BeZero())

		apply(example("qjob_errand_updated.yaml"))
		Eventually(runCount("manual-sleep")).WithPolling(time.Second).Should(Equal(1))
		Eventually(func() string { return field("manual-sleep", "{.spec.trigger.strategy}") }).
			WithPolling(time.Second).Should(Equal("manual"))
		Expect(jobs("manual-sleep")()).To(BeNumerically("<=", 1))
		Expect(field("manual-sleep", "{.status.lastRun.trigger}")).To(Equal("now"))

		waitResult("manual-sleep", "Succeeded")
		Eventually(jobs("manual-sleep")).WithPolling(2 * time.Second).Should(BeZero()) // QJ-17
		Consistently(runCount("manual-sleep")).WithTimeout(10 * time.Second).WithPolling(2 * time.Second).Should(Equal(1))
		Expect(field("manual-sleep", "{.status.completed}")).To(Equal("true"))
	})

	It("QJ-S3, QJ-4: an auto-errand re-runs exactly once on a data change and not on a relabel", func() {
		const name = "auto-errand-sleep-again"
		apply(example("qjob_auto-errand-updating.yaml"))
		waitResult(name, "Succeeded")
		Expect(runCount(name)()).To(Equal(1))
		Expect(field(name, "{.spec.trigger.strategy}")).To(Equal("done"))

		_, err := kubectl("-n", ns, "label", "configmap", "config1", "relabelled=yes")
		Expect(err).NotTo(HaveOccurred())
		Consistently(runCount(name)).WithTimeout(10 * time.Second).WithPolling(2 * time.Second).Should(Equal(1))

		apply(example("qjob_auto-errand-updating_updated.yaml"))
		Eventually(runCount(name)).WithPolling(time.Second).Should(Equal(2))
		Expect(field(name, "{.status.lastRun.trigger}")).To(Equal("configChange"))
		Expect(jobs(name)()).To(BeNumerically("<=", 1))
		By("the once that apply resets during the run is merged into it: same spec, same data")
		Eventually(func() string {
			out, _ := kubectl("-n", ns, "get", "events.events.k8s.io", "-o",
				`jsonpath={range .items[*]}{.reason}{" "}{.note}{"\n"}{end}`)
			return out
		}).WithPolling(2 * time.Second).Should(MatchRegexp(`(?m)^TriggerMerged .*covered by run 2 `))
		waitResult(name, "Succeeded")
		Expect(field(name, "{.spec.trigger.strategy}")).To(Equal("done"))
		Consistently(runCount(name)).WithTimeout(20 * time.Second).WithPolling(2 * time.Second).Should(Equal(2))
	})

	It("QJ-25, QJ-S5: versioned output gets -v1, an identical second run adds no version, new content adds -v2", func() {
		write := func(value string) string {
			return outputJob("versioned", `echo '{"value":"`+value+`"}' > /mnt/quarks/out.json`,
				"out.json:\n  name: vers\n  versioned: true")
		}
		apply(write("one"))
		waitResult("versioned", "Succeeded")
		Expect(secretField("vers-v1", "{.data.value}")).To(Equal("b25l")) // "one"
		Expect(secretField("vers-v1", "{.metadata.labels.quarks\\.cloudfoundry\\.org/secret-version}")).To(Equal("1"))
		Expect(secretField("vers-v1", "{.metadata.labels.quarks\\.cloudfoundry\\.org/secret-kind}")).To(Equal("versionedSecret"))
		Expect(secretField("vers-v1", "{.metadata.ownerReferences[0].kind}")).To(Equal("QuarksJob"))
		Expect(field("versioned", "{.status.lastRun.outputSecrets}")).To(ContainSubstring("vers-v1"))

		By("a second run with the same output")
		_, err := kubectl("-n", ns, "patch", "quarksjob", "versioned", "--type=merge", "-p", `{"spec":{"trigger":{"strategy":"now"}}}`)
		Expect(err).NotTo(HaveOccurred())
		Eventually(runCount("versioned")).WithPolling(time.Second).Should(Equal(2))
		waitResult("versioned", "Succeeded")
		_, err = secretField("vers-v2", "{.metadata.name}")
		Expect(err).To(HaveOccurred(), "an identical output must not create vers-v2")

		By("a run with new content")
		apply(write("two"))
		_, err = kubectl("-n", ns, "patch", "quarksjob", "versioned", "--type=merge", "-p", `{"spec":{"trigger":{"strategy":"now"}}}`)
		Expect(err).NotTo(HaveOccurred())
		Eventually(runCount("versioned")).WithPolling(time.Second).Should(Equal(3))
		waitResult("versioned", "Succeeded")
		Expect(secretField("vers-v2", "{.data.value}")).To(Equal("dHdv")) // "two"
		Expect(secretField("vers-v2", "{.metadata.labels.quarks\\.cloudfoundry\\.org/secret-version}")).To(Equal("2"))
	})

	It("QJ-24, QJ-S6: a fan-out file gives one Secret per key", func() {
		provides := `{"nats-nats":"{\"nats.user\":\"admin\",\"nats.password\":\"secret\",\"nats.port\":\"4222\"}"}`
		apply(outputJob("fanout", `printf '%s' '`+provides+`' > /mnt/quarks/provides.json`,
			"provides.json:\n  name: link-nats-deployment\n  persistencemethod: fan-out"))
		waitResult("fanout", "Succeeded")
		Expect(secretField("link-nats-deployment-nats-nats", `{.data.nats\.user}`)).To(Equal("YWRtaW4="))     // "admin"
		Expect(secretField("link-nats-deployment-nats-nats", `{.data.nats\.password}`)).To(Equal("c2VjcmV0")) // "secret"
		Expect(secretField("link-nats-deployment-nats-nats", `{.data.nats\.port}`)).To(Equal("NDIyMg=="))     // "4222"
		Expect(field("fanout", "{.status.lastRun.outputSecrets}")).To(ContainSubstring("link-nats-deployment-nats-nats"))
	})

	It("QJ-S9, QJ-X15: a foreign Secret named in the outputMap is left untouched and the conflict is reported", func() {
		_, err := kubectl("-n", ns, "create", "secret", "generic", "taken", "--from-literal=x=y")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectl("-n", ns, "label", "secret", "taken", "owner=else")
		Expect(err).NotTo(HaveOccurred())
		before, err := secretField("taken", "{.metadata.resourceVersion}")
		Expect(err).NotTo(HaveOccurred())

		apply(outputJob("conflict", `echo '{"k":"v"}' > /mnt/quarks/out.json`, "out.json:\n  name: taken"))
		waitResult("conflict", "Failed")
		Expect(field("conflict", "{.status.lastRun.reason}")).To(Equal("OutputConflict"))
		// backoffLimit 2, yet the workload ran once: the rejection failed the Job at once.
		Expect(podsOf("conflict")).To(Equal(1))
		Consistently(func() int { return podsOf("conflict") }).WithTimeout(10 * time.Second).WithPolling(2 * time.Second).Should(Equal(1))
		Eventually(func() string {
			return field("conflict", `{.status.conditions[?(@.type=="Stalled")].status}/{.status.conditions[?(@.type=="Stalled")].reason}`)
		}).WithPolling(time.Second).Should(Equal("True/RunFailed"))
		Expect(field("conflict", `{.status.conditions[?(@.type=="Stalled")].message}`)).To(ContainSubstring("OutputConflict"))

		Expect(secretField("taken", "{.metadata.resourceVersion}")).To(Equal(before))
		Expect(secretField("taken", "{.data.x}")).To(Equal("eQ==")) // "y"
		Eventually(func() string {
			out, _ := kubectl("-n", ns, "get", "events.events.k8s.io", "-o",
				`jsonpath={range .items[*]}{.reason}{" "}{.note}{"\n"}{end}`)
			return out
		}).WithPolling(2 * time.Second).Should(MatchRegexp(`(?m)^OutputConflict .*Secret taken`))
	})

	It("output written under umask 077 by a non-root user is persisted: the sidecar runs as that user", func() {
		apply(outputJobAs("umask", `umask 077; echo '{"k":"v"}' > /mnt/quarks/out.json`, "out.json:\n  name: private-out",
			"          securityContext:\n            runAsNonRoot: true\n            runAsUser: 1000\n            runAsGroup: 1000\n"))
		waitResult("umask", "Succeeded")
		Expect(secretField("private-out", "{.data.k}")).To(Equal("dg==")) // "v"
		Expect(podsOf("umask")).To(BeNumerically("<=", 1))
	})

	It("QJ-S4: the upstream output example writes Secret foo-json through the sidecar and the results API", func() {
		path := filepath.Join(utils.RepoRoot(), "..", "shared", "examples", "quarks", "qjob_output.yaml")
		manifest, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			Skip("the upstream examples are not beside the repository")
		}
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectlIn(string(manifest), "-n", ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())

		Eventually(func(g Gomega) {
			foo, err := kubectl("-n", ns, "get", "secret", "foo-json", "-o", "jsonpath={.data.foo}")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(foo).To(Equal("MQ==")) // "1"
		}).WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		bar, err := kubectl("-n", ns, "get", "secret", "foo-json", "-o", "jsonpath={.data.bar}")
		Expect(err).NotTo(HaveOccurred())
		Expect(bar).To(Equal("YmF6")) // "baz"
		labels, err := kubectl("-n", ns, "get", "secret", "foo-json", "-o", "jsonpath={.metadata.labels}")
		Expect(err).NotTo(HaveOccurred())
		Expect(labels).To(ContainSubstring(`"key":"value"`))
		Expect(labels).To(ContainSubstring(`"quarks.cloudfoundry.org/container-name":"jsonout"`))

		Eventually(func(g Gomega) {
			out, err := kubectl("-n", ns, "get", "quarksjob", "myfoo",
				"-o", "jsonpath={.status.lastRun.result}/{.status.completed}/{.spec.trigger.strategy}")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(Equal("Succeeded/true/done"))
		}).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		secrets, err := kubectl("-n", ns, "get", "quarksjob", "myfoo", "-o", "jsonpath={.status.lastRun.outputSecrets}")
		Expect(err).NotTo(HaveOccurred())
		Expect(secrets).To(ContainSubstring("foo-json"))
	})
})

// indent indents every line of s by n spaces.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}
