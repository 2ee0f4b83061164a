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
	"context"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Shell completion: cobra's completion command prints the scripts (kubectl jobkeeper completion bash|zsh|fish|
// powershell); kubectl completes a plugin's arguments through an executable kubectl_complete-jobkeeper on $PATH that
// runs `kubectl jobkeeper __complete "$@"`. The functions below complete kinds, and names from the cluster.

// kindNameCommands are the commands that take KIND NAME, with the kinds each accepts.
var kindNameCommands = map[string][]kind{
	"run":     {kindQuarksJob},
	"rerun":   {kindReactiveJob},
	"trigger": {kindNodeJob},
	"runs":    {kindNodeJob, kindReactiveJob, kindQuarksJob},
	"why":     allKinds,
}

// addCompletions sets the argument completion of the root's subcommands.
func addCompletions(root *cobra.Command, o *options) {
	for _, cmd := range root.Commands() {
		if kinds, ok := kindNameCommands[cmd.Name()]; ok {
			cmd.ValidArgsFunction = completeKindName(o, kinds)
		}
		if cmd.Name() == "list" {
			cmd.ValidArgsFunction = completeKindList
		}
	}
}

// completeKindName completes KIND (the short name of each allowed kind) and then NAME from the cluster.
func completeKindName(o *options, kinds []kind) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			if kindArg, prefix, ok := strings.Cut(toComplete, "/"); ok {
				// KIND/NAME
				k, err := resolveKind(kindArg)
				if err != nil || !allowed(k, kinds) {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				var out []string
				for _, n := range o.names(cmd.Context(), k, prefix) {
					out = append(out, kindArg+"/"+n)
				}
				return out, cobra.ShellCompDirectiveNoFileComp
			}
			return kindNames(kinds, toComplete), cobra.ShellCompDirectiveNoFileComp
		case 1:
			k, err := resolveKind(args[0])
			if err != nil || !allowed(k, kinds) {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return o.names(cmd.Context(), k, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeKindList completes the last kind of a comma-separated list.
func completeKindList(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	done, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	var out []string
	for _, n := range kindNames(allKinds, last) {
		out = append(out, done+n)
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// kindNames returns the short names of kinds that start with prefix.
func kindNames(kinds []kind, prefix string) []string {
	var out []string
	for _, k := range kinds {
		if strings.HasPrefix(k.shortNames[0], prefix) {
			out = append(out, k.shortNames[0])
		}
	}
	return out
}

func allowed(k kind, kinds []kind) bool {
	for _, a := range kinds {
		if a.gvk == k.gvk {
			return true
		}
	}
	return false
}

// names lists the names of the objects of kind k in the namespace of the flags that start with prefix; nothing when
// the cluster cannot be reached (completion never fails).
func (o *options) names(ctx context.Context, k kind, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	c, ns, err := o.client()
	if err != nil {
		return nil
	}
	return namesOf(ctx, c, k, ns, prefix)
}

// namesOf lists the names of the objects of kind k in ns that start with prefix.
func namesOf(ctx context.Context, c client.Reader, k kind, ns, prefix string) []string {
	objs, err := listObjects(ctx, c, []kind{k}, ns, labels.Everything())
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range objs {
		if strings.HasPrefix(l.obj.GetName(), prefix) {
			out = append(out, l.obj.GetName())
		}
	}
	return out
}
