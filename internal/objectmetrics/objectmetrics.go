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

// Package objectmetrics exports the kstatus conditions of every QuarksJob, ReactiveJob and NodeJob as the gauge
// jobkeeper_object_condition{kind,namespace,name,condition,status}, so that an alert can say what is failing now
// rather than what failed in the last hour.
//
// The Collector reads the objects from the manager's cache at scrape time, so the series always match the objects'
// status and disappear with the objects; nothing has to be set or forgotten by the reconcilers. In the style of
// kube-state-metrics' kube_*_status_condition, but with one series per object and condition: the one with the status
// the condition has, valued 1. A condition the object does not have (Reconciling and Stalled are present only while
// they hold) has no series.
package objectmetrics

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/status"
)

// MetricName is the name of the gauge.
const MetricName = "jobkeeper_object_condition"

// Label names of the gauge.
const (
	LabelKind      = "kind"
	LabelNamespace = "namespace"
	LabelName      = "name"
	LabelCondition = "condition"
	LabelStatus    = "status"
)

// listTimeout bounds the reads of one scrape. The cache answers from memory; the bound matters only while it has not
// synced yet, when a List waits for it.
const listTimeout = 5 * time.Second

// conditionTypes are the conditions exported; others (such as a kind's own ones) are left out.
var conditionTypes = map[string]bool{status.TypeReady: true, status.TypeStalled: true, status.TypeReconciling: true}

// statusValues maps a condition's status to the label value.
var statusValues = map[metav1.ConditionStatus]string{
	metav1.ConditionTrue:    "true",
	metav1.ConditionFalse:   "false",
	metav1.ConditionUnknown: "unknown",
}

// object is what the Collector needs of one object.
type object struct {
	namespace, name string
	conditions      []metav1.Condition
}

// kind is one kind exported: a new empty list of it, and the conditions of one of its objects.
type kind struct {
	name       string
	newList    func() client.ObjectList
	conditions func(client.Object) []metav1.Condition
}

// kinds are the kinds exported, in the order of the scrape.
var kinds = []kind{
	{name: "QuarksJob", newList: func() client.ObjectList { return &quarksv1alpha1.QuarksJobList{} },
		conditions: func(o client.Object) []metav1.Condition { return o.(*quarksv1alpha1.QuarksJob).Status.Conditions }},
	{name: "ReactiveJob", newList: func() client.ObjectList { return &batchv1alpha1.ReactiveJobList{} },
		conditions: func(o client.Object) []metav1.Condition { return o.(*batchv1alpha1.ReactiveJob).Status.Conditions }},
	{name: "NodeJob", newList: func() client.ObjectList { return &batchv1alpha1.NodeJobList{} },
		conditions: func(o client.Object) []metav1.Condition { return o.(*batchv1alpha1.NodeJob).Status.Conditions }},
}

// list reads the objects of the kind from r without copying them.
func (k kind) list(ctx context.Context, r client.Reader) ([]object, error) {
	l := k.newList()
	if err := r.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var out []object
	err := apimeta.EachListItem(l, func(item runtime.Object) error {
		o := item.(client.Object)
		out = append(out, object{o.GetNamespace(), o.GetName(), k.conditions(o)})
		return nil
	})
	return out, err
}

// Collector is a prometheus.Collector of jobkeeper_object_condition.
type Collector struct {
	reader  client.Reader
	elected <-chan struct{}
	desc    *prometheus.Desc
	log     logr.Logger
}

var _ prometheus.Collector = &Collector{}

// New returns a Collector that lists the objects with reader, the manager's cache: the objects it returns must not
// be changed, since they are read without a copy. It reports only once elected is closed (the manager's Elected(),
// so that of several replicas only the leader, whose cache holds the objects, exports them); nil reports always.
func New(reader client.Reader, elected <-chan struct{}) *Collector {
	return &Collector{
		reader:  reader,
		elected: elected,
		desc: prometheus.NewDesc(MetricName,
			"The conditions Ready, Stalled and Reconciling of every QuarksJob, ReactiveJob and NodeJob: 1 for the "+
				"status (true, false, unknown) the condition has; no series when the object lacks the condition.",
			[]string{LabelKind, LabelNamespace, LabelName, LabelCondition, LabelStatus}, nil),
		log: logf.Log.WithName("object-metrics"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
}

// Collect implements prometheus.Collector. A kind that cannot be listed is left out of this scrape (and logged), so
// that one failing read does not fail the whole metrics endpoint.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if !c.leading() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	for _, k := range kinds {
		objs, err := k.list(ctx, c.reader)
		if err != nil {
			c.log.Error(err, "Listing objects for the condition metrics", "kind", k.name)
			continue
		}
		for _, o := range objs {
			seen := map[string]bool{} // the API server keeps condition types unique; a repeat would fail the scrape
			for _, cond := range o.conditions {
				st, ok := statusValues[cond.Status]
				if !ok || !conditionTypes[cond.Type] || seen[cond.Type] {
					continue
				}
				seen[cond.Type] = true
				ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1,
					k.name, o.namespace, o.name, cond.Type, st)
			}
		}
	}
}

// leading reports whether this replica exports the objects.
func (c *Collector) leading() bool {
	if c.elected == nil {
		return true
	}
	select {
	case <-c.elected:
		return true
	default:
		return false
	}
}
