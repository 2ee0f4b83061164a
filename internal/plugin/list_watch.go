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
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// rowPrinter prints table rows one at a time, as kubectl get --watch does: each cell padded to the widest cell of its
// column printed so far.
type rowPrinter struct {
	w      io.Writer
	widths []int
}

// widen makes the columns at least as wide as the cells of rows.
func (p *rowPrinter) widen(rows ...[]string) {
	for _, r := range rows {
		for i, c := range r {
			if i >= len(p.widths) {
				p.widths = append(p.widths, 0)
			}
			p.widths[i] = max(p.widths[i], len(c))
		}
	}
}

func (p *rowPrinter) print(cells []string) error {
	p.widen(cells)
	var b strings.Builder
	for i, c := range cells {
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		fmt.Fprintf(&b, "%-*s   ", p.widths[i], c)
	}
	b.WriteString("\n")
	_, err := io.WriteString(p.w, b.String())
	return err
}

// watchPrinter prints the objects of a watch in the output format: table rows, names, or JSON or YAML documents.
type watchPrinter struct {
	output        string
	withNamespace bool
	now           func() time.Time
	rows          rowPrinter
}

// start prints what the list found: the header and rows, names, or the objects.
func (p *watchPrinter) start(objs []listedObject) error {
	if p.output == "" {
		header := listHeader(p.withNamespace)
		p.rows.widen(header)
		for _, l := range objs {
			p.rows.widen(listRow(l, p.withNamespace, p.now()))
		}
		if err := p.rows.print(header); err != nil {
			return err
		}
	}
	for _, l := range objs {
		if err := p.object(l); err != nil {
			return err
		}
	}
	return nil
}

// object prints one object.
func (p *watchPrinter) object(l listedObject) error {
	switch p.output {
	case outputName:
		_, err := fmt.Fprintln(p.rows.w, l.kind.ref(l.obj.GetName()))
		return err
	case outputJSON:
		return printStructured(p.rows.w, outputJSON, l.obj)
	case outputYAML:
		data, err := yaml.Marshal(l.obj)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.rows.w, "---\n%s", data)
		return err
	}
	return p.rows.print(listRow(l, p.withNamespace, p.now()))
}

// watchObjects watches the objects of kinds in ns ("" for all) that match sel, from the resourceVersions of their
// lists (rvs, by kind), and calls emit with every object that is added, changed or deleted, until ctx ends or a watch
// cannot be started. A watch the API server ends is started again where it stopped; one whose resourceVersion is
// too old starts from a fresh list, without printing it.
func watchObjects(ctx context.Context, c client.WithWatch, kinds []kind, ns string, sel labels.Selector,
	rvs map[string]string, emit func(listedObject) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan listedObject)
	errs := make(chan error, len(kinds))
	for _, k := range kinds {
		go func() { errs <- watchKind(ctx, c, k, ns, sel, rvs[k.plural], events) }()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case l := <-events:
			if err := emit(l); err != nil {
				return err
			}
		}
	}
}

// watchKind sends the changed objects of kind k to events until ctx ends.
func watchKind(ctx context.Context, c client.WithWatch, k kind, ns string, sel labels.Selector, rv string,
	events chan<- listedObject) error {
	for ctx.Err() == nil {
		opts := append(listOptions(ns, sel), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		w, err := c.Watch(ctx, newList(k), opts...)
		if err != nil {
			return fmt.Errorf("watching %s: %w", k.plural, err)
		}
		rv, err = forward(ctx, w, k, rv, events)
		w.Stop()
		if err != nil {
			if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
				return fmt.Errorf("watching %s: %w", k.plural, err)
			}
			if _, rv, err = listKind(ctx, c, k, ns, sel); err != nil {
				return err
			}
		}
	}
	return nil
}

// forward sends the objects of w's events to events until w ends, and returns the last resourceVersion seen.
func forward(ctx context.Context, w watch.Interface, k kind, rv string, events chan<- listedObject) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return rv, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				obj, ok := ev.Object.(client.Object)
				if !ok {
					continue
				}
				rv = obj.GetResourceVersion()
				select {
				case events <- listed(k, obj):
				case <-ctx.Done():
					return rv, nil
				}
			case watch.Error:
				return rv, apierrors.FromObject(ev.Object)
			}
		}
	}
}
