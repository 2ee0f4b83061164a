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

package names

import (
	"crypto/sha256"
	"encoding/hex"
)

// NodeHash is the hash of a node name that names the node's pod and is the
// value of the node-hash label: the first 64 bits of its SHA-256 as 16
// lower-case hex digits. Unlike a 32-bit hash, it has no known collisions
// between node names, and none is expected among the nodes of one cluster;
// the run controller still refuses two nodes of one run whose pod names
// collide, and identifies a node's pod by its recorded UID and node annotation,
// never by its name alone.
func NodeHash(node string) string {
	sum := sha256.Sum256([]byte(node))
	return hex.EncodeToString(sum[:8])
}

// NodeJobPodName is the name of the pod of a NodeJob run on a node: <run>-<NodeHash(node)>.
func NodeJobPodName(run, node string) string {
	return run + "-" + NodeHash(node)
}
