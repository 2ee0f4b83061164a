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
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
)

// RunMarkerFileName marks a directory as the report directory of a run; only
// marked directories are ever removed (NJ-24).
const RunMarkerFileName = ".run.json"

// logsDirName holds the saved pod logs of a node: nodes/<node>/logs/<container>.log.
const logsDirName = "logs"

// RunMarker is the content of a run's marker file.
type RunMarker struct {
	Namespace string    `json:"namespace"`
	NodeJob   string    `json:"nodejob"`
	Run       string    `json:"run"`
	UID       types.UID `json:"uid"`
}

// WriteRunMarker creates the run's directory with its marker file.
func (s *FileStore) WriteRunMarker(loc RunLocation, uid types.UID) error {
	runRel, err := loc.rel()
	if err != nil {
		return err
	}
	data, err := json.Marshal(RunMarker{Namespace: loc.Namespace, NodeJob: loc.NodeJob, Run: loc.Run, UID: uid})
	if err != nil {
		return err
	}
	if err := s.root.MkdirAll(runRel, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", runRel, err)
	}
	return s.replace(filepath.Join(runRel, RunMarkerFileName), data)
}

// replace writes data to rel through a temporary file.
func (s *FileStore) replace(rel string, data []byte) error {
	tmpRel, f, err := s.createTemp()
	if err != nil {
		return err
	}
	defer func() { _ = s.root.Remove(tmpRel) }()
	_, err = f.Write(data)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	if err := s.root.Rename(tmpRel, rel); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	if err := s.syncDir(filepath.Dir(rel)); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	return nil
}

// Markers returns the markers of every run directory under the root.
func (s *FileStore) Markers() ([]RunMarker, error) {
	paths, err := fs.Glob(s.root.FS(), "*/*/*/"+RunMarkerFileName)
	if err != nil {
		return nil, err
	}
	var out []RunMarker
	for _, p := range paths {
		data, err := s.root.ReadFile(p)
		if err != nil {
			continue
		}
		var m RunMarker
		dir := filepath.Dir(filepath.FromSlash(p))
		// A marker counts only where it says it is.
		if json.Unmarshal(data, &m) != nil || filepath.Join(m.Namespace, m.NodeJob, m.Run) != dir {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// RemoveOrphans removes the marked run directories for which keep returns false (NJ-24).
func (s *FileStore) RemoveOrphans(keep func(RunMarker) bool) (int, error) {
	markers, err := s.Markers()
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, m := range markers {
		if keep(m) {
			continue
		}
		if err := s.RemoveRun(RunLocation{Namespace: m.Namespace, NodeJob: m.NodeJob, Run: m.Run}); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// NodeFiles returns the number of files a node has stored and the bytes the run holds.
func (s *FileStore) NodeFiles(loc RunLocation, node string) (int, int64, error) {
	runRel, err := loc.rel()
	if err != nil {
		return 0, 0, err
	}
	u, err := s.usage(runRel)
	if err != nil {
		return 0, 0, err
	}
	defer u.mu.Unlock()
	return u.files[node], u.bytes, nil
}

// ReadResult returns the stored result body of a node; fs.ErrNotExist when there is none.
func (s *FileStore) ReadResult(loc RunLocation, node string) ([]byte, error) {
	runRel, err := loc.rel()
	if err != nil {
		return nil, err
	}
	dirRel, err := nodeRel(runRel, node)
	if err != nil {
		return nil, err
	}
	return s.root.ReadFile(filepath.Join(dirRel, ResultFileName))
}

// PutLog stores the log of a container of a node's pod as
// nodes/<node>/logs/<container>.log, replacing an earlier one (NJ-31).
func (s *FileStore) PutLog(loc RunLocation, node, container string, data []byte) error {
	runRel, err := loc.rel()
	if err != nil {
		return err
	}
	dirRel, err := nodeRel(runRel, node)
	if err != nil {
		return err
	}
	name, err := SanitizeFileName(container + ".log")
	if err != nil {
		return err
	}
	logsRel := filepath.Join(dirRel, logsDirName)
	finalRel, err := s.containedPath(logsRel, name)
	if err != nil {
		return err
	}
	u, err := s.usage(runRel)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	old, _, err := s.existingSize(finalRel)
	if err != nil {
		return err
	}
	if err := s.root.MkdirAll(logsRel, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", logsRel, err)
	}
	if err := s.replace(finalRel, data); err != nil {
		return err
	}
	u.bytes += int64(len(data)) - old
	return nil
}
