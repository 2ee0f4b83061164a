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

package results

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// DefaultRetryAfter is the Retry-After of a 503 answer that names no other delay.
const DefaultRetryAfter = time.Second

// Error is an answer other than success. Handlers return it to choose the status
// code, the reason and the message; any other error becomes 500 InternalError
// with a message that reveals nothing.
type Error struct {
	// Code is the HTTP status code.
	Code int
	// Reason is the UpperCamelCase reason of the body.
	Reason string
	// Message explains the error; it must not contain secrets or tokens.
	Message string
	// RetryAfter, when positive, is sent as the Retry-After header (whole seconds, at least 1).
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message)
}

// Body returns the JSON body of the error.
func (e *Error) Body() wire.Error {
	return wire.Error{Code: e.Code, Reason: e.Reason, Message: e.Message}
}

// NewError returns an error answer with the given code, reason and message.
func NewError(code int, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is 400 InvalidRequest.
func BadRequest(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, wire.ReasonInvalidRequest, format, args...)
}

// Unauthenticated is 401 Unauthenticated.
func Unauthenticated(format string, args ...any) *Error {
	return NewError(http.StatusUnauthorized, wire.ReasonUnauthenticated, format, args...)
}

// Forbidden is 403 Forbidden.
func Forbidden(format string, args ...any) *Error {
	return NewError(http.StatusForbidden, wire.ReasonForbidden, format, args...)
}

// NotFound is 404 NotFound.
func NotFound(format string, args ...any) *Error {
	return NewError(http.StatusNotFound, wire.ReasonNotFound, format, args...)
}

// Conflict is 409 with the given reason, such as RunFinished or MetricConflict.
func Conflict(reason, format string, args ...any) *Error {
	return NewError(http.StatusConflict, reason, format, args...)
}

// TooLarge is 413 TooLarge.
func TooLarge(format string, args ...any) *Error {
	return NewError(http.StatusRequestEntityTooLarge, wire.ReasonTooLarge, format, args...)
}

// TooManyRequests is 429 TooManyRequests; the client may retry after retryAfter.
func TooManyRequests(retryAfter time.Duration, format string, args ...any) *Error {
	e := NewError(http.StatusTooManyRequests, wire.ReasonTooManyRequests, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// Unavailable is 503 Unavailable; the client retries after retryAfter (DefaultRetryAfter when not positive).
func Unavailable(retryAfter time.Duration, format string, args ...any) *Error {
	if retryAfter <= 0 {
		retryAfter = DefaultRetryAfter
	}
	e := NewError(http.StatusServiceUnavailable, wire.ReasonUnavailable, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// FromAPIError turns the error of a Kubernetes API read into an answer:
// NotFound becomes 404 with notFound as the message, and every other failure
// becomes 503 so that the client retries.
func FromAPIError(err error, notFound string) *Error {
	if apierrors.IsNotFound(err) {
		return NotFound("%s", notFound)
	}
	retry := DefaultRetryAfter
	if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
		retry = time.Duration(s) * time.Second
	}
	return Unavailable(retry, "the Kubernetes API is not available; retry later")
}

// asError maps any error returned while serving a request to an answer. The
// second result is false for errors that are not answers on purpose and
// should be logged.
func asError(err error) (*Error, bool) {
	if e, ok := errors.AsType[*Error](err); ok {
		return e, true
	}
	if tooBig, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return TooLarge("request body exceeds %d bytes", tooBig.Limit), true
	}
	return NewError(http.StatusInternalServerError, wire.ReasonInternalError, "internal error"), false
}

// retryAfterSeconds renders d as whole seconds, rounded up and at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}
