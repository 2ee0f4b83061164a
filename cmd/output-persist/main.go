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

// Command output-persist is the sidecar that QuarksJob adds to job pods: it
// waits for the job's containers to end and hands the files they wrote under
// /mnt/quarks to the operator's results API.
//
// The sidecar is not built yet; until it is, the binary refuses to run so that
// a pod using it fails visibly instead of reporting success.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "output-persist: output persistence is not available in this build")
	os.Exit(2)
}
