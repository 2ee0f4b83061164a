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

package plugin

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// version is the plugin's version, set at build time:
//
//	go build -ldflags "-X github.com/jobkeeper/jobkeeper/internal/plugin.version=v0.1.0" ./cmd/kubectl-jobkeeper
//
// (make build does this with VERSION, by default from git describe). Plain go build and go install leave "dev".
var version = "dev"

// versionInfo is what `kubectl jobkeeper version -o json|yaml` prints.
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func currentVersion() versionInfo {
	return versionInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}

func newVersionCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of the plugin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			v := currentVersion()
			if output != "" {
				return printStructured(o.Out, output, v)
			}
			_, err := fmt.Fprintf(o.Out, "kubectl-jobkeeper %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
			return err
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
