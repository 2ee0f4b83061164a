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
	"io"
	"net/http"

	"github.com/jobkeeper/jobkeeper/internal/reports"
	"github.com/jobkeeper/jobkeeper/internal/results"
)

// fromStore turns a refusal of the report store into the answer of the
// results API; other errors (failures to write) stay internal errors.
func fromStore(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*results.Error](err); ok {
		return err
	}
	if e, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return e
	}
	switch {
	case errors.Is(err, reports.ErrInvalid), errors.Is(err, reports.ErrBadContent):
		return results.BadRequest("%s", err.Error())
	case errors.Is(err, reports.ErrTooLarge):
		return results.TooLarge("%s", err.Error())
	case errors.Is(err, reports.ErrQuota):
		// No Retry-After: the quota does not refill during the run.
		return results.TooManyRequests(0, "%s", err.Error())
	case errors.Is(err, reports.ErrNotFound):
		return results.NotFound("%s", err.Error())
	}
	return err
}

// storeReceiver passes the files of an upload to the store and answers its
// refusals as the results API does.
type storeReceiver struct{ up *reports.Upload }

func (s storeReceiver) Add(name string, content io.Reader) error {
	return fromStore(s.up.Add(name, content))
}
