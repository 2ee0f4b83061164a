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

package plugin

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// eventRow is one Event regarding an object, as the plugin prints it.
type eventRow struct {
	LastSeen time.Time `json:"lastSeen"`
	Type     string    `json:"type"`
	Reason   string    `json:"reason"`
	Count    int32     `json:"count"`
	Message  string    `json:"message"`
}

// listEvents returns the Events regarding the object with uid, newest first, at most limit of them (0: all).
// eventType "" selects every type. The core/v1 view also shows Events written through events.k8s.io/v1.
func listEvents(ctx context.Context, c client.Reader, ns string, uid types.UID, eventType string, limit int) ([]eventRow, error) {
	sel := fields.Set{"involvedObject.uid": string(uid)}
	if eventType != "" {
		sel["type"] = eventType
	}
	var list corev1.EventList
	if err := c.List(ctx, &list, client.InNamespace(ns), client.MatchingFieldsSelector{Selector: sel.AsSelector()}); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	rows := make([]eventRow, 0, len(list.Items))
	for i := range list.Items {
		rows = append(rows, toEventRow(&list.Items[i]))
	}
	slices.SortStableFunc(rows, func(a, b eventRow) int { return b.LastSeen.Compare(a.LastSeen) })
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, nil
}

// toEventRow reads an Event written through either API: the newest of its timestamps and its total count.
func toEventRow(e *corev1.Event) eventRow {
	r := eventRow{Type: e.Type, Reason: e.Reason, Count: max(e.Count, 1), Message: e.Message}
	for _, t := range []time.Time{e.CreationTimestamp.Time, e.FirstTimestamp.Time, e.LastTimestamp.Time, e.EventTime.Time} {
		if t.After(r.LastSeen) {
			r.LastSeen = t
		}
	}
	if s := e.Series; s != nil {
		r.Count = max(r.Count, s.Count)
		if s.LastObservedTime.After(r.LastSeen) {
			r.LastSeen = s.LastObservedTime.Time
		}
	}
	return r
}
