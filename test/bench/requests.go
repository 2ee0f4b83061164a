//go:build bench

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

package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// apiRequestsFamily is the manager's own count of its requests by verb, resource, code and dry run
// (internal/apimetrics).
const apiRequestsFamily = "jobkeeper_api_requests_total"

// requestKey names a kind of request: "<verb> <resource>", with " (dry run)" for a dry-run request and " → <code>"
// for an answer other than 2xx (e.g. "patch quarksjobs/status → 409").
func requestKey(l map[string]string) string {
	key := l["verb"] + " " + l["resource"]
	if l["dry_run"] == "true" {
		key += " (dry run)"
	}
	if c := l["code"]; !strings.HasPrefix(c, "2") {
		key += " → " + c
	}
	return key
}

// apiRequests counts the requests of the manager by requestKey.
func (s scrape) apiRequests() map[string]float64 {
	out := map[string]float64{}
	f, ok := s[apiRequestsFamily]
	if !ok {
		return out
	}
	for _, m := range f.GetMetric() {
		out[requestKey(labelsOf(m))] += m.GetCounter().GetValue()
	}
	return out
}

// requestsPerObject is what the manager requested between two scrapes, by requestKey, divided by objects.
func requestsPerObject(before, after scrape, objects int) map[string]float64 {
	b, out := before.apiRequests(), map[string]float64{}
	for k, v := range after.apiRequests() {
		if d := v - b[k]; d > 0 {
			out[k] = d / float64(objects)
		}
	}
	return out
}

// minimum is one request of the minimal work of an object, and how many of it the object needs.
type minimum struct {
	key string
	n   float64
}

// requestTable is the requests per object of one figure: one map per repetition, next to the minimum.
type requestTable struct {
	bench, object string
	perRep        []map[string]float64
	minimum       []minimum
}

// minimumFor is the minimal API work of one object of a kind as the plain client does it: the object's own
// create is the user's, not the manager's, so it is not in the manager's minimum.
func minimumFor(child string) []minimum {
	switch child {
	case "ReactiveJob":
		return []minimum{{"create jobs", 1}, {"patch reactivejobs/status", 1}}
	case "QuarksJob":
		return []minimum{{"create jobs", 1}, {"patch quarksjobs/status", 1}}
	case "NodeJob":
		return []minimum{{"create nodejobruns", 1}, {"patch nodejobruns/status", 1}, {"create pods", 1}}
	}
	return nil
}

// rows are the table's lines: the requests of the minimum first, then the others by their median, then the sum.
func (t requestTable) rows() [][]string {
	keys := map[string]bool{}
	for _, m := range t.perRep {
		for k := range m {
			keys[k] = true
		}
	}
	median := func(k string) series {
		var s series
		for _, m := range t.perRep {
			s = append(s, m[k])
		}
		return s
	}
	format := func(s series) string {
		lo, hi := s.spread()
		f := func(v float64) string {
			if v > 0 && v < 0.005 {
				return "<0.01"
			}
			return fmt.Sprintf("%.2f", v)
		}
		out := f(s.median())
		if len(s) > 1 {
			out += " [" + f(lo) + ".." + f(hi) + "]"
		}
		return out
	}
	var rows [][]string
	var minTotal float64
	for _, m := range t.minimum {
		rows = append(rows, []string{t.bench, t.object, m.key, format(median(m.key)), fmt.Sprintf("%g", m.n)})
		minTotal += m.n
		delete(keys, m.key)
	}
	rest := make([]string, 0, len(keys))
	for k := range keys {
		rest = append(rest, k)
	}
	slices.SortFunc(rest, func(a, b string) int {
		if c := -cmpFloat(median(a).median(), median(b).median()); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range rest {
		rows = append(rows, []string{t.bench, t.object, k, format(median(k)), "0"})
	}
	var total series
	for _, m := range t.perRep {
		var sum float64
		for _, v := range m {
			sum += v
		}
		total = append(total, sum)
	}
	rows = append(rows, []string{t.bench, t.object, "all requests", format(total), fmt.Sprintf("%g", minTotal)})
	return rows
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b || (math.IsNaN(a) && !math.IsNaN(b)):
		return -1
	case a > b || (math.IsNaN(b) && !math.IsNaN(a)):
		return 1
	}
	return 0
}

// printRequests writes the requests-per-object tables as aligned text, or as Markdown.
func printRequests(w io.Writer, tables []requestTable, markdown bool) error {
	if len(tables) == 0 {
		return nil
	}
	header := []string{"benchmark", "object", "request (verb resource)", "per object, median [min..max]", "minimum"}
	intro := "\nAPI requests of the manager per object (jobkeeper_api_requests_total of its /metrics, from the start of " +
		"the figure's window until the manager has settled), next to the minimum: the requests the plain client " +
		"sends for the same work beyond creating the object itself.\n\n"
	var rows [][]string
	for _, t := range tables {
		rows = append(rows, t.rows()...)
	}
	if _, err := io.WriteString(w, intro); err != nil {
		return err
	}
	return writeTable(w, header, rows, markdown)
}
