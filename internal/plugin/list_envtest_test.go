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

package plugin

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

var _ = Describe("list", func() {
	It("lists the three kinds in a namespace, in all namespaces and by label", func() {
		ns1, ns2 := newNamespace(), newNamespace()
		// A label only this spec uses, so that -A sees none of the other specs' objects.
		mark := map[string]string{"list-spec": ns1}

		qj := newQuarksJob(ns1, "errand", quarksv1alpha1.StrategyManual)
		qj.Labels = mark
		Expect(k8sClient.Update(ctx, qj)).To(Succeed())
		for _, ns := range []string{ns1, ns2} {
			rj := &batchv1alpha1.ReactiveJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "migrate", Labels: mark}}
			rj.Spec.JobTemplate.Spec.Template.Spec = podSpec()
			Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		}

		r := kubectlJobkeeper("list", "-n", ns1)
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.stdout).To(HavePrefix("NAME "))
		Expect(r.stdout).To(ContainSubstring("quarksjob.quarks.cloudfoundry.org/errand"))
		Expect(r.stdout).To(ContainSubstring("reactivejob.batch.cs.sap.com/migrate"))

		r = kubectlJobkeeper("list", "-A", "-l", "list-spec="+ns1, "-o", "name")
		Expect(r.err).NotTo(HaveOccurred())
		Expect(strings.Split(strings.TrimSpace(r.stdout), "\n")).To(Equal([]string{
			"quarksjob.quarks.cloudfoundry.org/errand",
			"reactivejob.batch.cs.sap.com/migrate",
			"reactivejob.batch.cs.sap.com/migrate",
		}))

		r = kubectlJobkeeper("list", "rjob", "-A", "-l", "list-spec="+ns1)
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.stdout).To(HavePrefix("NAMESPACE "))
		Expect(r.stdout).To(ContainSubstring(ns2))
		Expect(r.stdout).NotTo(ContainSubstring("quarksjob"))

		r = kubectlJobkeeper("list", "njob", "-n", ns2)
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.stdout).To(BeEmpty())
		Expect(r.stderr).To(Equal("No resources found in " + ns2 + " namespace.\n"))
	})

	It("watches: prints the list, then every object that changes, until interrupted", func() {
		ns := newNamespace()
		newQuarksJob(ns, "before", quarksv1alpha1.StrategyManual)

		wctx, stop := context.WithCancel(ctx)
		done := make(chan pluginResult, 1)
		go func() { done <- kubectlJobkeeperContext(wctx, "list", "-w", "-n", ns) }()
		// The list and the watches are set up well within this.
		time.Sleep(3 * time.Second)
		rj := &batchv1alpha1.ReactiveJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "after"}}
		rj.Spec.JobTemplate.Spec.Template.Spec = podSpec()
		Expect(k8sClient.Create(ctx, rj)).To(Succeed())
		time.Sleep(2 * time.Second)
		stop()

		var r pluginResult
		Eventually(done).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		Expect(lines[0]).To(HavePrefix("NAME "))
		Expect(lines[1]).To(HavePrefix("quarksjob.quarks.cloudfoundry.org/before "))
		Expect(lines[2:]).To(ContainElement(HavePrefix("reactivejob.batch.cs.sap.com/after ")))
	})
})
