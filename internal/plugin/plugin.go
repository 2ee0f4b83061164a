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

// Package plugin implements the kubectl plugin `kubectl jobkeeper`: it runs QuarksJob errands, asks ReactiveJobs and
// NodeJobs for one more run, lists the runs of all three kinds and explains why an object is not Ready.
package plugin

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
)

// NewScheme returns a scheme with the built-in types and the project's API types.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(quarksv1alpha1.AddToScheme(s))
	utilruntime.Must(batchv1alpha1.AddToScheme(s))
	return s
}

// options holds what every command needs: the connection flags, the streams and the clock.
type options struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
	clock  clock.Clock
	scheme *runtime.Scheme
}

// NewCommand returns the root command of the plugin, writing to streams.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return newCommand(streams, clock.RealClock{})
}

func newCommand(streams genericiooptions.IOStreams, clk clock.Clock) *cobra.Command {
	o := &options{
		configFlags: genericclioptions.NewConfigFlags(true),
		IOStreams:   streams,
		clock:       clk,
		scheme:      NewScheme(),
	}
	root := &cobra.Command{
		Use:   "kubectl-jobkeeper",
		Short: "Run, inspect and explain jobkeeper QuarksJobs, ReactiveJobs and NodeJobs",
		Long: `kubectl jobkeeper runs QuarksJob errands, asks ReactiveJobs and NodeJobs for one more run,
lists the runs of all three kinds and explains why an object is not Ready.
list shows the objects of the three kinds at once, convert turns a batch-job-controller ConfigMap
into a NodeJob, version prints the plugin's version.

KIND is a kind, plural or short name: quarksjob (qjob), reactivejob (rjob), nodejob (njob),
nodejobrun (njrun), optionally followed by the API group (qjob.quarks.cloudfoundry.org).
KIND NAME may also be written KIND/NAME.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl jobkeeper"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.configFlags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newRunCommand(o),
		newRerunCommand(o),
		newTriggerCommand(o),
		newRunsCommand(o),
		newWhyCommand(o),
		newListCommand(o),
		newVersionCommand(o),
		newConvertCommand(o),
	)
	addCompletions(root, o)
	root.Version = version
	root.SetVersionTemplate("kubectl-jobkeeper {{.Version}}\n")
	return root
}

// client returns a client for the cluster and namespace selected by the flags.
func (o *options) client() (client.WithWatch, string, error) {
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the namespace: %w", err)
	}
	cfg, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: o.scheme})
	if err != nil {
		return nil, "", fmt.Errorf("creating the client: %w", err)
	}
	return c, ns, nil
}
