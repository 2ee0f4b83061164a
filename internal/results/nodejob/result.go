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

package nodejob

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/results"
)

// MaxLabelValueBytes is the longest label value a result may carry.
const MaxLabelValueBytes = 128

// ImplicitLabels are the labels every series has; a result may send them, but
// their values are replaced by the authenticated ones.
var ImplicitLabels = []string{
	batchv1alpha1.NodeJobMetricLabelNode,
	batchv1alpha1.NodeJobMetricLabelExecutionID,
	batchv1alpha1.NodeJobMetricLabelNamespace,
	batchv1alpha1.NodeJobMetricLabelNodeJob,
}

// ResultSpec is what a result is checked against.
type ResultSpec struct {
	// MaxSize is maxResultSize in bytes.
	MaxSize int64
	// MaxSeries is maxSeriesPerNode.
	MaxSeries int
	// Gauges maps each declared suffix to its declared labels.
	Gauges map[string][]string
	// Fixed are the implicit label values (node, executionID, namespace, nodejob) of the caller.
	Fixed map[string]string
}

// ResultSpecFor returns the ResultSpec of a run and node.
func ResultSpecFor(run *batchv1alpha1.NodeJobRun, node string) ResultSpec {
	gauges := make(map[string][]string, len(run.Spec.Metrics.Gauges))
	for suffix, g := range run.Spec.Metrics.Gauges {
		gauges[suffix] = g.Labels
	}
	l := LimitsOf(run)
	return ResultSpec{
		MaxSize:   l.MaxResultSize,
		MaxSeries: l.MaxSeriesPerNode,
		Gauges:    gauges,
		Fixed: map[string]string{
			batchv1alpha1.NodeJobMetricLabelNode:        node,
			batchv1alpha1.NodeJobMetricLabelExecutionID: run.Spec.ExecutionID,
			batchv1alpha1.NodeJobMetricLabelNamespace:   run.Namespace,
			batchv1alpha1.NodeJobMetricLabelNodeJob:     run.Spec.NodeJobName,
		},
	}
}

// Series is one accepted gauge value.
type Series struct {
	// Suffix is the declared gauge suffix.
	Suffix string
	// Value is the gauge value.
	Value float64
	// Labels hold every declared label (missing ones as "") and the implicit labels.
	Labels map[string]string
}

// Result is a validated result body.
type Result struct {
	// Raw is the body byte for byte, to be stored as result.json.
	Raw []byte
	// Series are the series in suffix order, then in body order.
	Series []Series
}

// item is one parsed item before the declarations are checked.
type item struct {
	value  float64
	labels map[string]string
	// badLabel names a label whose raw value is not valid UTF-8.
	badLabel string
}

// ParseResult validates a result body (NJ-25) and returns its series. The
// checks run in this order, and the first that fails answers: size (413),
// syntax (400), not empty (400), suffixes declared (400), labels declared or
// implicit (400), label values (400), series count (413).
func ParseResult(body []byte, spec ResultSpec) (*Result, error) {
	if int64(len(body)) > spec.MaxSize {
		return nil, results.TooLarge("result of %d bytes exceeds maxResultSize (%d bytes)", len(body), spec.MaxSize)
	}
	parsed, err := parseResultSyntax(body)
	if err != nil {
		return nil, err
	}
	if len(parsed) == 0 {
		return nil, results.BadRequest("results must not be empty")
	}
	suffixes := slices.Sorted(maps.Keys(parsed))
	for _, s := range suffixes {
		if _, ok := spec.Gauges[s]; !ok {
			return nil, results.BadRequest("undeclared metric suffix %q", truncate(s))
		}
	}
	total := 0
	for _, s := range suffixes {
		declared := spec.Gauges[s]
		for _, it := range parsed[s] {
			for _, l := range slices.Sorted(maps.Keys(it.labels)) {
				if !slices.Contains(declared, l) && !slices.Contains(ImplicitLabels, l) {
					return nil, results.BadRequest("undeclared label %q for metric %q", truncate(l), s)
				}
			}
		}
		total += len(parsed[s])
	}
	for _, s := range suffixes {
		for _, it := range parsed[s] {
			if it.badLabel != "" {
				return nil, results.BadRequest("label %q for metric %q: value must be valid UTF-8", it.badLabel, s)
			}
			for _, l := range slices.Sorted(maps.Keys(it.labels)) {
				if len(it.labels[l]) > MaxLabelValueBytes {
					return nil, results.BadRequest("label %q for metric %q: value is longer than %d bytes",
						l, s, MaxLabelValueBytes)
				}
			}
		}
	}
	if total > spec.MaxSeries {
		return nil, results.TooLarge("result has %d series; maxSeriesPerNode is %d", total, spec.MaxSeries)
	}

	res := &Result{Raw: body, Series: make([]Series, 0, total)}
	for _, s := range suffixes {
		for _, it := range parsed[s] {
			labels := make(map[string]string, len(spec.Gauges[s])+len(spec.Fixed))
			for _, l := range spec.Gauges[s] {
				labels[l] = it.labels[l]
			}
			maps.Copy(labels, spec.Fixed)
			res.Series = append(res.Series, Series{Suffix: s, Value: it.value, Labels: labels})
		}
	}
	return res, nil
}

// parseResultSyntax checks step 2 of NJ-25: exactly one JSON object of
// suffix to list of items, each item only value (a number) and labels (an
// object of strings), with nothing after it.
func parseResultSyntax(body []byte) (map[string][]item, error) {
	var top map[string]json.RawMessage
	if err := decodeOne(body, '{', &top); err != nil {
		return nil, results.BadRequest("result must be one JSON object of metric suffix to a list of "+
			"{\"value\": <number>, \"labels\": {...}}: %v", err)
	}
	out := make(map[string][]item, len(top))
	for suffix, raw := range top {
		var list []json.RawMessage
		if err := decodeOne(raw, '[', &list); err != nil {
			return nil, results.BadRequest("metric %q: must be a list of items", truncate(suffix))
		}
		items := make([]item, 0, len(list))
		for i, r := range list {
			it, err := parseItem(r)
			if err != nil {
				return nil, results.BadRequest("metric %q, item %d: %v", truncate(suffix), i, err)
			}
			items = append(items, it)
		}
		out[suffix] = items
	}
	return out, nil
}

func parseItem(raw json.RawMessage) (item, error) {
	var fields map[string]json.RawMessage
	if err := decodeOne(raw, '{', &fields); err != nil {
		return item{}, errors.New("must be an object with value and labels")
	}
	var it item
	for k := range fields {
		if k != "value" && k != "labels" {
			return item{}, errors.New("only value and labels are allowed")
		}
	}
	v, ok := fields["value"]
	if !ok || len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return item{}, errors.New("value must be a number")
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return item{}, errors.New("value is not a finite 64-bit number")
	}
	it.value = f
	raw, ok = fields["labels"]
	if !ok || string(raw) == "null" {
		return it, nil
	}
	var labels map[string]json.RawMessage
	if err := decodeOne(raw, '{', &labels); err != nil {
		return item{}, errors.New("labels must be an object of strings")
	}
	it.labels = make(map[string]string, len(labels))
	for k, lv := range labels {
		if len(lv) == 0 || lv[0] != '"' {
			return item{}, errors.New("labels must be an object of strings")
		}
		if !utf8.Valid(lv) && it.badLabel == "" {
			it.badLabel = truncate(k)
		}
		var s string
		if err := json.Unmarshal(lv, &s); err != nil {
			return item{}, errors.New("labels must be an object of strings")
		}
		it.labels[k] = s
	}
	return it, nil
}

// decodeOne decodes exactly one JSON value that starts with open ('{' or '[')
// into v and rejects anything after it.
func decodeOne(data []byte, open byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != open {
		if open == '{' {
			return errors.New("not a JSON object")
		}
		return errors.New("not a JSON list")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return errors.New("invalid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// truncate shortens a client-supplied string for an error message.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
