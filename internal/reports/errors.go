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

package reports

import (
	"errors"
	"fmt"
)

// Kinds of refusals; errors.Is tells them apart, so that callers (the results API) can choose an answer.
var (
	// ErrInvalid: a name or path that the store does not accept.
	ErrInvalid = errors.New("invalid")
	// ErrTooLarge: a limit of the run (file size, file count, run storage) would be exceeded.
	ErrTooLarge = errors.New("too large")
	// ErrQuota: a per-node quota (events) is used up.
	ErrQuota = errors.New("quota exceeded")
	// ErrNotFound: no such report file or directory, or no such node record.
	ErrNotFound = errors.New("not found")
	// ErrBadContent: reading the content to store failed; the cause is wrapped as well.
	ErrBadContent = errors.New("bad content")
)

// Error is a refusal of the store with a message for the caller.
type Error struct {
	kind  error
	cause error
	msg   string
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind and, when there is one, the cause.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func newError(kind, cause error, format string, args ...any) *Error {
	return &Error{kind: kind, cause: cause, msg: fmt.Sprintf(format, args...)}
}

// truncate shortens a caller-supplied string for a message.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
