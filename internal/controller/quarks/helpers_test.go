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

package quarks

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

// managerUser is the user the controller runs as: it has the generated manager ClusterRole only.
const managerUser = "jobkeeper-manager"

// testHashKey is the configuration hash key of the tests.
var testHashKey = HashKey{ID: "ktest", Key: []byte("0123456789abcdef0123456789abcdef")}

func newNamespace(prefix string) string {
	ns, err := utils.NewNamespace(ctx, k8sClient, prefix)
	Expect(err).NotTo(HaveOccurred())
	return ns
}

// startQuarksJobController runs the QuarksJob controller as the manager user
// for one namespace; the returned function stops it, as a crash would.
func startQuarksJobController(namespace string) (stop func()) {
	return startQuarksJobControllerWith(namespace, nil)
}

// startQuarksJobControllerWith is startQuarksJobController with the
// reconciler changed by configure.
func startQuarksJobControllerWith(namespace string, configure func(*QuarksJobReconciler)) (stop func()) {
	cfg, err := utils.UserConfig(testEnv, managerUser)
	Expect(err).NotTo(HaveOccurred())
	mctx, cancel := context.WithCancel(ctx)
	done, err := utils.StartManager(mctx, cfg, scheme.Scheme, namespace, func(mgr ctrl.Manager) error {
		r := &QuarksJobReconciler{
			Client:     mgr.GetClient(),
			Scheme:     mgr.GetScheme(),
			Namespaces: []string{namespace},
			HashKey:    testHashKey,
		}
		if configure != nil {
			configure(r)
		}
		return r.SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	return func() {
		cancel()
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
	}
}

func kstatusOf(obj client.Object) status.Status {
	st, err := utils.Kstatus(obj)
	Expect(err).NotTo(HaveOccurred())
	return st
}

// finishJob sets the status a Job controller would set; envtest runs none.
func finishJob(job *batchv1.Job, succeeded bool) {
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
	Expect(utils.FinishJob(ctx, k8sClient, job, succeeded, metav1.Now())).To(Succeed())
}

func eventReasons(namespace, name string) []string {
	reasons, err := utils.EventReasons(ctx, k8sClient, namespace, name)
	Expect(err).NotTo(HaveOccurred())
	return reasons
}

func bytesSplit(data []byte) [][]byte {
	var out [][]byte
	for doc := range strings.SplitSeq(string(data), "\n---") {
		if strings.TrimSpace(doc) != "" {
			out = append(out, []byte(doc))
		}
	}
	return out
}
