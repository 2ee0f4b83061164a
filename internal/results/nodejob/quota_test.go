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
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/reports"
)

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// quotaTarget returns routes over a store whose run holds used bytes in
// node-b's file, and the target of node-a with maxRunStorage limit.
func quotaTarget(t *testing.T, used, limit int64) (*Routes, *Target) {
	t.Helper()
	s := newStore(t)
	big := reports.FileLimits{MaxFileSize: 1 << 30, MaxFilesPerNode: 10, MaxRunStorage: 1 << 30}
	if used > 0 {
		if err := upload(t, s, "node-b", big, [2]string{"old.bin", strings.Repeat("x", int(used))}); err != nil {
			t.Fatal(err)
		}
	}
	run := &batchv1alpha1.NodeJobRun{ObjectMeta: metav1.ObjectMeta{Namespace: testLoc.Namespace, Name: testLoc.Run}}
	return &Routes{store: s}, &Target{Run: run, Node: "node-a", Location: testLoc,
		Limits: Limits{MaxFileSize: 1 << 30, MaxFilesPerNode: 10, MaxRunStorage: limit}}
}

// uploadWithQuota sends body as one file through the quota, as the file route does.
func uploadWithQuota(t *testing.T, r *Routes, tg *Target, name string, body io.Reader) (int64, error) {
	t.Helper()
	up, err := r.store.Begin(tg.Location, tg.Node, reports.FileLimitsOf(tg.Limits))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	q, err := r.quotaFor(tg)
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingReader{r: body}
	req := httptest.NewRequest(http.MethodPost, "/f?name="+name, counted)
	req.ContentLength = -1
	if _, err := ReadUpload(req, WithQuota(storeReceiver{up}, q), nil); err != nil {
		return int64(counted.n), err
	}
	_, err = up.Commit()
	return int64(counted.n), fromStore(err)
}

func TestUploadStopsAtTheRunQuota(t *testing.T) {
	const used, limit = 1000, 5000
	r, tg := quotaTarget(t, used, limit)

	// An endless body: the upload is cut off right after the 4000 bytes the run may still take, long before
	// maxFileSize (1 GiB), and no temporary file is left.
	read, err := uploadWithQuota(t, r, tg, "huge.bin", zeros{})
	wantError(t, err, 413, "maxRunStorage (5000 bytes)")
	if read > limit-used+64<<10 {
		t.Fatalf("read %d bytes of the body; the run had room for %d", read, limit-used)
	}
	tmp, err := os.ReadDir(filepath.Join(r.store.Dir(), ".jobkeeper-tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}

	// What fits is stored; then the rest of the room, and not a byte more.
	if _, err := uploadWithQuota(t, r, tg, "a.bin", bytes.NewReader(make([]byte, 3000))); err != nil {
		t.Fatal(err)
	}
	if _, err := uploadWithQuota(t, r, tg, "b.bin", bytes.NewReader(make([]byte, 1001))); err == nil {
		t.Fatal("an upload beyond the run's storage was accepted")
	}
	if _, err := uploadWithQuota(t, r, tg, "b.bin", bytes.NewReader(make([]byte, 1000))); err != nil {
		t.Fatal(err)
	}
	// Replacing a stored file may use the room it frees.
	if _, err := uploadWithQuota(t, r, tg, "a.bin", bytes.NewReader(make([]byte, 3000))); err != nil {
		t.Fatalf("replacing a file of the same size: %v", err)
	}
	used2, err := r.store.Usage(testLoc)
	if err != nil || used2 != limit {
		t.Fatalf("run holds %d bytes (%v), want %d", used2, err, limit)
	}
	var files []string
	_ = filepath.WalkDir(r.store.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, filepath.Base(p))
		}
		return err
	})
	if strings.Join(files, ",") != "a.bin,b.bin,old.bin" {
		t.Fatalf("stored files %v", files)
	}
}

func TestUploadQuotaWithinOneMultipartUpload(t *testing.T) {
	r, tg := quotaTarget(t, 0, 100)
	up, err := r.store.Begin(tg.Location, tg.Node, reports.FileLimitsOf(tg.Limits))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	q, err := r.quotaFor(tg)
	if err != nil {
		t.Fatal(err)
	}
	rc := WithQuota(storeReceiver{up}, q)
	if err := rc.Add("x", strings.NewReader(strings.Repeat("1", 60))); err != nil {
		t.Fatal(err)
	}
	// The same name again replaces the earlier file of the upload, so its 60 bytes are given back.
	if err := rc.Add("x", strings.NewReader(strings.Repeat("2", 30))); err != nil {
		t.Fatal(err)
	}
	// 70 bytes are left for the next file: an endless one is cut off there.
	body := &countingReader{r: zeros{}}
	wantError(t, rc.Add("y", body), 413, "maxRunStorage")
	if body.n > 70+64<<10 {
		t.Fatalf("read %d bytes of a file with room for 70", body.n)
	}
}

func TestUploadContentLengthCheckedFirst(t *testing.T) {
	q := RunQuota{Run: "r", MaxRunStorage: 100, Remaining: 40, NodeBytes: 10}
	if err := q.Admit(50); err != nil {
		t.Fatalf("50 bytes with room for 40 and 10 replaceable: %v", err)
	}
	wantError(t, q.Admit(51), 413, "maxRunStorage (100 bytes) of run r")
	if err := q.Admit(-1); err != nil {
		t.Fatalf("unknown length: %v", err)
	}
}
