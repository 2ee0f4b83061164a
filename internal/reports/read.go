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
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Entry is one entry of a directory listing.
type Entry struct {
	// Name is the file or directory name.
	Name string `json:"name"`
	// Size is the size of a file in bytes; 0 for a directory.
	Size int64 `json:"size"`
	// ModTime is the last modification time.
	ModTime time.Time `json:"modTime"`
	// Dir is true for a directory.
	Dir bool `json:"dir"`
}

// Opened is what Open found: a directory listing, an open regular file, or a
// node's record.
type Opened struct {
	// Entries lists a directory; nil for a file.
	Entries []Entry
	// File is the open file; the caller closes it. Nil for a directory and a node's record.
	File *os.File
	// Record is the content of a node's node.json as the store reads the record (Node), with the result
	// fields derived from result.json; nil otherwise.
	Record []byte
	// Info describes the open file, or the record: its size and its time, the later of node.json's and the
	// result's.
	Info fs.FileInfo
	// Name is the base name of the file.
	Name string
}

// IsDir reports whether Open found a directory.
func (o *Opened) IsDir() bool { return o.File == nil && o.Record == nil }

// recordInfo describes a node's record as Open serves it.
type recordInfo struct {
	fs.FileInfo
	size    int64
	modTime time.Time
}

func (i recordInfo) Size() int64        { return i.size }
func (i recordInfo) ModTime() time.Time { return i.modTime }

// nodeOfRecord returns the node whose record rel (relative to the root) is, if it is one: <run>/nodes/<node>/node.json.
func nodeOfRecord(runRel, rel string) (string, bool) {
	dir, name := filepath.Split(rel)
	if name != NodeRecordFileName {
		return "", false
	}
	return nodeOfDir(runRel, filepath.Clean(dir))
}

// nodeOfDir returns the node whose directory rel (relative to the root) is, if it is one: <run>/nodes/<node>.
func nodeOfDir(runRel, rel string) (string, bool) {
	parent, node := filepath.Split(rel)
	if filepath.Clean(parent) != filepath.Join(runRel, "nodes") || !validElement(node) {
		return "", false
	}
	return node, true
}

// HasRun reports whether the report directory of a run exists.
func (s *FileStore) HasRun(loc RunLocation) bool {
	runRel, err := loc.rel()
	if err != nil {
		return false
	}
	_, dir, err := s.lstatChain(runRel)
	return err == nil && dir
}

// Open opens rest (a slash-separated path, "" for the run directory itself)
// inside a run's report directory. Nothing outside the run's directory is
// reachable, and symbolic links are never followed or listed: they are
// ErrNotFound, as is anything missing; a path that leaves the directory is
// ErrInvalid.
func (s *FileStore) Open(loc RunLocation, rest string) (*Opened, error) {
	runRel, err := loc.rel()
	if err != nil {
		return nil, newError(ErrNotFound, nil, "no such report")
	}
	rel, err := s.readPath(runRel, rest)
	if err != nil {
		return nil, err
	}
	info, dir, err := s.lstatChain(rel)
	if err != nil {
		return nil, err
	}
	if dir {
		entries, err := s.list(rel)
		if err != nil {
			return nil, err
		}
		if node, ok := nodeOfDir(runRel, rel); ok {
			// A node's record is listed as it is served.
			for i := range entries {
				if entries[i].Name != NodeRecordFileName || entries[i].Dir {
					continue
				}
				data, at, ok, err := s.recordView(runRel, node, entries[i].ModTime)
				if err != nil {
					return nil, err
				}
				if ok {
					entries[i].Size, entries[i].ModTime = int64(len(data)), at.UTC()
				}
			}
		}
		return &Opened{Entries: entries}, nil
	}
	if node, ok := nodeOfRecord(runRel, rel); ok {
		data, at, ok, err := s.recordView(runRel, node, info.ModTime())
		if err != nil {
			return nil, err
		}
		if ok {
			return &Opened{Record: data, Info: recordInfo{FileInfo: info, size: int64(len(data)), modTime: at},
				Name: NodeRecordFileName}, nil
		}
	}
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, notFound()
	}
	opened, err := f.Stat()
	if err != nil || !os.SameFile(info, opened) {
		// Replaced between the checks and the open; do not serve what is there now.
		_ = f.Close()
		return nil, notFound()
	}
	return &Opened{File: f, Info: opened, Name: filepath.Base(rel)}, nil
}

func notFound() error {
	return newError(ErrNotFound, nil, "no such report file or directory")
}

// lstatChain checks every element of rel from the root down without following
// symbolic links. It returns the information of the last one, whether it is a
// directory, and ErrNotFound when an element is missing, a symbolic link, or
// neither a directory nor (the last one) a regular file.
func (s *FileStore) lstatChain(rel string) (fs.FileInfo, bool, error) {
	elems := strings.Split(filepath.ToSlash(rel), "/")
	var info fs.FileInfo
	for i := range elems {
		var err error
		info, err = s.root.Lstat(filepath.FromSlash(path.Join(elems[:i+1]...)))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
			return nil, false, notFound()
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading report path: %w", err)
		}
		last := i == len(elems)-1
		if !info.IsDir() && (!last || !info.Mode().IsRegular()) {
			return nil, false, notFound()
		}
	}
	return info, info.IsDir(), nil
}

// readPath joins a run directory and a path inside it and checks, after
// cleaning, that the result stays inside the run directory.
func (s *FileStore) readPath(runRel, rest string) (string, error) {
	if strings.ContainsAny(rest, "\\\x00") {
		return "", newError(ErrInvalid, nil, "invalid report path")
	}
	base := filepath.Clean(filepath.Join(s.dir, runRel))
	target := filepath.Clean(filepath.Join(base, filepath.FromSlash(rest)))
	rel, err := filepath.Rel(base, target)
	if err != nil || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", newError(ErrInvalid, nil, "invalid report path")
	}
	if rel == "." {
		return runRel, nil
	}
	return filepath.Join(runRel, rel), nil
}

// list returns the regular files and directories of a directory, by name.
func (s *FileStore) list(rel string) ([]Entry, error) {
	entries, err := fs.ReadDir(s.root.FS(), filepath.ToSlash(rel))
	if err != nil {
		return nil, fmt.Errorf("listing report directory: %w", err)
	}
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() && !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		entry := Entry{Name: e.Name(), ModTime: info.ModTime().UTC(), Dir: e.IsDir()}
		if !entry.Dir {
			entry.Size = info.Size()
		}
		out = append(out, entry)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
