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

// Package results is the HTTPS API through which job pods hand their results
// to the operator (decision 2 of the specs): QuarksJob output files and
// NodeJob results, files and events. Job pods have no Kubernetes API rights;
// they present a projected service-account token with a dedicated audience,
// and the operator writes Secrets, metrics, files and Events itself.
//
// The Server handles what every route shares: TLS (a certificate directory
// reloaded with certwatcher, or a generated CA for local runs), server
// timeouts, routing (unknown paths 404, wrong methods 405, no pprof and no HTML
// file listing), authentication by TokenReview (pod name and UID from the
// token, accepted tokens remembered briefly under a hash), a token-bucket rate
// limit per caller, body limits and JSON errors. Each kind plugs in a Family
// of routes whose Handlers check that the caller may act on what the path
// names and parse the body; see the nodejob and quarksjob sub-packages.
//
// Families authenticate job pods (AuthPod, the default: a token of the
// results audience bound to a pod) or users (AuthUser: any token the API
// server accepts for its own audiences; the handler then authorises the user
// with a SubjectAccessReview through Authorize). The NodeJob report read route
// is such a family.
//
// High availability: the Server runs on every replica (NeedLeaderElection is
// false), so the Service may route to any of them and health checks do not
// depend on leadership. Families whose persistence goes through the API server
// (QuarksJob: Secrets and status) are served by every replica. Families that
// keep state in the leader's process or on its disk (NodeJob: report files and
// result gauges) set Family.LeaderOnly; other replicas then answer 503 with
// Retry-After: 1, and the pod's retries reach the leader. Either way a pod
// retries with backoff, so nothing is lost across a failover.
package results
