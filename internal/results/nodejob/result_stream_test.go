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
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// tinyItems is a result of about size bytes made of the smallest items.
func tinyItems(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"test":[{"value":1}`)
	for b.Len() < size-2 {
		b.WriteString(`,{"value":1}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReadResultKeepsTheBodyAndChecksAsParseResult(t *testing.T) {
	body := `{"test": [{"value": 1.0, "labels": {"label_a": "AAA"}}], "zzz": [{"value": 2}]}` + " \n"
	res, err := ReadResult(strings.NewReader(body), testResultSpec())
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Raw) != body || len(res.Series) != 1 || res.Ignored[IgnoredUndeclaredSuffix] != 1 {
		t.Fatalf("result = %+v", res)
	}
	// Over maxResultSize (1 KiB), even when the start is a valid result.
	_, err = ReadResult(strings.NewReader(`{"test":[{"value":1}]}`+strings.Repeat(" ", 1<<10)), testResultSpec())
	wantError(t, err, 413, "maxResultSize")
	// A failure to read the body is not an answer of the parser.
	boom := errors.New("connection reset")
	_, err = ReadResult(io.MultiReader(strings.NewReader(`{"test":[`), iotestErr{boom}), testResultSpec())
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the read error", err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// TestReadResultStopsAtTheSeriesLimit is the 1 MiB body of tiny items within
// maxResultSize: the parser stops after maxSeriesPerNode+1 items, having read
// and allocated a few kilobytes, not the body.
func TestReadResultStopsAtTheSeriesLimit(t *testing.T) {
	const mib = 1 << 20
	body := tinyItems(mib)
	spec := testResultSpec()
	spec.MaxSize, spec.MaxSeries = 2*mib, 10

	cr := &countingReader{r: bytes.NewReader(body)}
	_, err := ReadResult(cr, spec)
	wantError(t, err, 413, "maxSeriesPerNode is 10")
	if cr.n > 16<<10 {
		t.Errorf("read %d bytes of a %d-byte body before stopping", cr.n, len(body))
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 10
	for range runs {
		_, _ = ReadResult(bytes.NewReader(body), spec)
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%d bytes allocated per 1 MiB result with maxSeriesPerNode 10", perRun)
	if perRun > 64<<10 {
		t.Errorf("allocated %d bytes per result; want well under the %d-byte body", perRun, len(body))
	}

	// Within the limits, memory follows the series kept: the whole body once (the raw copy) plus the series.
	spec.MaxSeries = 10000
	small := tinyItems(100 << 10)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := ReadResult(bytes.NewReader(small), spec); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations for a 100 KiB result of %d items", allocs, bytes.Count(small, []byte("value")))
}

func BenchmarkReadResultTinyItems(b *testing.B) {
	body := tinyItems(1 << 20)
	spec := testResultSpec()
	spec.MaxSize, spec.MaxSeries = 2<<20, 10
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ReadResult(bytes.NewReader(body), spec)
	}
}

// FuzzReadResult checks that reading a result from a stream answers as
// parsing the whole body does, and keeps the body byte for byte.
func FuzzReadResult(f *testing.F) {
	for _, s := range []string{
		`{"test": [{"value": 1.0, "labels": {"label_a": "AAA", "label_b": "BBB"}}]}`,
		`{"test":[{"value":1},{"value":2},{"value":3},{"value":4}]}`, `{"zz":[{"value":1}]} `,
		`{"test":[{"value":1,"labels":{"zz":"1"}}],"test":[]}`, `{"test":[{"value":1}`, `{}{}`, "",
	} {
		f.Add([]byte(s))
	}
	spec := testResultSpec()
	f.Fuzz(func(t *testing.T, body []byte) {
		if int64(len(body)) > spec.MaxSize {
			return // ParseResult checks the size first, ReadResult when it gets there
		}
		want, wantErr := ParseResult(body, spec)
		got, err := ReadResult(bytes.NewReader(body), spec)
		if (wantErr == nil) != (err == nil) {
			t.Fatalf("ParseResult: %v; ReadResult: %v", wantErr, err)
		}
		if err != nil {
			if answerCode(t, err) != answerCode(t, wantErr) {
				t.Fatalf("ParseResult: %v; ReadResult: %v", wantErr, err)
			}
			return
		}
		if !bytes.Equal(got.Raw, body) || len(got.Series) != len(want.Series) || got.IgnoredItems() != want.IgnoredItems() {
			t.Fatalf("ReadResult %+v, ParseResult %+v", got, want)
		}
	})
}
