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

package reports

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// Names inside the report root and a run's directory.
const (
	// ResultFileName is the stored result body of a node: nodes/<node>/result.json.
	ResultFileName = "result.json"
	// tmpDirName holds files being written, in the report root so that renames stay on one file system.
	tmpDirName = ".jobkeeper-tmp"
	// staleTempAge is the age at which leftover temporary files are removed when a store opens.
	staleTempAge = time.Hour

	dirMode  = 0o750
	fileMode = 0o640
)

// RunLocation names the report directory of a run:
// <report root>/<namespace>/<nodejob>/<run>.
type RunLocation struct {
	Namespace string
	NodeJob   string
	Run       string
}

// LocationOf returns the report location of a run.
func LocationOf(run *batchv1alpha1.NodeJobRun) RunLocation {
	return RunLocation{Namespace: run.Namespace, NodeJob: run.Spec.NodeJobName, Run: run.Name}
}

// rel returns the run directory relative to the report root.
func (l RunLocation) rel() (string, error) {
	for _, e := range []string{l.Namespace, l.NodeJob, l.Run} {
		if !validElement(e) {
			return "", fmt.Errorf("invalid report location %q/%q/%q", l.Namespace, l.NodeJob, l.Run)
		}
	}
	return filepath.Join(l.Namespace, l.NodeJob, l.Run), nil
}

// validElement reports whether s is usable as one path element.
func validElement(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= 253 && !strings.ContainsAny(s, "/\\\x00")
}

// FileLimits bound what an upload may add to a run.
type FileLimits struct {
	// MaxFileSize is the largest file in bytes.
	MaxFileSize int64
	// MaxFilesPerNode is the number of files a node may have.
	MaxFilesPerNode int
	// MaxRunStorage is the number of bytes the whole run directory may hold.
	MaxRunStorage int64
}

// FileLimitsOf returns the file limits of run limits.
func FileLimitsOf(l Limits) FileLimits {
	return FileLimits{MaxFileSize: l.MaxFileSize, MaxFilesPerNode: l.MaxFilesPerNode, MaxRunStorage: l.MaxRunStorage}
}

// StoredFile is a file written by an upload.
type StoredFile struct {
	// Name is the stored (sanitised) name.
	Name string
	// Size is its size in bytes.
	Size int64
}

// FileStore writes the files of NodeJob runs under a report root. Every path
// is opened through an os.Root, so neither ".." nor a symbolic link can lead
// outside the root, and every file name is also checked to stay in its
// directory after cleaning. Writes go to a temporary file first and are
// renamed into place, so a file is either complete or absent.
//
// The store tracks the bytes and file counts of each run it has written to;
// it is meant to be the only writer of the files it counts (the leader's).
type FileStore struct {
	dir  string
	root *os.Root

	mu   sync.Mutex
	runs map[string]*runUsage
	recs map[string]*runRecords
}

// runUsage is what a run directory holds.
type runUsage struct {
	mu     sync.Mutex
	loaded bool
	bytes  int64
	files  map[string]int // node → number of files
}

// NewFileStore opens (and creates) the report root dir and removes temporary
// files left over from an earlier process.
func NewFileStore(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("report directory is not set")
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("creating report directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening report directory: %w", err)
	}
	s := &FileStore{dir: dir, root: root, runs: map[string]*runUsage{}, recs: map[string]*runRecords{}}
	if err := root.MkdirAll(tmpDirName, 0o700); err != nil {
		return nil, fmt.Errorf("creating temporary directory: %w", err)
	}
	s.removeStaleTemps()
	return s, nil
}

// Dir is the report root.
func (s *FileStore) Dir() string {
	return s.dir
}

// Close releases the report root.
func (s *FileStore) Close() error {
	return s.root.Close()
}

func (s *FileStore) removeStaleTemps() {
	entries, err := fs.ReadDir(s.root.FS(), tmpDirName)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge {
			_ = s.root.Remove(filepath.Join(tmpDirName, e.Name()))
		}
	}
}

// bookkeeping names the operator's own files in a run directory; they do not
// count against the run's storage.
var bookkeeping = map[string]bool{RunMarkerFileName: true, SelectionFileName: true, NodeRecordFileName: true,
	OutcomeFileName: true}

// syncDir makes a rename in the directory rel durable.
func (s *FileStore) syncDir(rel string) error {
	d, err := s.root.Open(rel)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// usage returns the locked usage of a run, loading it from disk the first time.
// The caller unlocks it.
func (s *FileStore) usage(runRel string) (*runUsage, error) {
	s.mu.Lock()
	u, ok := s.runs[runRel]
	if !ok {
		u = &runUsage{}
		s.runs[runRel] = u
	}
	s.mu.Unlock()

	u.mu.Lock()
	if u.loaded {
		return u, nil
	}
	u.bytes, u.files = 0, map[string]int{}
	err := fs.WalkDir(s.root.FS(), filepath.ToSlash(runRel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || bookkeeping[d.Name()] {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		u.bytes += info.Size()
		parts := strings.Split(strings.TrimPrefix(p, filepath.ToSlash(runRel)+"/"), "/")
		if len(parts) == 4 && parts[0] == "nodes" && parts[2] == "files" {
			u.files[parts[1]]++
		}
		return nil
	})
	if err != nil {
		u.mu.Unlock()
		return nil, fmt.Errorf("reading the usage of %s: %w", runRel, err)
	}
	u.loaded = true
	return u, nil
}

// Usage returns the bytes stored for a run.
func (s *FileStore) Usage(loc RunLocation) (int64, error) {
	runRel, err := loc.rel()
	if err != nil {
		return 0, err
	}
	u, err := s.usage(runRel)
	if err != nil {
		return 0, err
	}
	defer u.mu.Unlock()
	return u.bytes, nil
}

// Forget drops what the store knows about a run's usage, so that it is read
// from disk again; call it after writing to the run directory by other means.
func (s *FileStore) Forget(loc RunLocation) {
	if runRel, err := loc.rel(); err == nil {
		s.mu.Lock()
		delete(s.runs, runRel)
		delete(s.recs, runRel)
		s.mu.Unlock()
	}
}

// RemoveRun removes the directory of a run and everything in it.
func (s *FileStore) RemoveRun(loc RunLocation) error {
	runRel, err := loc.rel()
	if err != nil {
		return err
	}
	s.Forget(loc)
	if err := s.root.RemoveAll(runRel); err != nil {
		return fmt.Errorf("removing report directory %s: %w", runRel, err)
	}
	return nil
}

// nodeRel returns nodes/<node> of a run, relative to the root.
func nodeRel(runRel, node string) (string, error) {
	if !validElement(node) {
		return "", newError(ErrInvalid, nil, "invalid node name %q", truncate(node))
	}
	return filepath.Join(runRel, "nodes", node), nil
}

// containedPath joins dirRel and name and checks, after cleaning, that the
// result is a direct child of dirRel named name.
func (s *FileStore) containedPath(dirRel, name string) (string, error) {
	base := filepath.Clean(filepath.Join(s.dir, dirRel))
	target := filepath.Clean(filepath.Join(base, name))
	rel, err := filepath.Rel(base, target)
	if err != nil || rel != name || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", newError(ErrInvalid, nil, "invalid file name %q", truncate(name))
	}
	return filepath.Join(dirRel, name), nil
}

// createTemp creates an empty temporary file in the root's temporary directory.
func (s *FileStore) createTemp() (string, *os.File, error) {
	rel := filepath.Join(tmpDirName, "upload-"+rand.Text())
	f, err := s.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return "", nil, fmt.Errorf("creating temporary file: %w", err)
	}
	return rel, f, nil
}

// existingSize returns the size of the regular file rel, 0 and false when it
// does not exist, and an error when something else is in its place.
func (s *FileStore) existingSize(rel string) (int64, bool, error) {
	info, err := s.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if !info.Mode().IsRegular() {
		return 0, false, fmt.Errorf("%s exists and is not a regular file", rel)
	}
	return info.Size(), true, nil
}

// PutResult stores the result body of a node as nodes/<node>/result.json,
// replacing the earlier one. It is 413 when the run would exceed
// maxRunStorage.
//
// This one durable write is also the node's receipt: once it returns, the
// file is synced, renamed into place and its directory synced, and the node's
// record says resultReceived, with the file's modification time as
// resultTime (see NodeRecord); no other file is written.
func (s *FileStore) PutResult(loc RunLocation, node string, data []byte, maxRunStorage int64) error {
	runRel, err := loc.rel()
	if err != nil {
		return err
	}
	dirRel, err := nodeRel(runRel, node)
	if err != nil {
		return err
	}
	finalRel, err := s.containedPath(dirRel, ResultFileName)
	if err != nil {
		return err
	}
	tmpRel, f, err := s.createTemp()
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = s.root.Remove(tmpRel)
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing result: %w", err)
	}
	// The modification time is the result's time; the sync makes it durable with the data.
	info, err := f.Stat()
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	if err := s.renameResult(loc, runRel, dirRel, tmpRel, finalRel, int64(len(data)), maxRunStorage); err != nil {
		return err
	}
	renamed = true
	// The run's usage is no longer locked: results of different nodes sync their directories in parallel.
	if err := s.syncDir(dirRel); err != nil {
		return fmt.Errorf("storing result: %w", err)
	}
	return s.noteResult(runRel, node, info.ModTime())
}

// renameResult moves a written result into place if the run's storage allows it, and counts its bytes.
// The node's directory is created when the rename finds it missing, which spares looking for it every time.
func (s *FileStore) renameResult(loc RunLocation, runRel, dirRel, tmpRel, finalRel string, size, maxRunStorage int64) error {
	u, err := s.usage(runRel)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	old, _, err := s.existingSize(finalRel)
	if err != nil {
		return err
	}
	if total := u.bytes - old + size; total > maxRunStorage {
		return newError(ErrTooLarge, nil, "run %s would hold %d bytes; maxRunStorage is %d", loc.Run, total, maxRunStorage)
	}
	err = s.root.Rename(tmpRel, finalRel)
	if errors.Is(err, fs.ErrNotExist) {
		if err := s.root.MkdirAll(dirRel, dirMode); err != nil {
			return fmt.Errorf("creating %s: %w", dirRel, err)
		}
		err = s.root.Rename(tmpRel, finalRel)
	}
	if err != nil {
		return fmt.Errorf("storing result: %w", err)
	}
	u.bytes += size - old
	return nil
}

// Upload is an all-or-nothing file upload to nodes/<node>/files/ of a run:
// files are written to temporary files by Add and moved into place by Commit;
// Abort (or a failed Commit) removes them.
type Upload struct {
	store    *FileStore
	run      string
	runRel   string
	filesRel string
	node     string
	limits   FileLimits
	pending  []pendingFile
	total    int64
}

type pendingFile struct {
	name   string
	tmpRel string
	size   int64
}

// Begin starts an upload for a node of a run.
func (s *FileStore) Begin(loc RunLocation, node string, limits FileLimits) (*Upload, error) {
	runRel, err := loc.rel()
	if err != nil {
		return nil, err
	}
	dirRel, err := nodeRel(runRel, node)
	if err != nil {
		return nil, err
	}
	return &Upload{store: s, run: loc.Run, runRel: runRel, filesRel: filepath.Join(dirRel, "files"), node: node,
		limits: limits}, nil
}

// errWrite marks a failure to write to the store, as opposed to reading the upload.
type errWrite struct{ error }

type tagWriter struct{ w io.Writer }

func (t tagWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		err = errWrite{err}
	}
	return n, err
}

// Add writes one file to a temporary file. name must be a sanitised name. A
// later file of the same name replaces an earlier one of the same upload.
func (u *Upload) Add(name string, content io.Reader) error {
	if clean, err := SanitizeFileName(name); err != nil || clean != name {
		return newError(ErrInvalid, nil, "invalid file name %q", truncate(name))
	}
	if _, err := u.store.containedPath(u.filesRel, name); err != nil {
		return err
	}
	distinct := 1
	for _, p := range u.pending {
		if p.name != name {
			distinct++
		}
	}
	if distinct > u.limits.MaxFilesPerNode {
		return newError(ErrTooLarge, nil, "upload holds more than maxFilesPerNode (%d) files", u.limits.MaxFilesPerNode)
	}

	tmpRel, f, err := u.store.createTemp()
	if err != nil {
		return err
	}
	n, err := io.Copy(tagWriter{f}, io.LimitReader(content, u.limits.MaxFileSize+1))
	if err == nil {
		err = f.Sync()
		if err != nil {
			err = errWrite{err}
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = errWrite{cerr}
	}
	if err == nil && n > u.limits.MaxFileSize {
		err = newError(ErrTooLarge, nil, "file %q exceeds maxFileSize (%d bytes)", name, u.limits.MaxFileSize)
	}
	if err == nil && u.total+n > u.limits.MaxRunStorage {
		err = newError(ErrTooLarge, nil, "upload exceeds maxRunStorage (%d bytes) of run %s", u.limits.MaxRunStorage, u.run)
	}
	if err != nil {
		_ = u.store.root.Remove(tmpRel)
		return addError(name, err)
	}
	for i, p := range u.pending {
		if p.name == name {
			_ = u.store.root.Remove(p.tmpRel)
			u.total -= p.size
			u.pending = append(u.pending[:i], u.pending[i+1:]...)
			break
		}
	}
	u.pending = append(u.pending, pendingFile{name: name, tmpRel: tmpRel, size: n})
	u.total += n
	return nil
}

// addError keeps refusals of the store, reports storage failures as internal
// errors, and turns any other failure to read the upload into ErrBadContent,
// wrapping the cause (for instance a body limit) for the caller to inspect.
func addError(name string, err error) error {
	if w, ok := errors.AsType[errWrite](err); ok {
		return fmt.Errorf("storing file %q: %w", name, w.error)
	}
	if _, ok := errors.AsType[*Error](err); ok {
		return err
	}
	return newError(ErrBadContent, err, "reading file %q failed: the body is malformed or was cut off", truncate(name))
}

// Commit checks the node's file count and the run's storage and moves the
// files into place. It is 413 when a limit would be exceeded; then nothing is
// kept. The same name again overwrites the stored file.
func (u *Upload) Commit() ([]StoredFile, error) {
	defer u.Abort()
	usage, err := u.store.usage(u.runRel)
	if err != nil {
		return nil, err
	}
	defer usage.mu.Unlock()

	added, replaced := 0, int64(0)
	finals := make([]string, len(u.pending))
	for i, p := range u.pending {
		finalRel, err := u.store.containedPath(u.filesRel, p.name)
		if err != nil {
			return nil, err
		}
		finals[i] = finalRel
		size, exists, err := u.store.existingSize(finalRel)
		if err != nil {
			return nil, err
		}
		if exists {
			replaced += size
		} else {
			added++
		}
	}
	if files := usage.files[u.node] + added; files > u.limits.MaxFilesPerNode {
		return nil, newError(ErrTooLarge, nil, "node %s would have %d files; maxFilesPerNode is %d", u.node, files,
			u.limits.MaxFilesPerNode)
	}
	if total := usage.bytes - replaced + u.total; total > u.limits.MaxRunStorage {
		return nil, newError(ErrTooLarge, nil, "run %s would hold %d bytes; maxRunStorage is %d", u.run, total,
			u.limits.MaxRunStorage)
	}
	if err := u.store.root.MkdirAll(u.filesRel, dirMode); err != nil {
		return nil, fmt.Errorf("creating %s: %w", u.filesRel, err)
	}
	stored := make([]StoredFile, 0, len(u.pending))
	for i, p := range u.pending {
		if err := u.store.root.Rename(p.tmpRel, finals[i]); err != nil {
			// Files renamed so far are complete; recount from disk next time.
			usage.loaded = false
			return nil, fmt.Errorf("storing file %q: %w", p.name, err)
		}
		stored = append(stored, StoredFile{Name: p.name, Size: p.size})
	}
	usage.files[u.node] += added
	usage.bytes += u.total - replaced
	u.pending = nil
	return stored, nil
}

// Abort removes the temporary files of an upload that was not committed.
func (u *Upload) Abort() {
	for _, p := range u.pending {
		_ = u.store.root.Remove(p.tmpRel)
	}
	u.pending = nil
}
