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
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobkeeper/jobkeeper/internal/results"
)

func testResultSpec() ResultSpec {
	return ResultSpec{
		MaxSize:   1 << 10,
		MaxSeries: 3,
		Gauges: map[string][]string{
			"test":  {"label_a", "label_b"},
			"other": nil,
			"nodey": {"node"},
		},
		Fixed: map[string]string{"node": "n1", "executionID": "202601010000", "namespace": "ns", "nodejob": "nj"},
	}
}

// wantError checks that err is an answer with code and a message containing msg.
func wantError(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var e *results.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want %d", err, code)
	}
	if e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("error = %d %q, want %d containing %q", e.Code, e.Message, code, msg)
	}
}

func TestParseResultAccepts(t *testing.T) {
	body := `{"test": [{"value": 1.0, "labels": {"label_a": "AAA", "label_b": "BBB"}},
	          {"value": 2.554, "labels": {"label_a": "AAA2", "node": "spoofed", "nodejob": "x"}}],
	          "other": [{"value": -3e2, "labels": null}]}`
	res, err := ParseResult([]byte(body), testResultSpec())
	if err != nil {
		t.Fatal(err)
	}
	fixed := func(m map[string]string) map[string]string {
		maps.Copy(m, testResultSpec().Fixed)
		return m
	}
	want := []Series{
		{Suffix: "other", Value: -300, Labels: fixed(map[string]string{})},
		{Suffix: "test", Value: 1, Labels: fixed(map[string]string{"label_a": "AAA", "label_b": "BBB"})},
		{Suffix: "test", Value: 2.554, Labels: fixed(map[string]string{"label_a": "AAA2", "label_b": ""})},
	}
	if diff := cmp.Diff(want, res.Series); diff != "" {
		t.Fatalf("series (-want +got):\n%s", diff)
	}
	if string(res.Raw) != body {
		t.Fatal("raw body not kept byte for byte")
	}
}

func TestParseResultRejects(t *testing.T) {
	long := strings.Repeat("x", 129)
	tests := []struct {
		name, body string
		code       int
		msg        string
	}{
		{name: "over maxResultSize", body: `{"test":[{"value":1}]}` + strings.Repeat(" ", 1<<10), code: 413, msg: "maxResultSize"},
		{name: "null", body: `null`, code: 400, msg: "JSON object"},
		{name: "list", body: `[]`, code: 400, msg: "JSON object"},
		{name: "string value", body: `{"test":[{"value":"x"}]}`, code: 400, msg: "value must be a number"},
		{name: "null value", body: `{"test":[{"value":null}]}`, code: 400, msg: "value must be a number"},
		{name: "missing value", body: `{"test":[{"labels":{}}]}`, code: 400, msg: "value must be a number"},
		{name: "huge value", body: `{"test":[{"value":1e999}]}`, code: 400, msg: "finite"},
		{name: "trailing bytes", body: `{"test":[{"value":1}]} x`, code: 400, msg: "after the JSON value"},
		{name: "two objects", body: `{}{}`, code: 400, msg: "after the JSON value"},
		{name: "unknown item field", body: `{"test":[{"value":1,"help":"x"}]}`, code: 400, msg: "only value and labels"},
		{name: "items not a list", body: `{"test":{"value":1}}`, code: 400, msg: "list of items"},
		{name: "null items", body: `{"test":null}`, code: 400, msg: "list of items"},
		{name: "null item", body: `{"test":[null]}`, code: 400, msg: "object with value"},
		{name: "label not a string", body: `{"test":[{"value":1,"labels":{"label_a":1}}]}`, code: 400, msg: "object of strings"},
		{name: "null label", body: `{"test":[{"value":1,"labels":{"label_a":null}}]}`, code: 400, msg: "object of strings"},
		{name: "labels a list", body: `{"test":[{"value":1,"labels":["a"]}]}`, code: 400, msg: "object of strings"},
		{name: "invalid JSON", body: `{"test":[{"value":1}`, code: 400, msg: "invalid JSON"},
		{name: "empty", body: `{}`, code: 400, msg: "results must not be empty"},
		{name: "labels a string", body: `{"test":[{"value":1,"labels":"x"}]}`, code: 400, msg: "object of strings"},
		{name: "cut off in labels", body: `{"test":[{"value":1,"labels":{"label_a":`, code: 400, msg: "invalid JSON"},
		{name: "empty body", body: ``, code: 400, msg: "JSON object"},
		{name: "long label", body: `{"test":[{"value":1,"labels":{"label_a":"` + long + `"}}]}`, code: 400, msg: "longer than 128 bytes"},
		{name: "invalid UTF-8 label", body: "{\"test\":[{\"value\":1,\"labels\":{\"label_a\":\"\xff\"}}]}", code: 400, msg: "valid UTF-8"},
		{name: "too many series", body: `{"test":[{"value":1},{"value":2}],"other":[{"value":1},{"value":2}]}`, code: 413, msg: "maxSeriesPerNode is 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResult([]byte(tt.body), testResultSpec())
			wantError(t, err, tt.code, tt.msg)
		})
	}
}

func TestParseResultIgnoresUndeclared(t *testing.T) {
	// NJ-X16: items of undeclared suffixes and items with undeclared labels are ignored and counted; they do not
	// count against maxSeriesPerNode, and their label values are not checked.
	body := `{"test":[{"value":1,"labels":{"zz":"x"}},{"value":2,"labels":{"label_a":"a"}},{"value":3,"labels":{"zz":"` +
		strings.Repeat("y", 200) + `"}}],"aaa":[{"value":1},{"value":2},{"value":3}],"other":[{"value":4}]}`
	res, err := ParseResult([]byte(body), testResultSpec())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 2 || res.Series[0].Suffix != "other" || res.Series[1].Value != 2 {
		t.Fatalf("series = %+v", res.Series)
	}
	want := map[string]int{IgnoredUndeclaredSuffix: 3, IgnoredUndeclaredLabel: 2}
	if diff := cmp.Diff(want, res.Ignored); diff != "" {
		t.Errorf("ignored (-want +got):\n%s", diff)
	}
	if res.IgnoredItems() != 5 {
		t.Errorf("IgnoredItems = %d, want 5", res.IgnoredItems())
	}
	if diff := cmp.Diff([]string{"aaa"}, res.IgnoredSuffixes); diff != "" {
		t.Errorf("ignored suffixes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"zz"}, res.IgnoredLabels); diff != "" {
		t.Errorf("ignored labels (-want +got):\n%s", diff)
	}

	// Only undeclared items: accepted with no series.
	res, err = ParseResult([]byte(`{"zzz":[{"value":1}]}`), testResultSpec())
	if err != nil || len(res.Series) != 0 || res.Ignored[IgnoredUndeclaredSuffix] != 1 {
		t.Fatalf("only undeclared items: %+v, %v", res, err)
	}
	// Syntax is still checked in ignored items.
	_, err = ParseResult([]byte(`{"zzz":[{"value":"x"}]}`), testResultSpec())
	wantError(t, err, 400, "value must be a number")
}

func TestParseResultDuplicateSuffixLastWins(t *testing.T) {
	body := `{"test":[{"value":1},{"value":2},{"value":3}],"test":[{"value":4}],"other":[{"value":5},{"value":6}]}`
	res, err := ParseResult([]byte(body), testResultSpec())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 3 || res.Series[2].Value != 4 {
		t.Fatalf("series = %+v", res.Series)
	}
}

func TestNodeHashAndPodName(t *testing.T) {
	for node, want := range map[string]string{"": "e3b0c44298fc1c14", "a": "ca978112ca1bbdca"} {
		if got := NodeHash(node); got != want {
			t.Errorf("NodeHash(%q) = %s, want %s", node, got, want)
		}
	}
	if NodeHash("a.x") == NodeHash("a.y") {
		t.Error("node names that share the first label collide")
	}
	if got := PodName("nj-29000000", "a"); got != "nj-29000000-ca978112ca1bbdca" {
		t.Errorf("PodName = %s", got)
	}
}
