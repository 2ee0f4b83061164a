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
	"context"
	"time"

	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

// newNamespace creates a fresh namespace for one spec.
func newNamespace(prefix string) string {
	ns, err := utils.NewNamespace(ctx, k8sClient, prefix)
	Expect(err).NotTo(HaveOccurred())
	return ns
}

// managerUser is the user the controllers run as in these tests: it has the
// generated manager ClusterRole and nothing else.
const managerUser = "jobkeeper-manager"

// bindRole binds the generated manager role, changed by mutate, to user.
func bindRole(name, user string, mutate func(*rbacv1.ClusterRole)) *rbacv1.ClusterRole {
	role, err := utils.BindGeneratedRole(ctx, k8sClient, name, user, mutate)
	Expect(err).NotTo(HaveOccurred())
	return role
}

// userConfig returns a rest config authenticated as user, with no groups.
func userConfig(user string) *rest.Config {
	c, err := utils.UserConfig(testEnv, user)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// startReactiveJobController runs a manager with the ReactiveJob controller,
// as the manager user, whose caches see only namespace; the returned function
// stops it, as a crash or a failover would.
func startReactiveJobController(namespace string) (stop func()) {
	return startReactiveJobControllerAs(namespace, userConfig(managerUser))
}

func startReactiveJobControllerAs(namespace string, cfg *rest.Config) (stop func()) {
	mctx, cancel := context.WithCancel(ctx)
	done, err := utils.StartManager(mctx, cfg, scheme.Scheme, namespace, func(mgr ctrl.Manager) error {
		return (&ReactiveJobReconciler{
			Client:     mgr.GetClient(),
			Scheme:     mgr.GetScheme(),
			Namespaces: []string{namespace},
		}).SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	return func() {
		cancel()
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
	}
}

// kstatusOf computes the kstatus of obj the way Flux and kubectl-style tools do.
func kstatusOf(obj client.Object) status.Status {
	st, err := utils.Kstatus(obj)
	Expect(err).NotTo(HaveOccurred())
	return st
}

// finishJob sets the status a Job controller would set when the Job ends;
// envtest runs no Job controller.
func finishJob(job *batchv1.Job, succeeded bool) {
	finishJobAt(job, succeeded, metav1.Now())
}

// finishJobAt finishes a Job at the given time.
func finishJobAt(job *batchv1.Job, succeeded bool, now metav1.Time) {
	Expect(utils.FinishJob(ctx, k8sClient, job, succeeded, now)).To(Succeed())
}

// startJob marks a Job as running with one active pod.
func startJob(job *batchv1.Job) {
	now := metav1.Now()
	job.Status.StartTime = &now
	job.Status.Active = 1
	Expect(k8sClient.Status().Update(ctx, job)).To(Succeed())
}

// eventReasons returns the reasons of the Events regarding a named object.
func eventReasons(namespace, name string) []string {
	reasons, err := utils.EventReasons(ctx, k8sClient, namespace, name)
	Expect(err).NotTo(HaveOccurred())
	return reasons
}
