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

package batch

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// maxMissedTicks is the number of missed ticks above which TooManyMissedTimes is reported (NJ-2).
const maxMissedTicks = 100

// executionIDLayout formats the minute of an execution ID, in UTC (§1.4).
const executionIDLayout = "200601021504"

// cronParser reads 5-field expressions and the descriptors of §1.2.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// timeZoneError is the error of a time zone that cannot be loaded.
type timeZoneError struct{ err error }

func (e timeZoneError) Error() string { return e.err.Error() }

// nodeJobSchedule parses the schedule of a NodeJob in its time zone. It returns nil without a schedule.
func nodeJobSchedule(spec *batchv1alpha1.NodeJobSpec) (cron.Schedule, error) {
	if spec.Schedule == "" {
		return nil, nil
	}
	loc := time.UTC
	if spec.TimeZone != nil {
		if *spec.TimeZone == "" || *spec.TimeZone == "Local" {
			return nil, timeZoneError{fmt.Errorf("spec.timeZone: unknown time zone %q", *spec.TimeZone)}
		}
		l, err := time.LoadLocation(*spec.TimeZone)
		if err != nil {
			return nil, timeZoneError{fmt.Errorf("spec.timeZone: unknown time zone %q: %w", *spec.TimeZone, err)}
		}
		loc = l
	}
	sched, err := cronParser.Parse(spec.Schedule)
	if err != nil {
		return nil, fmt.Errorf("spec.schedule: unparsable schedule %q: %w", spec.Schedule, err)
	}
	return &zonedSchedule{sched: sched, loc: loc}, nil
}

// zonedSchedule evaluates a schedule in a time zone.
type zonedSchedule struct {
	sched cron.Schedule
	loc   *time.Location
}

// Next returns the first tick after t.
func (z *zonedSchedule) Next(t time.Time) time.Time {
	return z.sched.Next(t.In(z.loc))
}

// missedTicks returns the most recent tick in (earliest, now] and the number of ticks in that interval (NJ-2).
// Long gaps of a regular schedule are skipped arithmetically instead of tick by tick.
func missedTicks(sched cron.Schedule, earliest, now time.Time) (time.Time, int) {
	var last time.Time
	count, jumped := 0, false
	for t := sched.Next(earliest); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		if count > maxMissedTicks && !jumped {
			jumped = true
			if interval := t.Sub(last); interval > 0 {
				if skip := int64(now.Sub(t)/interval) - 1; skip > 0 {
					// Realign on the schedule, since a jump may land between ticks of an irregular one.
					t = sched.Next(t.Add(time.Duration(skip)*interval - time.Nanosecond))
					count += int(skip)
					if t.IsZero() || t.After(now) {
						break
					}
				}
			}
		}
		last = t
		count++
	}
	return last, count
}

// nodeHash is the FNV-32a hash of s as 8 lower-case hex digits; it names manual runs and their execution IDs
// (§1.6). Pods are named by names.NodeJobPodName.
func nodeHash(s string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// scheduledRunName is the run name of a tick or of the on-create run: <nodejob>-<unix minutes> (§1.6).
func scheduledRunName(nodeJob string, t time.Time) string {
	return nodeJob + "-" + strconv.FormatInt(t.Unix()/60, 10)
}

// manualRunName is the run name of run request n: <nodejob>-m<hash of the token and n> (§1.6). n, the
// request's place among the requests acted on, makes a token used before a run of its own.
func manualRunName(nodeJob, token string, n int64) string {
	return nodeJob + "-m" + nodeHash(token+"/"+strconv.FormatInt(n, 10))
}

// executionID is the execution ID of a run scheduled at t; manual runs add the token hash (§1.4).
func executionID(t time.Time, token string) string {
	id := t.UTC().Format(executionIDLayout)
	if token != "" {
		id += "-" + nodeHash(token)
	}
	return id
}
