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

// Package names sanitises strings into Kubernetes label values and object
// names the way quarks-utils did, so that output Secrets keep their names.
package names

import (
	"crypto/md5"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
)

// LabelValue turns a string into a valid label value: lower case, '_' becomes '-', every character
// outside [-a-z0-9] is dropped, and '-' is trimmed from both ends. A longer result than 63 characters is
// shortened as described at shortenWithHash.
func LabelValue(s string) string {
	return sanitize(s, false, content.LabelValueMaxLength)
}

// Subdomain turns a string into a valid Secret name: as LabelValue, but '.' is kept and
// trimmed from both ends, and the limit is 253 characters.
func Subdomain(s string) string {
	return sanitize(s, true, content.DNS1123SubdomainMaxLength)
}

func sanitize(s string, keepDots bool, maxLen int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == '_':
			b.WriteRune('-')
		case r == '.' && keepDots:
			b.WriteRune(r)
		}
	}
	cut := "-"
	if keepDots {
		cut = "-."
	}
	return shortenWithHash(strings.Trim(b.String(), cut), maxLen)
}

// shortenWithHash keeps a string of at most maxLen characters. A longer one keeps its first maxLen-33
// characters, followed by '-' and the 32 hex digits of the MD5 sum of the whole string. MD5 keeps the names
// equal to those of existing output Secrets; it protects nothing.
func shortenWithHash(s string, maxLen int) string {
	if len(s) <= maxLen {
		return s
	}
	sum := md5.Sum([]byte(s))
	return s[:maxLen-1-hex.EncodedLen(len(sum))] + "-" + hex.EncodeToString(sum[:])
}

// OutputVolume is the name of the emptyDir volume that holds a container's
// output files: the sanitised "output-<container>", a valid DNS label.
func OutputVolume(container string) string {
	return LabelValue("output-" + container)
}
