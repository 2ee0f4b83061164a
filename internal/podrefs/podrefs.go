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

// Package podrefs finds the ConfigMaps and Secrets a pod spec references and
// hashes their data. One extractor serves change detection, blocking on
// missing references, the watch index and the hash.
package podrefs

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"regexp"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Kind is the kind of a referenced object.
type Kind string

const (
	// ConfigMap is a referenced ConfigMap.
	ConfigMap Kind = "ConfigMap"
	// Secret is a referenced Secret.
	Secret Kind = "Secret"
)

// Ref is one referenced object. Optional is true only when every reference to
// the object is optional.
type Ref struct {
	Kind     Kind
	Name     string
	Optional bool
}

// References returns the ConfigMaps and Secrets that spec references through
// volumes (including projected sources), env and envFrom of containers and
// init containers, sorted by kind and name.
func References(spec *corev1.PodSpec) []Ref {
	refs := map[Ref]bool{} // key without Optional -> optional
	add := func(kind Kind, name string, optional *bool) {
		if name == "" {
			return
		}
		key := Ref{Kind: kind, Name: name}
		opt := optional != nil && *optional
		if prev, ok := refs[key]; ok {
			opt = opt && prev
		}
		refs[key] = opt
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			add(ConfigMap, v.ConfigMap.Name, v.ConfigMap.Optional)
		}
		if v.Secret != nil {
			add(Secret, v.Secret.SecretName, v.Secret.Optional)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add(ConfigMap, s.ConfigMap.Name, s.ConfigMap.Optional)
				}
				if s.Secret != nil {
					add(Secret, s.Secret.Name, s.Secret.Optional)
				}
			}
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			containerReferences(&cs[i], add)
		}
	}
	out := make([]Ref, 0, len(refs))
	for k, opt := range refs {
		k.Optional = opt
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Ref) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
	return out
}

// containerReferences reports the references of a container's env and envFrom.
func containerReferences(c *corev1.Container, add func(Kind, string, *bool)) {
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			add(ConfigMap, r.Name, r.Optional)
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			add(Secret, r.Name, r.Optional)
		}
	}
	for _, e := range c.EnvFrom {
		if r := e.ConfigMapRef; r != nil {
			add(ConfigMap, r.Name, r.Optional)
		}
		if r := e.SecretRef; r != nil {
			add(Secret, r.Name, r.Optional)
		}
	}
}

var versionedName = regexp.MustCompile(`^(.+)-v([0-9]+)$`)

// VersionedSeries returns the series prefix and version of a versioned Secret
// name `<prefix>-v<N>`.
func VersionedSeries(name string) (prefix string, version int, ok bool) {
	m := versionedName.FindStringSubmatch(name)
	if m == nil {
		return "", 0, false
	}
	v, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, false
	}
	return m[1], v, true
}

// RewriteSecretNames renames Secret references of spec in place.
func RewriteSecretNames(spec *corev1.PodSpec, rename map[string]string) {
	if len(rename) == 0 {
		return
	}
	r := func(name *string) {
		if n, ok := rename[*name]; ok {
			*name = n
		}
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if v.Secret != nil {
			r(&v.Secret.SecretName)
		}
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				if s := v.Projected.Sources[j].Secret; s != nil {
					r(&s.Name)
				}
			}
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			for j := range cs[i].Env {
				if vf := cs[i].Env[j].ValueFrom; vf != nil && vf.SecretKeyRef != nil {
					r(&vf.SecretKeyRef.Name)
				}
			}
			for j := range cs[i].EnvFrom {
				if s := cs[i].EnvFrom[j].SecretRef; s != nil {
					r(&s.Name)
				}
			}
		}
	}
}

// Resolved is the content of a reference at one moment.
type Resolved struct {
	Kind Kind
	// Name is the name of the object the reference resolved to.
	Name    string
	Present bool
	Data    map[string][]byte
}

// Hash returns the keyed hash (HMAC-SHA256) of resolved references, prefixed
// with the key's ID. Entries are hashed in kind and name order with their keys
// sorted, each field length-prefixed, so that no two inputs share an encoding.
func Hash(keyID string, key []byte, resolved []Resolved) string {
	rs := slices.Clone(resolved)
	slices.SortFunc(rs, func(a, b Resolved) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
	mac := hmac.New(sha256.New, key)
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		mac.Write(n[:])
		mac.Write(b)
	}
	for _, r := range rs {
		field([]byte(r.Kind))
		field([]byte(r.Name))
		field([]byte(strconv.FormatBool(r.Present)))
		keys := slices.Sorted(maps.Keys(r.Data))
		field([]byte(strconv.Itoa(len(keys))))
		for _, k := range keys {
			field([]byte(k))
			field(r.Data[k])
		}
	}
	return keyID + ":" + hex.EncodeToString(mac.Sum(nil))
}

// HashKeyID returns the key ID prefix of a hash.
func HashKeyID(hash string) string {
	for i := range len(hash) {
		if hash[i] == ':' {
			return hash[:i]
		}
	}
	return ""
}
