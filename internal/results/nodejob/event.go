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
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"

	"github.com/jobkeeper/jobkeeper/internal/results"
)

// Limits of an event body (NJ-30).
const (
	MaxEventReasonLength = 128
	MaxEventActionLength = 128
	MaxEventNoteBytes    = 1024
	// DefaultEventAction is the action of an event that names none.
	DefaultEventAction = "n/a"

	// maxEventMessageBytes bounds the format before it is applied.
	maxEventMessageBytes = 4 * MaxEventNoteBytes
	// maxEventArgs and maxEventArgBytes bound the printf arguments.
	maxEventArgs     = 64
	maxEventArgBytes = MaxEventNoteBytes
	// maxFormatNumber bounds widths, precisions and argument indexes in the format, so that formatting
	// cannot allocate more than a few kilobytes per verb.
	maxFormatNumber = MaxEventNoteBytes
)

// Event is a validated event body.
type Event struct {
	// Type is Normal or Warning.
	Type string
	// Reason is UpperCamelCase.
	Reason string
	// Action is the action, "n/a" when the body named none.
	Action string
	// Note is the message, formatted with the arguments when there were any.
	Note string
}

// eventBody is the body as sent; unknown fields are ignored.
type eventBody struct {
	Warning bool     `json:"warning"`
	Reason  string   `json:"reason"`
	Action  string   `json:"action"`
	Message string   `json:"message"`
	Args    []string `json:"args"`
}

// ParseEvent validates an event body (NJ-30). Every violation is 400 and
// names the field.
func ParseEvent(body []byte) (*Event, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, results.BadRequest("event must be a JSON object")
	}
	var b eventBody
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, results.BadRequest("event field %q has the wrong type", te.Field)
		}
		return nil, results.BadRequest("event is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, results.BadRequest("unexpected data after the event")
	}

	if !validReason(b.Reason) {
		return nil, results.BadRequest("reason %q must match ^[A-Z][A-Za-z0-9]*$ and have at most %d characters",
			truncate(b.Reason), MaxEventReasonLength)
	}
	if len(b.Action) > MaxEventActionLength {
		return nil, results.BadRequest("action must have at most %d characters", MaxEventActionLength)
	}
	if b.Action == "" {
		b.Action = DefaultEventAction
	}
	if b.Message == "" {
		return nil, results.BadRequest("message is required")
	}
	note := b.Message
	if len(b.Args) > 0 {
		var err error
		if note, err = format(b.Message, b.Args); err != nil {
			return nil, results.BadRequest("%v", err)
		}
	}
	if note == "" {
		return nil, results.BadRequest("message is empty after formatting")
	}
	if len(note) > MaxEventNoteBytes {
		return nil, results.BadRequest("message is %d bytes after formatting; at most %d are allowed",
			len(note), MaxEventNoteBytes)
	}
	ev := &Event{Type: corev1.EventTypeNormal, Reason: b.Reason, Action: b.Action, Note: note}
	if b.Warning {
		ev.Type = corev1.EventTypeWarning
	}
	return ev, nil
}

// validReason reports whether r matches ^[A-Z][A-Za-z0-9]*$ with at most 128 characters.
func validReason(r string) bool {
	if r == "" || len(r) > MaxEventReasonLength || r[0] < 'A' || r[0] > 'Z' {
		return false
	}
	for i := 1; i < len(r); i++ {
		c := r[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// format applies a printf format to string arguments, after checking that
// the result stays small.
func format(msg string, args []string) (string, error) {
	if len(msg) > maxEventMessageBytes {
		return "", fmt.Errorf("message must have at most %d bytes", maxEventMessageBytes)
	}
	if len(args) > maxEventArgs {
		return "", fmt.Errorf("args must have at most %d entries", maxEventArgs)
	}
	for i, a := range args {
		if len(a) > maxEventArgBytes {
			return "", fmt.Errorf("args[%d] must have at most %d bytes", i, maxEventArgBytes)
		}
	}
	if err := checkFormat(msg); err != nil {
		return "", err
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
	}
	return fmt.Sprintf(msg, vals...), nil
}

// checkFormat rejects widths, precisions and argument indexes above
// maxFormatNumber in a printf format.
func checkFormat(msg string) error {
	for i := 0; i < len(msg); i++ {
		if msg[i] != '%' {
			continue
		}
		n := 0
		for i++; i < len(msg); i++ {
			c := msg[i]
			switch {
			case c >= '0' && c <= '9':
				n = n*10 + int(c-'0')
				if n > maxFormatNumber {
					return fmt.Errorf("message: widths and precisions must be at most %d", maxFormatNumber)
				}
				continue
			case c == '+' || c == '-' || c == '#' || c == ' ' || c == '.' || c == '[' || c == ']' || c == '*':
				n = 0
				continue
			}
			break
		}
	}
	return nil
}
