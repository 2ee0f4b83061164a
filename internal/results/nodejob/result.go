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

// Reasons an item of a result is ignored (NJ-X16).
const (
	// IgnoredUndeclaredSuffix: the item's suffix is not a declared gauge.
	IgnoredUndeclaredSuffix = "undeclared_suffix"
	// IgnoredUndeclaredLabel: the item has a label its gauge does not declare.
	IgnoredUndeclaredLabel = "undeclared_label"
)

// maxIgnoredNames bounds the names of ignored suffixes and labels a Result keeps.
const maxIgnoredNames = 10

// Result is a validated result body.
type Result struct {
	// Raw is the body byte for byte, to be stored as result.json.
	Raw []byte
	// Series are the series in suffix order, then in body order.
	Series []Series
	// Ignored counts the items left out, by reason (IgnoredUndeclaredSuffix, IgnoredUndeclaredLabel).
	Ignored map[string]int
	// IgnoredSuffixes and IgnoredLabels name (sorted, at most 10 of each, shortened) the undeclared suffixes
	// and labels of the ignored items.
	IgnoredSuffixes, IgnoredLabels []string
}

// IgnoredItems is the number of items left out.
func (r *Result) IgnoredItems() int {
	n := 0
	for _, c := range r.Ignored {
		n += c
	}
	return n
}

// ParseResult validates a result body (NJ-25) and returns its series. The
// checks, in order: size (413); then, item by item as they come, syntax
// (400), label values of kept items (400) and series count (413); at the end,
// not empty (400). Items whose suffix is not declared, or that have a label
// their gauge does not declare, are ignored and counted (NJ-X16).
func ParseResult(body []byte, spec ResultSpec) (*Result, error) {
	if int64(len(body)) > spec.MaxSize {
		return nil, results.TooLarge("result of %d bytes exceeds maxResultSize (%d bytes)", len(body), spec.MaxSize)
	}
	res, err := decodeResult(bytes.NewReader(body), spec)
	if err != nil {
		return nil, err
	}
	res.Raw = body
	return res, nil
}

// ReadResult reads a result body from r and validates it as ParseResult
// does, while reading: it stops at the first byte beyond maxResultSize (413),
// the first syntax error (400) or the first series beyond maxSeriesPerNode
// (413), so that what it holds in memory is bounded by the limits and not by
// what the client sends. Errors reading r are returned as they are.
func ReadResult(r io.Reader, spec ResultSpec) (*Result, error) {
	var raw bytes.Buffer
	lr := &sizeLimit{r: r, n: spec.MaxSize, over: errResultTooLarge}
	res, err := decodeResult(io.TeeReader(lr, &raw), spec)
	if err != nil {
		return nil, err
	}
	res.Raw = raw.Bytes()
	return res, nil
}

// errResultTooLarge is returned by sizeLimit beyond its limit.
var errResultTooLarge = errors.New("result exceeds maxResultSize")

// sizeLimit reads at most n bytes from r and fails with over when there are
// more (as http.MaxBytesReader does).
type sizeLimit struct {
	r    io.Reader
	n    int64
	over error
	err  error
}

func (l *sizeLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if int64(n) <= l.n {
		l.n -= int64(n)
		l.err = err
		return n, err
	}
	n, l.n, l.err = int(l.n), 0, l.over
	return n, l.err
}

// resultDecoder reads a result token by token.
type resultDecoder struct {
	dec     *json.Decoder
	spec    ResultSpec
	total   int
	ignored map[string]int
	// ignoredSuffixes and ignoredLabels hold at most maxIgnoredNames names each.
	ignoredSuffixes, ignoredLabels map[string]struct{}
}

// syntaxError is a 400 for a body that is not a result.
func syntaxError(detail string) error {
	return results.BadRequest("result must be one JSON object of metric suffix to a list of "+
		"{\"value\": <number>, \"labels\": {...}}: %s", detail)
}

// readFailed turns an error of the decoder into an answer: beyond the size
// limit 413, malformed or cut-off JSON 400, and a failure to read the body
// stays as it is.
func readFailed(err error) error {
	if errors.Is(err, errResultTooLarge) {
		return results.TooLarge("result exceeds maxResultSize")
	}
	if _, ok := errors.AsType[*json.SyntaxError](err); ok || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return syntaxError("invalid JSON")
	}
	return err
}

func decodeResult(r io.Reader, spec ResultSpec) (*Result, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	d := &resultDecoder{dec: dec, spec: spec}

	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, syntaxError("not a JSON object")
	}
	if err != nil {
		return nil, readFailed(err)
	}
	if tok != json.Delim('{') {
		return nil, syntaxError("not a JSON object")
	}
	bySuffix := map[string][]Series{}
	keys := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, readFailed(err)
		}
		suffix, _ := tok.(string)
		keys++
		if prev, dup := bySuffix[suffix]; dup {
			// As with any JSON object, the last value of a key wins.
			d.total -= len(prev)
			delete(bySuffix, suffix)
		}
		series, err := d.items(suffix)
		if err != nil {
			return nil, err
		}
		if series != nil {
			bySuffix[suffix] = series
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, readFailed(err)
	}
	_, err = dec.Token()
	_, badSyntax := errors.AsType[*json.SyntaxError](err)
	switch {
	case errors.Is(err, io.EOF):
	case err == nil || badSyntax:
		return nil, syntaxError("unexpected data after the JSON value")
	default:
		return nil, readFailed(err)
	}
	if keys == 0 {
		return nil, results.BadRequest("results must not be empty")
	}

	res := &Result{Series: make([]Series, 0, d.total), Ignored: d.ignored}
	for _, s := range slices.Sorted(maps.Keys(bySuffix)) {
		res.Series = append(res.Series, bySuffix[s]...)
	}
	res.IgnoredSuffixes = slices.Sorted(maps.Keys(d.ignoredSuffixes))
	res.IgnoredLabels = slices.Sorted(maps.Keys(d.ignoredLabels))
	return res, nil
}

// items reads the list of items of a suffix and returns the kept series (nil
// when the suffix is not declared).
func (d *resultDecoder) items(suffix string) ([]Series, error) {
	declared, isDeclared := d.spec.Gauges[suffix]
	notList := func() error { return results.BadRequest("metric %q: must be a list of items", truncate(suffix)) }
	tok, err := d.dec.Token()
	if err != nil {
		return nil, readFailed(err)
	}
	if tok != json.Delim('[') {
		return nil, notList()
	}
	var out []Series
	for i := 0; d.dec.More(); i++ {
		it, err := d.item()
		if err != nil {
			if _, ok := errors.AsType[*results.Error](err); ok || !isItemError(err) {
				return nil, err
			}
			return nil, results.BadRequest("metric %q, item %d: %v", truncate(suffix), i, err)
		}
		if !isDeclared {
			d.ignore(IgnoredUndeclaredSuffix, &d.ignoredSuffixes, suffix)
			continue
		}
		if l, ok := undeclaredLabel(it.labels, declared); ok {
			d.ignore(IgnoredUndeclaredLabel, &d.ignoredLabels, l)
			continue
		}
		if it.badLabel != "" {
			return nil, results.BadRequest("label %q for metric %q: value must be valid UTF-8", it.badLabel, suffix)
		}
		for l, v := range it.labels {
			if len(v) > MaxLabelValueBytes {
				return nil, results.BadRequest("label %q for metric %q: value is longer than %d bytes",
					l, suffix, MaxLabelValueBytes)
			}
		}
		if d.total++; d.total > d.spec.MaxSeries {
			return nil, results.TooLarge("result has more than %d series; maxSeriesPerNode is %d",
				d.spec.MaxSeries, d.spec.MaxSeries)
		}
		labels := make(map[string]string, len(declared)+len(d.spec.Fixed))
		for _, l := range declared {
			labels[l] = it.labels[l]
		}
		maps.Copy(labels, d.spec.Fixed)
		out = append(out, Series{Suffix: suffix, Value: it.value, Labels: labels})
	}
	if _, err := d.dec.Token(); err != nil {
		return nil, readFailed(err)
	}
	if isDeclared && out == nil {
		out = []Series{}
	}
	return out, nil
}

// ignore counts an ignored item and remembers (a few of) the names that made it so.
func (d *resultDecoder) ignore(reason string, names *map[string]struct{}, name string) {
	if d.ignored == nil {
		d.ignored = map[string]int{}
	}
	d.ignored[reason]++
	if *names == nil {
		*names = map[string]struct{}{}
	}
	if len(*names) < maxIgnoredNames {
		(*names)[truncate(name)] = struct{}{}
	}
}

// undeclaredLabel returns the first (in name order) label that is neither
// declared nor implicit.
func undeclaredLabel(labels map[string]string, declared []string) (string, bool) {
	first, found := "", false
	for l := range labels {
		if !slices.Contains(declared, l) && !slices.Contains(ImplicitLabels, l) && (!found || l < first) {
			first, found = l, true
		}
	}
	return first, found
}

// item is one parsed item before the declarations are checked.
type item struct {
	value  float64
	labels map[string]string
	// badLabel names a label whose raw value is not valid UTF-8.
	badLabel string
}

// itemError is a syntax error inside an item, answered with its position.
type itemError string

func (e itemError) Error() string { return string(e) }

func isItemError(err error) bool {
	_, ok := errors.AsType[itemError](err)
	return ok
}

// item reads one item: an object of only value (a number) and labels (null or
// an object of strings).
func (d *resultDecoder) item() (item, error) {
	var it item
	notObject := itemError("must be an object with value and labels")
	tok, err := d.dec.Token()
	if err != nil {
		return it, readFailed(err)
	}
	if tok != json.Delim('{') {
		return it, notObject
	}
	var value json.Number
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return it, readFailed(err)
		}
		switch tok {
		case "value":
			notNumber := itemError("value must be a number")
			tok, err := d.dec.Token()
			if err != nil {
				return it, readFailed(err)
			}
			n, ok := tok.(json.Number)
			if !ok {
				return it, notNumber
			}
			value = n
		case "labels":
			if err := d.labels(&it); err != nil {
				return it, err
			}
		default:
			return it, itemError("only value and labels are allowed")
		}
	}
	if _, err := d.dec.Token(); err != nil {
		return it, readFailed(err)
	}
	if value == "" {
		return it, itemError("value must be a number")
	}
	f, err := strconv.ParseFloat(string(value), 64)
	if err != nil {
		return it, itemError("value is not a finite 64-bit number")
	}
	it.value = f
	return it, nil
}

// labels reads the labels of an item: null, or an object of strings. The
// raw values are read to tell invalid UTF-8 (which decoding would replace).
func (d *resultDecoder) labels(it *item) error {
	notStrings := itemError("labels must be an object of strings")
	fail := readFailed
	tok, err := d.dec.Token()
	if err != nil {
		return fail(err)
	}
	if tok == nil {
		it.labels, it.badLabel = nil, ""
		return nil
	}
	if tok != json.Delim('{') {
		return notStrings
	}
	it.labels, it.badLabel = map[string]string{}, ""
	var raw json.RawMessage
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return fail(err)
		}
		k, _ := tok.(string)
		if err := d.dec.Decode(&raw); err != nil {
			return fail(err)
		}
		if len(raw) == 0 || raw[0] != '"' {
			return notStrings
		}
		if !utf8.Valid(raw) && it.badLabel == "" {
			it.badLabel = truncate(k)
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return notStrings
		}
		it.labels[k] = v
	}
	if _, err := d.dec.Token(); err != nil {
		return fail(err)
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
