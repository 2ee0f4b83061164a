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

// Package nodejob plugs the NodeJob upload routes into the results API:
//
//	POST /report/<node>/<executionID>/result
//	POST /report/<node>/<executionID>/file
//	POST /report/<node>/<executionID>/event
//
// Each request is checked against the caller's pod: the pod must be controlled
// by a NodeJobRun, be that run's pod for <node> (its UID the one the operator
// recorded for the node in the report store), and <executionID> must be the
// run's execution ID. The bodies are then parsed and validated by pure
// functions (ParseResult, ParseEvent, SanitizeFileName), files are written by
// the report store (internal/reports: contained, size-limited, all or
// nothing), and the validated data goes to a Sink. StoreSink, the sink of
// this kind, records results durably in the store before the answer, keeps
// the series and creates Events; it never writes the run, whose status the
// run controller computes from the store after StoreSink notes the change.
//
// The family is LeaderOnly by default: files live on the leader's report
// volume and the result gauges in the leader's process, so replicas that do
// not lead answer 503 with Retry-After: 1 and the pod retries until the
// Service sends it to the leader.
package nodejob
