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
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEventAccepts(t *testing.T) {
	tests := []struct {
		name, body string
		want       Event
	}{
		{name: "format with args", body: `{"reason":"TestReason","message":"test message with %s","args":["arg"]}`,
			want: Event{Type: "Normal", Reason: "TestReason", Action: "n/a", Note: "test message with arg"}},
		{name: "no args keeps percent", body: `{"warning":true,"reason":"Disk","action":"Check","message":"100% full"}`,
			want: Event{Type: "Warning", Reason: "Disk", Action: "Check", Note: "100% full"}},
		{name: "unknown fields ignored", body: `{"reason":"A1","message":"m","extra":{"x":[1]}}`,
			want: Event{Type: "Normal", Reason: "A1", Action: "n/a", Note: "m"}},
		{name: "missing arg", body: `{"reason":"A","message":"%s %s","args":["x"]}`,
			want: Event{Type: "Normal", Reason: "A", Action: "n/a", Note: "x %!s(MISSING)"}},
		{name: "reason of 128", body: `{"reason":"A` + strings.Repeat("b", 127) + `","message":"m"}`,
			want: Event{Type: "Normal", Reason: "A" + strings.Repeat("b", 127), Action: "n/a", Note: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEventRejects(t *testing.T) {
	tests := []struct {
		name, body, msg string
	}{
		{name: "lower-case reason", body: `{"reason":"testReason","message":"m"}`, msg: "reason"},
		{name: "reason with space", body: `{"reason":"Test reason","message":"m"}`, msg: "reason"},
		{name: "non-ASCII reason", body: `{"reason":"ärger","message":"m"}`, msg: "reason"},
		{name: "reason of 129", body: `{"reason":"A` + strings.Repeat("b", 128) + `","message":"m"}`, msg: "reason"},
		{name: "missing reason", body: `{"message":"m"}`, msg: "reason"},
		{name: "empty message", body: `{"reason":"A","message":""}`, msg: "message"},
		{name: "long note", body: `{"reason":"A","message":"` + strings.Repeat("x", 1025) + `"}`, msg: "message"},
		{name: "long note after formatting", body: `{"reason":"A","message":"%s%s","args":["` + strings.Repeat("x", 600) + `","` + strings.Repeat("y", 600) + `"]}`, msg: "message"},
		{name: "huge width", body: `{"reason":"A","message":"%999999999s","args":["x"]}`, msg: "message"},
		{name: "long action", body: `{"reason":"A","action":"` + strings.Repeat("a", 129) + `","message":"m"}`, msg: "action"},
		{name: "wrong type", body: `{"reason":"A","message":"m","warning":"yes"}`, msg: `"warning"`},
		{name: "args not strings", body: `{"reason":"A","message":"m","args":[1]}`, msg: "args"},
		{name: "not an object", body: `[]`, msg: "JSON object"},
		{name: "null", body: `null`, msg: "JSON object"},
		{name: "trailing data", body: `{"reason":"A","message":"m"}x`, msg: "after the event"},
		{name: "broken JSON", body: `{"reason":"A"`, msg: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.body))
			wantError(t, err, 400, tt.msg)
		})
	}
}
