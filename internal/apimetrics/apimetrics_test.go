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

package apimetrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, url    string
		verb, resource string
	}{
		// core group, namespaced
		{"GET", "/api/v1/namespaces/ns/pods", "list", "pods"},
		{"GET", "/api/v1/namespaces/ns/pods?labelSelector=a%3Db&limit=500", "list", "pods"},
		{"GET", "/api/v1/namespaces/ns/pods?watch=true&resourceVersion=10", "watch", "pods"},
		{"GET", "/api/v1/namespaces/ns/pods/p-1", "get", "pods"},
		{"GET", "/api/v1/namespaces/ns/pods/p-1/log", "get", "pods/log"},
		{"POST", "/api/v1/namespaces/ns/events", "create", "events"},
		{"PATCH", "/api/v1/namespaces/ns/events/e.1", "patch", "events"},
		{"PUT", "/api/v1/namespaces/ns/pods/p-1/status", "update", "pods/status"},
		{"DELETE", "/api/v1/namespaces/ns/pods/p-1", "delete", "pods"},
		{"DELETE", "/api/v1/namespaces/ns/pods?labelSelector=x", "deletecollection", "pods"},
		// core group, cluster-scoped; a namespace and its own subresources
		{"GET", "/api/v1/nodes", "list", "nodes"},
		{"GET", "/api/v1/nodes?watch=1", "watch", "nodes"},
		{"GET", "/api/v1/nodes/n-1", "get", "nodes"},
		{"GET", "/api/v1/namespaces", "list", "namespaces"},
		{"GET", "/api/v1/namespaces/ns", "get", "namespaces"},
		{"PUT", "/api/v1/namespaces/ns/status", "update", "namespaces/status"},
		{"PUT", "/api/v1/namespaces/ns/finalize", "update", "namespaces/finalize"},
		// named groups
		{"POST", "/apis/batch/v1/namespaces/ns/jobs", "create", "jobs"},
		{"POST", "/apis/batch/v1/namespaces/ns/jobs?dryRun=All", "create", "jobs"},
		{"GET", "/apis/batch/v1/jobs?watch=true", "watch", "jobs"},
		{"GET", "/apis/batch/v1/jobs", "list", "jobs"},
		{"PATCH", "/apis/quarks.cloudfoundry.org/v1alpha1/namespaces/ns/quarksjobs/q-1/status", "patch", "quarksjobs/status"},
		{"PUT", "/apis/batch.cs.sap.com/v1alpha1/namespaces/ns/reactivejobs/r-1", "update", "reactivejobs"},
		{"POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "create", "subjectaccessreviews"},
		{"POST", "/apis/authentication.k8s.io/v1/tokenreviews", "create", "tokenreviews"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", "update", "leases"},
		{"POST", "/apis/events.k8s.io/v1/namespaces/ns/events", "create", "events"},
		// the deprecated watch prefix
		{"GET", "/api/v1/watch/namespaces/ns/pods", "watch", "pods"},
		// paths that name no resource
		{"GET", "/api", "get", "other"},
		{"GET", "/api/v1", "get", "other"},
		{"GET", "/apis", "get", "other"},
		{"GET", "/apis/batch/v1", "get", "other"},
		{"GET", "/version", "get", "other"},
		{"GET", "/openapi/v3/apis/batch/v1", "get", "other"},
		{"GET", "/api/v1/namespaces/ns/pods/p-1/status/extra", "get", "other"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		verb, resource := Classify(tc.method, u)
		if verb != tc.verb || resource != tc.resource {
			t.Errorf("%s %s: got %s %s, want %s %s", tc.method, tc.url, verb, resource, tc.verb, tc.resource)
		}
	}
}

// TestInstrument sends requests through a config that Instrument has wrapped and reads the counter.
func TestInstrument(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/namespaces/counted/configmaps/present":
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"present","namespace":"counted"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"Status","status":"Failure","reason":"NotFound","code":404}`))
		}
	}))
	defer srv.Close()

	cfg := &rest.Config{Host: srv.URL}
	Instrument(cfg)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	found := Requests.WithLabelValues("get", "configmaps", "200", "false")
	notFound := Requests.WithLabelValues("get", "configmaps", "404", "false")
	before, beforeNotFound := testutil.ToFloat64(found), testutil.ToFloat64(notFound)
	ctx := context.Background()
	for range 2 {
		if _, err := cs.CoreV1().ConfigMaps("counted").Get(ctx, "present", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps("counted").Get(ctx, "absent", metav1.GetOptions{}); err == nil {
		t.Fatal("want an error for the absent ConfigMap")
	}
	if got := testutil.ToFloat64(found) - before; got != 2 {
		t.Errorf("get configmaps 200: counted %v, want 2", got)
	}
	if got := testutil.ToFloat64(notFound) - beforeNotFound; got != 1 {
		t.Errorf("get configmaps 404: counted %v, want 1", got)
	}

	// The counter is served with controller-runtime's registry, as the manager's /metrics serves it.
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	registered := false
	for _, f := range families {
		registered = registered || f.GetName() == "jobkeeper_api_requests_total"
	}
	if !registered {
		t.Error("jobkeeper_api_requests_total is not in controller-runtime's metrics registry")
	}
}
