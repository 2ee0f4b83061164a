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
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// kind is one of the project's kinds with the names the CRD declares for it.
type kind struct {
	gvk        schema.GroupVersionKind
	plural     string
	singular   string
	shortNames []string
}

// Kinds as their CRDs in config/crd/bases name them.
var (
	kindQuarksJob = kind{
		gvk: quarksv1alpha1.GroupVersion.WithKind("QuarksJob"), plural: "quarksjobs", singular: "quarksjob",
		shortNames: []string{"qjob", "qjobs"},
	}
	kindReactiveJob = kind{
		gvk: batchv1alpha1.GroupVersion.WithKind("ReactiveJob"), plural: "reactivejobs", singular: "reactivejob",
		shortNames: []string{"rjob", "rjobs"},
	}
	kindNodeJob = kind{
		gvk: batchv1alpha1.GroupVersion.WithKind("NodeJob"), plural: "nodejobs", singular: "nodejob",
		shortNames: []string{"njob", "njobs"},
	}
	kindNodeJobRun = kind{
		gvk: batchv1alpha1.GroupVersion.WithKind("NodeJobRun"), plural: "nodejobruns", singular: "nodejobrun",
		shortNames: []string{"njrun", "njruns"},
	}

	allKinds = []kind{kindQuarksJob, kindReactiveJob, kindNodeJob, kindNodeJobRun}
)

// names returns every name the kind is known by, in lower case.
func (k kind) names() []string {
	return append([]string{strings.ToLower(k.gvk.Kind), k.singular, k.plural}, k.shortNames...)
}

// String returns the name kubectl prints for the kind, e.g. quarksjob.quarks.cloudfoundry.org.
func (k kind) String() string {
	return k.singular + "." + k.gvk.Group
}

// ref returns kind/name as kubectl prints it.
func (k kind) ref(name string) string {
	return k.String() + "/" + name
}

// resolveKind finds the kind named by s: a kind, singular, plural or short name, optionally followed by
// ".<group>" or ".<version>.<group>", in any case.
func resolveKind(s string) (kind, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	for _, k := range allKinds {
		for _, n := range k.names() {
			switch want {
			case n, n + "." + k.gvk.Group, n + "." + k.gvk.Version + "." + k.gvk.Group:
				return k, nil
			}
		}
	}
	return kind{}, fmt.Errorf("unknown kind %q: use one of %s", s, kindList(allKinds))
}

// kindList names kinds for messages: "quarksjob (qjob), reactivejob (rjob)".
func kindList(ks []kind) string {
	parts := make([]string, 0, len(ks))
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s (%s)", k.singular, k.shortNames[0]))
	}
	return strings.Join(parts, ", ")
}

// parseKindName reads "KIND NAME" or "KIND/NAME" and checks that the kind is one of allowed.
func parseKindName(args []string, allowed ...kind) (kind, string, error) {
	var kindArg, name string
	switch {
	case len(args) == 1 && strings.Contains(args[0], "/"):
		kindArg, name, _ = strings.Cut(args[0], "/")
	case len(args) == 2:
		kindArg, name = args[0], args[1]
	default:
		return kind{}, "", fmt.Errorf("expected KIND NAME or KIND/NAME, got %d arguments", len(args))
	}
	if name == "" || strings.Contains(name, "/") {
		return kind{}, "", fmt.Errorf("invalid name %q", name)
	}
	k, err := resolveKind(kindArg)
	if err != nil {
		return kind{}, "", err
	}
	for _, a := range allowed {
		if a.gvk == k.gvk {
			return k, name, nil
		}
	}
	return kind{}, "", fmt.Errorf("%s is not supported by this command (it takes %s)", k.gvk.Kind, kindList(allowed))
}
