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
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/names"
	"github.com/jobkeeper/jobkeeper/internal/reports"
)

// Reasons of skipped and failed nodes (NJ-8, NJ-13 to NJ-20).
const (
	NodeReasonNotReady         = "NodeNotReady"
	NodeReasonUnschedulable    = "NodeUnschedulable"
	NodeReasonTaintNotTolerate = "TaintNotTolerated"
	NodeReasonPodCreateFailed  = "PodCreateFailed"
	NodeReasonPodDeleted       = "PodDeleted"
	NodeReasonNodeDeleted      = "NodeDeleted"
	NodeReasonAborted          = "Aborted"
	NodeReasonDeadlineExceeded = "DeadlineExceeded"
	NodeReasonFailFast         = "FailFast"
	NodeReasonReplaced         = "Replaced"
	NodeReasonContainerFailed  = "ContainerFailed"
	NodeReasonPodNameCollision = "PodNameCollision"
	NodeReasonUntrustedPod     = "UntrustedPod"
)

// Defaults of the results API the pods call back (§1.6, §1.7).
const (
	DefaultResultsServiceName      = "jobkeeper-results"
	DefaultResultsServiceNamespace = "jobkeeper-system"
	DefaultResultsServicePort      = 443
	DefaultResultsAudience         = "jobkeeper-results"
	ResultsCAConfigMapName         = "jobkeeper-results-ca"
	// resultsTokenExpirySeconds is the lifetime of the projected results token.
	resultsTokenExpirySeconds int64 = 3600
)

// resultsEndpoint says where the pods of a run send their results.
type resultsEndpoint struct {
	serviceName, serviceNamespace string
	port                          int32
	audience                      string
}

// nodeSelection is the outcome of selecting the nodes of a run.
type nodeSelection struct {
	nodes   []reports.SelectedNode
	desired int
}

// selectNodes lists the candidate nodes of a run, in name order, with a skip reason for those that cannot get a
// pod (NJ-7, NJ-8). Two nodes whose pod names would be the same cannot both get one: the second is skipped.
func selectNodes(spec *batchv1alpha1.NodeJobRunSpec, all []corev1.Node) (nodeSelection, error) {
	sel := labels.Everything()
	if spec.NodeSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.NodeSelector)
		if err != nil {
			return nodeSelection{}, fmt.Errorf("spec.nodeSelector: %w", err)
		}
		sel = s
	}
	tolerations := podTolerations(spec)
	var out nodeSelection
	for i := range all {
		n := &all[i]
		if !sel.Matches(labels.Set(n.Labels)) || !labels.SelectorFromSet(spec.Template.Spec.NodeSelector).Matches(labels.Set(n.Labels)) {
			continue
		}
		ok, err := matchesRequiredAffinity(spec.Template.Spec.Affinity, n)
		if err != nil {
			return nodeSelection{}, err
		}
		if !ok {
			continue
		}
		entry := reports.SelectedNode{Name: n.Name}
		entry.SkipReason, entry.SkipMessage = skipReason(spec, n, tolerations)
		out.nodes = append(out.nodes, entry)
	}
	slices.SortFunc(out.nodes, func(a, b reports.SelectedNode) int { return strings.Compare(a.Name, b.Name) })
	hashes := make(map[string]string, len(out.nodes))
	for i := range out.nodes {
		n := &out.nodes[i]
		if n.SkipReason != "" {
			continue
		}
		h := names.NodeHash(n.Name)
		if other, ok := hashes[h]; ok {
			n.SkipReason, n.SkipMessage = NodeReasonPodNameCollision,
				fmt.Sprintf("its pod name would be the pod name of node %s", other)
			continue
		}
		hashes[h] = n.Name
		out.desired++
	}
	return out, nil
}

// skipReason says why a candidate node gets no pod, or "" (NJ-8).
func skipReason(spec *batchv1alpha1.NodeJobRunSpec, n *corev1.Node, tolerations []corev1.Toleration) (string, string) {
	if !spec.IncludeNotReady && !nodeReady(n) {
		return NodeReasonNotReady, "node is not Ready"
	}
	if !spec.IncludeUnschedulable && n.Spec.Unschedulable {
		return NodeReasonUnschedulable, "node is unschedulable"
	}
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !slices.ContainsFunc(tolerations, func(tol corev1.Toleration) bool {
			return tol.ToleratesTaint(logr.Discard(), t, false)
		}) {
			return NodeReasonTaintNotTolerate, fmt.Sprintf("taint %s is not tolerated", t.ToString())
		}
	}
	return "", ""
}

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// matchesRequiredAffinity reports whether the node matches one of the required node affinity terms, if any.
func matchesRequiredAffinity(aff *corev1.Affinity, n *corev1.Node) (bool, error) {
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true, nil
	}
	terms := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for i := range terms {
		ok, err := matchesTerm(&terms[i], n)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// matchesTerm evaluates one node selector term against a node; an empty term matches nothing.
func matchesTerm(term *corev1.NodeSelectorTerm, n *corev1.Node) (bool, error) {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false, nil
	}
	exprs, err := requirementsSelector(term.MatchExpressions)
	if err != nil {
		return false, err
	}
	fields, err := requirementsSelector(term.MatchFields)
	if err != nil {
		return false, err
	}
	return exprs.Matches(labels.Set(n.Labels)) && fields.Matches(labels.Set{"metadata.name": n.Name}), nil
}

var nodeSelectorOperators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

func requirementsSelector(reqs []corev1.NodeSelectorRequirement) (labels.Selector, error) {
	sel := labels.NewSelector()
	for _, r := range reqs {
		op, ok := nodeSelectorOperators[r.Operator]
		if !ok {
			return nil, fmt.Errorf("unknown node selector operator %q", r.Operator)
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil {
			return nil, fmt.Errorf("node affinity: %w", err)
		}
		sel = sel.Add(*req)
	}
	return sel, nil
}

// parallelismLimit is the number of pods that may be non-terminal at once, at least 1 (NJ-11, NJ-A5).
func parallelismLimit(p *intstr.IntOrString, desired int) int {
	if p == nil {
		return batchv1alpha1.DefaultNodeJobParallelism
	}
	if p.Type == intstr.Int {
		return max(1, p.IntValue())
	}
	pct, err := strconv.Atoi(strings.TrimSuffix(p.StrVal, "%"))
	if err != nil || pct <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(float64(pct)*float64(desired)/100)))
}

// podTolerations are the template's tolerations plus those includeUnschedulable and includeNotReady ask for (§1.7).
func podTolerations(spec *batchv1alpha1.NodeJobRunSpec) []corev1.Toleration {
	out := slices.Clone(spec.Template.Spec.Tolerations)
	if spec.IncludeUnschedulable {
		out = append(out, corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoSchedule})
	}
	if spec.IncludeNotReady {
		for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
			for _, effect := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
				out = append(out, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect})
			}
		}
	}
	return out
}

// buildNodeJobPod builds the pod of a run on a node, as §1.7 describes. The caller sets the owner reference.
func buildNodeJobPod(run *batchv1alpha1.NodeJobRun, node string, ep resultsEndpoint) *corev1.Pod {
	tmpl := run.Spec.Template.DeepCopy()
	podLabels := maps.Clone(tmpl.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	podLabels[batchv1alpha1.NodeJobNameLabel] = run.Spec.NodeJobName
	podLabels[batchv1alpha1.NodeJobRunNameLabel] = run.Name
	podLabels[batchv1alpha1.NodeJobExecutionIDLabel] = run.Spec.ExecutionID
	podLabels[batchv1alpha1.NodeJobNodeHashLabel] = names.NodeHash(node)
	annotations := maps.Clone(tmpl.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1alpha1.NodeJobNodeNameAnnotation] = node

	spec := tmpl.Spec
	spec.NodeName = ""
	spec.Affinity = withNodeAffinity(spec.Affinity, node)
	spec.Tolerations = podTolerations(&run.Spec)
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyNever
	}
	if spec.ActiveDeadlineSeconds == nil && run.Spec.PodActiveDeadlineSeconds != nil {
		spec.ActiveDeadlineSeconds = new(*run.Spec.PodActiveDeadlineSeconds)
	}
	if spec.ServiceAccountName == "" {
		// What the ServiceAccount admission plugin would set; the projected token needs it at validation.
		spec.ServiceAccountName = "default"
	}
	if spec.AutomountServiceAccountToken == nil {
		spec.AutomountServiceAccountToken = new(false)
	}
	spec.Volumes = append(spec.Volumes, resultsVolume(ep))
	env := podEnv(run, node, ep)
	mount := corev1.VolumeMount{Name: batchv1alpha1.NodeJobResultsVolumeName, MountPath: batchv1alpha1.NodeJobResultsMountPath,
		ReadOnly: true}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			cs[i].Env = append(withTrustEnv(cs[i].Env), env...)
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        names.NodeJobPodName(run.Name, node),
			Namespace:   run.Namespace,
			Labels:      podLabels,
			Annotations: annotations,
			Finalizers:  []string{batchv1alpha1.NodeJobTrackingFinalizer},
		},
		Spec: spec,
	}
}

// withNodeAffinity ANDs a matchFields metadata.name term into every required term, or adds one (§1.7).
func withNodeAffinity(aff *corev1.Affinity, node string) *corev1.Affinity {
	if aff == nil {
		aff = &corev1.Affinity{}
	}
	if aff.NodeAffinity == nil {
		aff.NodeAffinity = &corev1.NodeAffinity{}
	}
	req := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if req == nil {
		req = &corev1.NodeSelector{}
		aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = req
	}
	field := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}
	if len(req.NodeSelectorTerms) == 0 {
		req.NodeSelectorTerms = []corev1.NodeSelectorTerm{{}}
	}
	for i := range req.NodeSelectorTerms {
		req.NodeSelectorTerms[i].MatchFields = append(req.NodeSelectorTerms[i].MatchFields, field)
	}
	return aff
}

// resultsVolume is the projected volume with the results token and CA (§1.7).
func resultsVolume(ep resultsEndpoint) corev1.Volume {
	return corev1.Volume{
		Name: batchv1alpha1.NodeJobResultsVolumeName,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience: ep.audience, ExpirationSeconds: new(resultsTokenExpirySeconds),
					Path: batchv1alpha1.NodeJobResultsTokenFile,
				}},
				{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: ResultsCAConfigMapName},
					Items:                []corev1.KeyToPath{{Key: batchv1alpha1.NodeJobResultsCAFile, Path: batchv1alpha1.NodeJobResultsCAFile}},
				}},
			},
		}},
	}
}

// podEnv is the environment the operator injects into every container (§1.6).
func podEnv(run *batchv1alpha1.NodeJobRun, node string, ep resultsEndpoint) []corev1.EnvVar {
	host := fmt.Sprintf("%s.%s.svc", ep.serviceName, ep.serviceNamespace)
	port := strconv.Itoa(int(ep.port))
	base := fmt.Sprintf("https://%s:%s/report/%s/%s/", host, port, node, run.Spec.ExecutionID)
	return []corev1.EnvVar{
		{Name: batchv1alpha1.NodeJobEnvExecutionID, Value: run.Spec.ExecutionID},
		{Name: batchv1alpha1.NodeJobEnvNamespace, Value: run.Namespace},
		{Name: batchv1alpha1.NodeJobEnvNodeName, Value: node},
		{Name: batchv1alpha1.NodeJobEnvCallbackServiceName, Value: host},
		{Name: batchv1alpha1.NodeJobEnvCallbackServicePort, Value: port},
		{Name: batchv1alpha1.NodeJobEnvCallbackServiceResultURL, Value: base + "result"},
		{Name: batchv1alpha1.NodeJobEnvCallbackServiceFileURL, Value: base + "file"},
		{Name: batchv1alpha1.NodeJobEnvCallbackServiceEventURL, Value: base + "event"},
		{Name: batchv1alpha1.NodeJobEnvCallbackServiceTokenFile,
			Value: batchv1alpha1.NodeJobResultsMountPath + "/" + batchv1alpha1.NodeJobResultsTokenFile},
		{Name: batchv1alpha1.NodeJobEnvCallbackServiceCAFile,
			Value: batchv1alpha1.NodeJobResultsMountPath + "/" + batchv1alpha1.NodeJobResultsCAFile},
	}
}

// trustEnvNames are the variables through which curl, OpenSSL and Go (SSL_CERT_FILE), curl (CURL_CA_BUNDLE),
// Python requests (REQUESTS_CA_BUNDLE) and Node.js (NODE_EXTRA_CA_CERTS) find the CAs they trust, so that a job
// script posts to the results API over TLS without a CA flag.
var trustEnvNames = []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"}

// withTrustEnv adds the trust variables, pointing to the results CA bundle, that a container does not set
// itself. SSL_CERT_FILE, CURL_CA_BUNDLE and REQUESTS_CA_BUNDLE replace the image's trust store for those tools;
// a container that also calls other TLS services sets them itself (for example to a bundle that includes both).
func withTrustEnv(env []corev1.EnvVar) []corev1.EnvVar {
	ca := batchv1alpha1.NodeJobResultsMountPath + "/" + batchv1alpha1.NodeJobResultsCAFile
	out := env
	for _, name := range trustEnvNames {
		if !slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == name }) {
			out = append(out, corev1.EnvVar{Name: name, Value: ca})
		}
	}
	return out
}

// podOutcome is the node phase, reason and message of a terminal pod, or "" while it runs (NJ-14).
func podOutcome(pod *corev1.Pod) (batchv1alpha1.NodeJobRunNodePhase, string, string) {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return batchv1alpha1.NodeJobRunNodePhaseSucceeded, "", pod.Status.Message
	case corev1.PodFailed:
		if pod.Status.Reason != "" {
			return batchv1alpha1.NodeJobRunNodePhaseFailed, pod.Status.Reason, pod.Status.Message
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				return batchv1alpha1.NodeJobRunNodePhaseFailed, NodeReasonContainerFailed,
					fmt.Sprintf("%s: exit %d", NodeReasonContainerFailed, t.ExitCode)
			}
		}
		return batchv1alpha1.NodeJobRunNodePhaseFailed, NodeReasonContainerFailed, pod.Status.Message
	}
	return "", "", ""
}
