//go:build bench

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

package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// percentile returns the p-th percentile (0..100) of samples by the nearest-rank method.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank-1, 0), len(s)-1)]
}

// series is one figure measured once per repetition; NaN marks a repetition without a figure.
type series []float64

var nan = math.NaN()

func (s series) valid() []float64 {
	var out []float64
	for _, v := range s {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

func (s series) median() float64 {
	c := s.valid()
	if len(c) == 0 {
		return math.NaN()
	}
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func (s series) spread() (float64, float64) {
	c := s.valid()
	if len(c) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(c), slices.Max(c)
}

// unit formats a value of a figure.
type unit string

const (
	unitSeconds unit = "s"
	unitMillis  unit = "ms"
	unitPerMin  unit = "/min"
	unitPerSec  unit = "/s"
	unitMiB     unit = "MiB"
	unitKiB     unit = "KiB"
	unitCPU     unit = "CPU-s/min"
	unitCount   unit = ""
)

func (u unit) format(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch u {
	case unitMillis:
		return fmt.Sprintf("%.1f ms", v)
	case unitSeconds:
		return fmt.Sprintf("%.2f s", v)
	case unitPerMin:
		return fmt.Sprintf("%.1f/min", v)
	case unitPerSec:
		return fmt.Sprintf("%.0f/s", v)
	case unitCPU:
		return fmt.Sprintf("%.2f CPU-s/min", v)
	case unitMiB:
		return fmt.Sprintf("%.1f MiB", v)
	case unitKiB:
		return fmt.Sprintf("%.1f KiB", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// row is one line of the results table: a figure, the limit it is compared with, and the target.
type row struct {
	bench  string
	figure string
	unit   unit
	values series
	// limitName and limit describe what the figure is compared with; empty when nothing is.
	limitName string
	limit     series
	// target describes the goal; check says whether the median meets it. A nil check means no target.
	target string
	check  func(value, ratio float64) bool
	// higherIsBetter flips the ratio so that a ratio above 1 always means "slower than the limit".
	higherIsBetter bool
}

func (r row) ratio() float64 {
	if len(r.limit) == 0 {
		return math.NaN()
	}
	v, l := r.values.median(), r.limit.median()
	if r.higherIsBetter {
		v, l = l, v
	}
	if l == 0 {
		return math.NaN()
	}
	return v / l
}

func (r row) cells() []string {
	lo, hi := r.values.spread()
	fig := r.unit.format(r.values.median())
	if len(r.values) > 1 {
		fig += fmt.Sprintf(" [%s..%s, n=%d]", strings.TrimSuffix(r.unit.format(lo), " "+string(r.unit)),
			r.unit.format(hi), len(r.values.valid()))
	}
	limit := "-"
	if r.limitName != "" {
		limit = r.limitName
		if len(r.limit) > 0 {
			limit += ": " + r.unit.format(r.limit.median())
		}
	}
	ratio := "-"
	if q := r.ratio(); !math.IsNaN(q) {
		ratio = fmt.Sprintf("%.2f×", q)
	}
	met := "-"
	if r.check != nil {
		if math.IsNaN(r.values.median()) {
			met = "no (no figure)"
		} else if r.check(r.values.median(), r.ratio()) {
			met = "yes"
		} else {
			met = "NO"
		}
	}
	target := r.target
	if target == "" {
		target = "-"
	}
	return []string{r.bench, r.figure, fig, limit, ratio, target, met}
}

// printTable writes the rows as an aligned text table, or as a Markdown table when markdown is set.
func printTable(w io.Writer, rows []row, markdown bool) error {
	header := []string{"benchmark", "figure", "median [min..max]", "limit compared with", "ratio", "target", "met?"}
	cells := make([][]string, 0, len(rows))
	for _, r := range rows {
		cells = append(cells, r.cells())
	}
	return writeTable(w, header, cells, markdown)
}

// writeTable writes a header and rows of cells as an aligned text table, or as a Markdown table.
func writeTable(w io.Writer, header []string, rows [][]string, markdown bool) error {
	var b strings.Builder
	if markdown {
		b.WriteString("| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat("---|", len(header)) + "\n")
		for _, r := range rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString(strings.Join(header, "\t") + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, "\t") + "\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if _, err := io.WriteString(tw, b.String()); err != nil {
		return err
	}
	return tw.Flush()
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func seconds(d time.Duration) float64 { return d.Seconds() }
