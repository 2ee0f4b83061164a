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
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

var _ = Describe("convert", func() {
	It("prints a NodeJob the API server accepts", func() {
		r := kubectlJobkeeper("convert", "-f", filepath.Join("testdata", "batch-job-controller-configmap.yaml"))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.stderr).To(ContainSubstring("note: reportHistory 150 is kept as 100"))

		nj := &batchv1alpha1.NodeJob{}
		Expect(yaml.UnmarshalStrict([]byte(r.stdout), nj)).To(Succeed())
		nj.Namespace = newNamespace()
		Expect(k8sClient.Create(ctx, nj)).To(Succeed())
		Expect(nj.Spec.Metrics.Gauges).To(HaveKey("root_used_percent"))
	})
})
