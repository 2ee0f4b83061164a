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

package nodemetrics

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// Help texts of the gauges the operator sets itself.
const (
	helpProcessing = "0 once the node's result was accepted; 1 when its pod failed or succeeded without a result."
	helpDuration   = "Milliseconds from the creation of the node's pod until it ended."
	helpPods       = "Nodes that get a pod in the newest run."
	helpCurrentID  = "The 12 leading digits of the newest execution ID."
)

// Implicit labels, in the order they follow the declared labels.
var (
	nodeLabels = []string{
		batchv1alpha1.NodeJobMetricLabelNode, batchv1alpha1.NodeJobMetricLabelExecutionID,
		batchv1alpha1.NodeJobMetricLabelNamespace, batchv1alpha1.NodeJobMetricLabelNodeJob,
	}
	jobLabels = []string{batchv1alpha1.NodeJobMetricLabelNamespace, batchv1alpha1.NodeJobMetricLabelNodeJob}
)

// Series is one result value of a node.
type Series struct {
	// Suffix is the declared gauge suffix.
	Suffix string
	// Value is the gauge value.
	Value float64
	// Labels are the declared label values; the implicit labels are set by the registry.
	Labels map[string]string
}

// ConflictError says that a NodeJob declares a family that an older NodeJob declares differently.
type ConflictError struct {
	Family string
	Owner  types.NamespacedName
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("metric %s is already declared with other labels or help by NodeJob %s", e.Family, e.Owner)
}

// def is how one NodeJob declares a family.
type def struct {
	name   string
	help   string
	labels []string
	desc   *prometheus.Desc
}

func newDef(name, help string, declared []string, implicit []string) *def {
	labels := slices.Clone(declared)
	slices.Sort(labels)
	labels = slices.Compact(labels)
	for _, l := range implicit {
		if !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	return &def{name: name, help: help, labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
}

func (d *def) same(o *def) bool {
	return d.name == o.name && d.help == o.help && slices.Equal(d.labels, o.labels)
}

// use is one NodeJob's declaration of a family.
type use struct {
	def     *def
	created time.Time
}

// job is what the registry holds for one NodeJob.
type job struct {
	key     types.NamespacedName
	created time.Time
	latest  bool
	// defs maps a suffix (declared or reserved) to the NodeJob's declaration; nil until Declare.
	defs map[string]*def
	runs map[string]*run
}

// run holds the data of one NodeJobRun.
type run struct {
	name        string
	executionID string
	scheduled   time.Time
	desired     float64
	finished    bool
	nodes       map[string]*node
}

// node holds the data of one node of a run.
type node struct {
	loaded     bool
	series     map[string]Series // by suffix and label values
	processing *float64
	durationMs *float64
}

// DefaultMaxSeries bounds the result series the registry holds across all
// NodeJobs (see SetMaxSeries).
const DefaultMaxSeries = 250000

// DroppedSeriesMetric counts the series the registry does not export.
const DroppedSeriesMetric = "jobkeeper_nodejob_series_dropped_total"

// Reasons of DroppedSeriesMetric.
const (
	// DropDuplicate: the series has the same name and label values as one already exported in the same
	// scrape (for instance two results that differ only in a label the gauge no longer declares). The
	// first one in a fixed order (newest run first, then node, then series) is kept.
	DropDuplicate = "duplicate"
	// DropUndeclaredLabel: the series carries a label that its gauge no longer declares; it is exported
	// without that label (unless that makes it a duplicate).
	DropUndeclaredLabel = "undeclared_label"
	// DropReservedName: the family's name belongs to the operator's own metrics.
	DropReservedName = "reserved_name"
	// DropSeriesLimit: a result's series beyond the registry's global limit are not kept.
	DropSeriesLimit = "series_limit"
	// DropInvalid: the series could not be built (a label value that is not valid UTF-8).
	DropInvalid = "invalid"
)

// Registry holds the series of every NodeJob. It is a prometheus.Collector
// and safe for concurrent use.
//
// Collect never sends two series with the same name and label values, and
// every series it sends has exactly the labels of its family's description:
// a scrape never fails because of what a NodeJob declares or its pods send.
// What it leaves out is counted in DroppedSeriesMetric.
type Registry struct {
	mu       sync.RWMutex
	families map[string]map[types.NamespacedName]use
	jobs     map[types.NamespacedName]*job
	// series is the number of result series held; maxSeries bounds it.
	series    int
	maxSeries int
	dropped   *prometheus.CounterVec
}

// New returns an empty registry that holds at most DefaultMaxSeries result series.
func New() *Registry {
	return &Registry{
		families:  map[string]map[types.NamespacedName]use{},
		jobs:      map[types.NamespacedName]*job{},
		maxSeries: DefaultMaxSeries,
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: DroppedSeriesMetric,
			Help: "Series of NodeJob results that were not exported as sent, by reason: duplicate, " +
				"undeclared_label, reserved_name and invalid are counted at every scrape, series_limit once per result.",
		}, []string{"namespace", "name", "reason"}),
	}
}

// SetMaxSeries bounds the result series held across all NodeJobs; n <= 0
// means DefaultMaxSeries. Series already held are kept.
func (r *Registry) SetMaxSeries(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxSeries = cmp.Or(max(n, 0), DefaultMaxSeries)
}

// Series returns the number of result series held.
func (r *Registry) Series() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.series
}

func (r *Registry) job(key types.NamespacedName) *job {
	j := r.jobs[key]
	if j == nil {
		j = &job{key: key, runs: map[string]*run{}}
		r.jobs[key] = j
	}
	return j
}

// Declare records the families of a NodeJob's spec. It returns a
// *ConflictError when an older NodeJob declares one of them differently, and
// the NodeJobs whose declarations this one now overrides (they are in
// conflict from now on).
func (r *Registry) Declare(nj *batchv1alpha1.NodeJob) ([]types.NamespacedName, error) {
	key := types.NamespacedName{Namespace: nj.Namespace, Name: nj.Name}
	prefix := cmp.Or(nj.Spec.Metrics.Prefix, batchv1alpha1.DefaultNodeJobMetricsPrefix)
	defs := make(map[string]*def, len(nj.Spec.Metrics.Gauges)+4)
	for suffix, g := range nj.Spec.Metrics.Gauges {
		defs[suffix] = newDef(prefix+"_"+suffix, g.Help, g.Labels, nodeLabels)
	}
	defs[batchv1alpha1.NodeJobMetricSuffixProcessing] = newDef(prefix+"_"+batchv1alpha1.NodeJobMetricSuffixProcessing,
		helpProcessing, nil, nodeLabels)
	defs[batchv1alpha1.NodeJobMetricSuffixDuration] = newDef(prefix+"_"+batchv1alpha1.NodeJobMetricSuffixDuration,
		helpDuration, nil, nodeLabels)
	defs[batchv1alpha1.NodeJobMetricSuffixPods] = newDef(prefix+"_"+batchv1alpha1.NodeJobMetricSuffixPods,
		helpPods, nil, jobLabels)
	defs[batchv1alpha1.NodeJobMetricSuffixCurrentExecutionID] = newDef(
		prefix+"_"+batchv1alpha1.NodeJobMetricSuffixCurrentExecutionID, helpCurrentID, nil, jobLabels)

	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.job(key)
	j.created, j.latest = nj.CreationTimestamp.Time, nj.Spec.LatestMetricsLabel
	if j.defs != nil && sameDefs(j.defs, defs) {
		return nil, r.conflictOf(j)
	}
	r.release(j)
	j.defs = defs
	var displaced []types.NamespacedName
	for _, d := range defs {
		uses := r.families[d.name]
		if uses == nil {
			uses = map[types.NamespacedName]use{}
			r.families[d.name] = uses
		}
		before, _ := r.owner(d.name)
		uses[key] = use{def: d, created: j.created}
		if _, after := r.owner(d.name); before.def != nil && after == key && !before.def.same(d) {
			for k, u := range uses {
				if k != key && !u.def.same(d) {
					displaced = append(displaced, k)
				}
			}
		}
	}
	slices.SortFunc(displaced, func(a, b types.NamespacedName) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(displaced), r.conflictOf(j)
}

func sameDefs(a, b map[string]*def) bool {
	return maps.EqualFunc(a, b, func(x, y *def) bool { return x.same(y) })
}

// release drops a job's declarations.
func (r *Registry) release(j *job) {
	for _, d := range j.defs {
		if uses := r.families[d.name]; uses != nil {
			delete(uses, j.key)
			if len(uses) == 0 {
				delete(r.families, d.name)
			}
		}
	}
}

// owner returns the oldest use of a family (ties broken by namespace/name).
func (r *Registry) owner(name string) (use, types.NamespacedName) {
	var best use
	var bestKey types.NamespacedName
	found := false
	for k, u := range r.families[name] {
		if !found || u.created.Before(best.created) ||
			(u.created.Equal(best.created) && k.String() < bestKey.String()) {
			best, bestKey, found = u, k, true
		}
	}
	return best, bestKey
}

// exports reports whether d, declared by a job, is the family's declaration.
func (r *Registry) exports(d *def) bool {
	o, _ := r.owner(d.name)
	return o.def != nil && o.def.same(d)
}

// conflictOf returns the first family (by name) of a job that an older NodeJob declares differently.
func (r *Registry) conflictOf(j *job) error {
	names := make([]string, 0, len(j.defs))
	for _, d := range j.defs {
		names = append(names, d.name)
	}
	slices.Sort(names)
	for _, n := range names {
		if o, k := r.owner(n); k != j.key && !o.def.same(j.defs[suffixOf(j, n)]) {
			return &ConflictError{Family: n, Owner: k}
		}
	}
	return nil
}

func suffixOf(j *job, name string) string {
	for s, d := range j.defs {
		if d.name == name {
			return s
		}
	}
	return ""
}

// Conflict returns the metric conflict of a NodeJob, or nil.
func (r *Registry) Conflict(key types.NamespacedName) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if j := r.jobs[key]; j != nil && j.defs != nil {
		return r.conflictOf(j)
	}
	return nil
}

// Forget drops a deleted NodeJob with its runs and series.
func (r *Registry) Forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.jobs[key]; j != nil {
		r.release(j)
		for _, ru := range j.runs {
			r.dropRun(ru)
		}
		delete(r.jobs, key)
		r.dropped.DeletePartialMatch(prometheus.Labels{"namespace": key.Namespace, "name": key.Name})
	}
}

// dropRun uncounts the series of a run that is being dropped. The caller holds the lock.
func (r *Registry) dropRun(ru *run) {
	for _, nd := range ru.nodes {
		r.series -= len(nd.series)
	}
}

// Loader reads the stored series of a node of a run; it is called once per
// node after a restart.
type Loader func(run *batchv1alpha1.NodeJobRun, node string) []Series

// SyncRun brings the registry up to date with a run: from its status the
// desired count, from its spec the execution ID, and from nodes, the state of
// every node of the run (the run controller's records, which the status does
// not list), each node's processing and duration gauges. Series of nodes with
// an accepted result are loaded with load the first time (NJ-32).
func (r *Registry) SyncRun(obj *batchv1alpha1.NodeJobRun, nodes []batchv1alpha1.NodeJobRunNode, load Loader) {
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.NodeJobName}
	var toLoad []string
	r.mu.Lock()
	ru := r.run(key, obj)
	for _, n := range nodes {
		nd := ru.node(n.Name)
		switch {
		case n.Phase == batchv1alpha1.NodeJobRunNodePhaseFailed && n.StartTime != nil:
			nd.processing = new(1.0)
		case n.Phase == batchv1alpha1.NodeJobRunNodePhaseSucceeded && !n.ResultReceived:
			nd.processing = new(1.0)
		case n.ResultReceived:
			nd.processing = new(0.0)
		}
		if nodeEnded(n) && n.StartTime != nil && n.CompletionTime != nil {
			nd.durationMs = new(float64(n.CompletionTime.Sub(n.StartTime.Time).Milliseconds()))
		}
		if n.ResultReceived && !nd.loaded {
			toLoad = append(toLoad, n.Name)
		}
	}
	r.mu.Unlock()
	if load == nil {
		return
	}
	for _, name := range toLoad {
		series := load(obj, name)
		r.mu.Lock()
		if nd := r.run(key, obj).node(name); !nd.loaded {
			r.setSeries(key, nd, series)
		}
		r.mu.Unlock()
	}
}

func nodeEnded(n batchv1alpha1.NodeJobRunNode) bool {
	return n.Phase == batchv1alpha1.NodeJobRunNodePhaseSucceeded || n.Phase == batchv1alpha1.NodeJobRunNodePhaseFailed
}

// run returns the entry of a run, updated from the object. The caller holds the lock.
func (r *Registry) run(key types.NamespacedName, obj *batchv1alpha1.NodeJobRun) *run {
	j := r.job(key)
	ru := j.runs[obj.Name]
	if ru == nil {
		ru = &run{name: obj.Name, nodes: map[string]*node{}}
		j.runs[obj.Name] = ru
	}
	ru.executionID, ru.scheduled = obj.Spec.ExecutionID, obj.Spec.ScheduledTime.Time
	ru.desired = float64(obj.Status.Desired)
	ru.finished = obj.Status.Phase == batchv1alpha1.NodeJobRunPhaseSucceeded ||
		obj.Status.Phase == batchv1alpha1.NodeJobRunPhaseFailed
	return ru
}

func (ru *run) node(name string) *node {
	nd := ru.nodes[name]
	if nd == nil {
		nd = &node{}
		ru.nodes[name] = nd
	}
	return nd
}

// setSeries replaces the series of a node, keeping no more than the
// registry's limit allows; the rest are counted as dropped. The caller holds
// the lock.
func (r *Registry) setSeries(key types.NamespacedName, nd *node, series []Series) {
	r.series -= len(nd.series)
	room := max(r.maxSeries-r.series, 0)
	nd.loaded = true
	nd.series = make(map[string]Series, min(len(series), room))
	for _, s := range series {
		k := seriesKey(s)
		if _, replaces := nd.series[k]; !replaces && len(nd.series) >= room {
			r.dropped.WithLabelValues(key.Namespace, key.Name, DropSeriesLimit).Inc()
			continue
		}
		nd.series[k] = s
	}
	r.series += len(nd.series)
}

// seriesKey identifies a series of a node by suffix and label values.
func seriesKey(s Series) string {
	names := slices.Sorted(maps.Keys(s.Labels))
	var b strings.Builder
	b.WriteString(s.Suffix)
	for _, n := range names {
		b.WriteByte(0xff)
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(s.Labels[n])
	}
	return b.String()
}

// SetResult replaces a node's series of a run with an accepted result and
// sets its processing gauge to 0 (NJ-26, NJ-27).
func (r *Registry) SetResult(obj *batchv1alpha1.NodeJobRun, nodeName string, series []Series) {
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.NodeJobName}
	r.mu.Lock()
	defer r.mu.Unlock()
	nd := r.run(key, obj).node(nodeName)
	r.setSeries(key, nd, series)
	nd.processing = new(0.0)
}

// DeleteRun drops the series of a deleted run (NJ-22).
func (r *Registry) DeleteRun(namespace, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, j := range r.jobs {
		if ru := j.runs[name]; ru != nil && key.Namespace == namespace {
			r.dropRun(ru)
			delete(j.runs, name)
		}
	}
}

// Describe sends nothing: the families change with the NodeJobs, so the
// registry is an unchecked collector.
func (r *Registry) Describe(chan<- *prometheus.Desc) {}

// Collect sends every exported series, then the dropped-series counter.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	// Jobs in a fixed order, so that of two colliding series always the same one is kept.
	keys := slices.SortedFunc(maps.Keys(r.jobs), func(a, b types.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
	e := &emitter{ch: ch, dropped: r.dropped, sent: map[string]struct{}{}}
	for _, k := range keys {
		if j := r.jobs[k]; j.defs != nil {
			r.collectJob(j, e)
		}
	}
	r.dropped.Collect(ch)
}

// emitter sends the series of one scrape and remembers them, so that no two
// share a name and label values.
type emitter struct {
	ch      chan<- prometheus.Metric
	dropped *prometheus.CounterVec
	key     types.NamespacedName
	sent    map[string]struct{}
	buf     strings.Builder
}

// send sends one series of family d with the given label values (in the
// order of d.labels). A series that was sent before is not sent again; it is
// counted as a duplicate unless expected says that the caller skips it on
// purpose (the older runs of a latest series).
func (e *emitter) send(d *def, value float64, values []string, expected bool) {
	e.buf.Reset()
	e.buf.WriteString(d.name)
	for _, v := range values {
		e.buf.WriteByte(0xff)
		e.buf.WriteString(v)
	}
	id := e.buf.String()
	if _, dup := e.sent[id]; dup {
		if !expected {
			e.drop(DropDuplicate)
		}
		return
	}
	m, err := prometheus.NewConstMetric(d.desc, prometheus.GaugeValue, value, values...)
	if err != nil {
		// Values are one per label of d; only a label value that is not UTF-8 gets here. Leave the series
		// out rather than fail the scrape.
		e.drop(DropInvalid)
		return
	}
	e.sent[id] = struct{}{}
	e.ch <- m
}

func (e *emitter) drop(reason string) {
	e.dropped.WithLabelValues(e.key.Namespace, e.key.Name, reason).Inc()
}

// reservedName reports whether a family name belongs to the operator's own metrics.
func reservedName(name string) bool {
	return slices.ContainsFunc(batchv1alpha1.NodeJobForbiddenMetricPrefixes, func(p string) bool {
		return strings.HasPrefix(name, p)
	})
}

func (r *Registry) collectJob(j *job, e *emitter) {
	e.key = j.key
	exported := make(map[string]*def, len(j.defs))
	for s, d := range j.defs {
		if !r.exports(d) {
			continue
		}
		if reservedName(d.name) {
			e.drop(DropReservedName)
			continue
		}
		exported[s] = d
	}
	runs := slices.SortedFunc(maps.Values(j.runs), func(a, b *run) int {
		return cmp.Or(b.scheduled.Compare(a.scheduled), strings.Compare(b.name, a.name))
	})
	for _, ru := range runs {
		for _, name := range slices.Sorted(maps.Keys(ru.nodes)) {
			emitNode(e, exported, j.key, name, ru.executionID, ru.nodes[name], false)
		}
	}
	if len(runs) > 0 {
		newest := runs[0]
		if d := exported[batchv1alpha1.NodeJobMetricSuffixPods]; d != nil {
			e.send(d, newest.desired, []string{j.key.Namespace, j.key.Name}, false)
		}
		if d := exported[batchv1alpha1.NodeJobMetricSuffixCurrentExecutionID]; d != nil && len(newest.executionID) >= 12 {
			if v, err := strconv.ParseFloat(newest.executionID[:12], 64); err == nil {
				e.send(d, v, []string{j.key.Namespace, j.key.Name}, false)
			}
		}
	}
	if !j.latest {
		return
	}
	// executionID="latest": per node and series, the newest run that has it, looking no further back than the
	// newest finished run. Runs come newest first, so the older runs' series with the same labels are skipped.
	for _, ru := range runs {
		for _, name := range slices.Sorted(maps.Keys(ru.nodes)) {
			emitNode(e, exported, j.key, name, batchv1alpha1.NodeJobLatestExecutionID, ru.nodes[name], true)
		}
		if ru.finished {
			break
		}
	}
}

// emitNode sends the series of one node, each with exactly the labels of its
// family: labels the gauge no longer declares are left out (and counted),
// missing ones are "". latest marks the executionID="latest" pass, where a
// series already sent for a newer run is skipped on purpose.
func emitNode(e *emitter, defs map[string]*def, key types.NamespacedName, nodeName, executionID string,
	nd *node, latest bool) {
	fixed := map[string]string{
		batchv1alpha1.NodeJobMetricLabelNode:        nodeName,
		batchv1alpha1.NodeJobMetricLabelExecutionID: executionID,
		batchv1alpha1.NodeJobMetricLabelNamespace:   key.Namespace,
		batchv1alpha1.NodeJobMetricLabelNodeJob:     key.Name,
	}
	send := func(suffix string, value float64, labels map[string]string) {
		d := defs[suffix]
		if d == nil {
			return
		}
		values := make([]string, len(d.labels))
		for i, l := range d.labels {
			if v, ok := fixed[l]; ok {
				values[i] = v
			} else {
				values[i] = labels[l]
			}
		}
		if !latest {
			for l, v := range labels {
				if _, implicit := fixed[l]; !implicit && v != "" && !slices.Contains(d.labels, l) {
					e.drop(DropUndeclaredLabel)
					break
				}
			}
		}
		e.send(d, value, values, latest)
	}
	for _, sk := range slices.Sorted(maps.Keys(nd.series)) {
		s := nd.series[sk]
		send(s.Suffix, s.Value, s.Labels)
	}
	if nd.processing != nil {
		send(batchv1alpha1.NodeJobMetricSuffixProcessing, *nd.processing, nil)
	}
	if nd.durationMs != nil {
		send(batchv1alpha1.NodeJobMetricSuffixDuration, *nd.durationMs, nil)
	}
}
