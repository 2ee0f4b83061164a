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

// Package nodemetrics exports the results of NodeJob pods as Prometheus gauges
// (NJ-27): one collector for every NodeJob, holding the series of the runs the
// operator keeps. A family <prefix>_<suffix> belongs to the oldest NodeJob that
// declares it; NodeJobs that declare the same name with other labels or help
// are in conflict and export nothing for it (NJ-X12).
package nodemetrics
