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
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results/nodejob"
	"github.com/jobkeeper/jobkeeper/test/utils"
)

// viewerRole creates (once) the aggregated viewer role of NodeJobRun from
// config/rbac and returns its name.
func viewerRole() string {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join(utils.RepoRoot(), "config", "rbac", "batch_nodejobrun_viewer_role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.Unmarshal(data, role)).To(Succeed())
	if err := k8sClient.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	return role.Name
}

// userToken creates a service account in ns and returns a token of it for the
// API server's own audiences, as kubectl create token does.
func userToken(ns, name string) string {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})).To(Succeed())
	out, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return out.Status.Token
}

// writeReport writes a file under a run's report directory.
func writeReport(ns, run, rel, content string) {
	GinkgoHelper()
	p := filepath.Join(njRoutes.Store().Dir(), ns, "nj", run, filepath.FromSlash(rel))
	Expect(os.MkdirAll(filepath.Dir(p), 0o750)).To(Succeed())
	Expect(os.WriteFile(p, []byte(content), 0o640)).To(Succeed())
}

var _ = Describe("NodeJob read route (NJ-A7)", func() {
	const secret = "top secret outside the run"
	var (
		ns, viewer, nobody string
		older, newer       *batchv1alpha1.NodeJobRun
	)
	get := func(path, token string) answer {
		GinkgoHelper()
		return call(http.MethodGet, path, token, nil, nil)
	}
	head := func(path, token string) *http.Response {
		GinkgoHelper()
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, baseURL+path, nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp
	}
	listing := func(a answer) []nodejob.ReportEntry {
		GinkgoHelper()
		Expect(a).To(haveCode(200), "%s", a.Body)
		var entries []nodejob.ReportEntry
		Expect(json.Unmarshal(a.Body, &entries)).To(Succeed())
		return entries
	}
	names := func(entries []nodejob.ReportEntry) []string {
		out := make([]string, len(entries))
		for i, e := range entries {
			out[i] = e.Name
		}
		return out
	}

	BeforeEach(func() {
		ns = newNamespace("results-read-")
		at := func(min int) func(*batchv1alpha1.NodeJobRun) {
			return func(r *batchv1alpha1.NodeJobRun) {
				r.Spec.ScheduledTime = metav1.NewTime(time.Date(2026, 1, 1, 0, min, 0, 0, time.UTC))
			}
		}
		older = createRun(ns, "nj-29000000", executionID, []string{"node-a"}, at(0))
		newer = createRun(ns, "nj-29000060", executionID2, []string{"node-a"}, at(60))
		// The newest run has no report directory yet, so "latest" is not it.
		createRun(ns, "nj-29000120", "202601010200", []string{"node-a"}, at(120))

		writeReport(ns, older.Name, "nodes/node-a/result.json", `{"test":[]}`)
		writeReport(ns, older.Name, "nodes/node-a/files/test.txt", "file content")
		writeReport(ns, older.Name, "nodes/node-a/logs/main.log", "log line\n")
		writeReport(ns, newer.Name, "nodes/node-a/result.json", `{"newer":[]}`)
		// A file inside the report root but outside every run, and one outside the root.
		writeReport(ns, "..", "secret.txt", secret)
		outside := filepath.Join(GinkgoT().TempDir(), "outside.txt")
		Expect(os.WriteFile(outside, []byte(secret), 0o600)).To(Succeed())
		link := filepath.Join(njRoutes.Store().Dir(), ns, "nj", older.Name, "nodes", "node-a", "files", "link.txt")
		Expect(os.Symlink(outside, link)).To(Succeed())
		Expect(os.Symlink(filepath.Join(njRoutes.Store().Dir(), ns, "nj"),
			filepath.Join(filepath.Dir(link), "dirlink"))).To(Succeed())

		viewer = userToken(ns, "viewer")
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: viewerRole()},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "viewer", Namespace: ns}},
		})).To(Succeed())
		nobody = userToken(ns, "nobody")
	})

	base := func(run string) string { return "/reports/" + ns + "/nj/" + run }

	It("answers 401 without a token, with a bad one, or with a job pod's results token", func() {
		Expect(get(base(older.Name)+"/", "")).To(haveCode(401, "Unauthenticated"))
		Expect(get(base(older.Name)+"/", "not-a-token")).To(haveCode(401, "Unauthenticated"))
		pod := createNodePod(older, "node-a")
		Expect(get(base(older.Name)+"/", tokenFor(pod, ns, audience))).To(haveCode(401, "Unauthenticated"))
	})

	It("answers 403 to a user without get on nodejobruns/reports (NJ-X27)", func() {
		a := get(base(older.Name)+"/nodes/node-a/files/test.txt", nobody)
		Expect(a).To(haveCode(403, "Forbidden"))
		Expect(a.Error.Message).To(ContainSubstring("nodejobruns/reports"))
		a = get(base("latest")+"/", nobody)
		Expect(a).To(haveCode(403, "Forbidden"))
		Expect(a.Error.Message).NotTo(ContainSubstring(newer.Name), "no hint which run is the latest")
		Expect(get(base("nj-1")+"/", nobody)).To(haveCode(403, "Forbidden"), "no hint whether a run exists")
		Expect(head(base(older.Name)+"/", nobody).StatusCode).To(Equal(403))
	})

	It("lists directories as JSON and serves files to a viewer", func() {
		Expect(names(listing(get(base(older.Name), viewer)))).To(Equal([]string{"nodes"}))
		root := listing(get(base(older.Name)+"/", viewer))
		Expect(root).To(HaveLen(1))
		Expect(root[0].Dir).To(BeTrue())

		node := listing(get(base(older.Name)+"/nodes/node-a/", viewer))
		Expect(names(node)).To(Equal([]string{"files", "logs", "result.json"}))
		Expect(node[2]).To(And(HaveField("Dir", false), HaveField("Size", int64(len(`{"test":[]}`)))))
		Expect(node[2].ModTime).NotTo(BeZero())

		By("never listing symbolic links")
		Expect(names(listing(get(base(older.Name)+"/nodes/node-a/files", viewer)))).To(Equal([]string{"test.txt"}))

		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+base(older.Name)+"/nodes/node-a/files/test.txt", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+viewer)
		resp, err := httpClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(200))
		Expect(resp.Header.Get("Content-Type")).To(Equal("application/octet-stream"))
		Expect(resp.Header.Get("Content-Disposition")).To(Equal(`attachment; filename=test.txt`))
		Expect(resp.Header.Get("X-Content-Type-Options")).To(Equal("nosniff"))
		Expect(resp.ContentLength).To(Equal(int64(len("file content"))))

		a := get(base(older.Name)+"/nodes/node-a/files/test.txt", viewer)
		Expect(string(a.Body)).To(Equal("file content"))
		a = get(base(older.Name)+"/nodes/node-a/result.json", viewer)
		Expect(a.Body).To(MatchJSON(`{"test":[]}`))

		resp, err = httpClient.Do(func() *http.Request {
			r, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+base(older.Name)+"/nodes/node-a/logs/main.log", nil)
			Expect(err).NotTo(HaveOccurred())
			r.Header.Set("Authorization", "Bearer "+viewer)
			return r
		}())
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.Header.Get("Content-Type")).To(Equal("text/plain; charset=utf-8"))

		By("answering HEAD with the headers only")
		h := head(base(older.Name)+"/nodes/node-a/files/test.txt", viewer)
		Expect(h.StatusCode).To(Equal(200))
		Expect(h.ContentLength).To(Equal(int64(len("file content"))))
		Expect(h.Header.Get("Content-Disposition")).To(Equal(`attachment; filename=test.txt`))

		By("refusing other methods")
		a = call(http.MethodPost, base(older.Name)+"/nodes/node-a/files/test.txt", viewer, nil, nil)
		Expect(a).To(haveCode(405))
		Expect(a.Allow).To(Equal("GET, HEAD"))
	})

	It("serves a node's record, the per-node state of a run, to a viewer", func() {
		pod := createNodePod(older, "node-a")
		var rec reports.NodeRecord
		a := get(base(older.Name)+"/nodes/node-a/"+reports.NodeRecordFileName, viewer)
		Expect(a).To(haveCode(200))
		Expect(json.Unmarshal(a.Body, &rec)).To(Succeed())
		Expect(rec.Name).To(Equal("node-a"))
		Expect(rec.Phase).To(Equal(batchv1alpha1.NodeJobRunNodePhaseRunning))
		Expect(rec.PodUID).To(Equal(pod.UID))
		Expect(get(base(older.Name)+"/nodes/node-a/"+reports.NodeRecordFileName, nobody)).To(haveCode(403, "Forbidden"))
	})

	It("resolves latest to the newest run that has a report directory", func() {
		Expect(get(base("latest")+"/nodes/node-a/result.json", viewer).Body).To(MatchJSON(`{"newer":[]}`))
		Expect(names(listing(get(base("latest"), viewer)))).To(Equal([]string{"nodes"}))
		Expect(get("/reports/"+ns+"/other/latest/", viewer)).To(haveCode(404, "NotFound"))
	})

	It("answers 404 for a missing file, run or NodeJob", func() {
		Expect(get(base(older.Name)+"/nodes/node-a/files/missing.txt", viewer)).To(haveCode(404, "NotFound"))
		Expect(get(base(older.Name)+"/nodes/node-b/", viewer)).To(haveCode(404, "NotFound"))
		Expect(get(base("nj-1")+"/", viewer)).To(haveCode(404, "NotFound"))
		Expect(get("/reports/"+ns+"/other/"+older.Name+"/", viewer)).To(haveCode(404, "NotFound"))
		Expect(get("/reports/"+ns+"/nj", viewer)).To(haveCode(404, "NotFound"))
	})

	It("never leaves the run directory nor follows symbolic links (NJ-F12)", func() {
		for _, p := range []string{
			base(older.Name) + "/../secret.txt",
			base(older.Name) + "/../../secret.txt",
			base(older.Name) + "/nodes/../../secret.txt",
			base(older.Name) + "/%2e%2e/secret.txt",
			base(older.Name) + "/nodes/%2e%2e/%2e%2e/secret.txt",
			base(older.Name) + "/%2e%2e%2fsecret.txt",
			base(older.Name) + "/nodes%2f..%2f..%2fsecret.txt",
			base(older.Name) + "/..%5c..%5csecret.txt",
			base(older.Name) + "/nodes//node-a/result.json",
			base(older.Name) + "/nodes/./node-a/result.json",
			base(older.Name) + "/nodes/node-a/%00",
			"/reports/" + ns + "/nj/%2e%2e/secret.txt",
			"/reports/" + ns + "/%2e%2e/" + ns + "/secret.txt",
			"/reports/..%2f" + ns + "/nj/" + older.Name + "/",
			base(older.Name) + "/nodes/node-a/files/link.txt",
			base(older.Name) + "/nodes/node-a/files/dirlink/",
			base(older.Name) + "/nodes/node-a/files/dirlink/" + older.Name + "/nodes/node-a/result.json",
		} {
			a := get(p, viewer)
			Expect(a.Code).To(BeElementOf(400, 404), "path %s: %s", p, a.Body)
			Expect(string(a.Body)).NotTo(ContainSubstring(secret), "path %s", p)
		}
	})
})
