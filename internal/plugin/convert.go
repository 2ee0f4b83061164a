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
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	batchv1alpha1 "github.com/jobkeeper/jobkeeper/api/batch/v1alpha1"
)

// The keys of a batch-job-controller ConfigMap.
const (
	bakitoConfigKey      = "config.yaml"
	bakitoPodTemplateKey = "pod-template.yaml"
)

// maxRunsHistoryLimit is the largest history limit a NodeJob takes.
const maxRunsHistoryLimit = 100

// bakitoConfig is config.yaml of bakito's batch-job-controller.
type bakitoConfig struct {
	Name                       string                        `json:"name"`
	JobServiceAccount          string                        `json:"jobServiceAccount"`
	JobImagePullSecrets        []corev1.LocalObjectReference `json:"jobImagePullSecrets"`
	JobNodeSelector            map[string]string             `json:"jobNodeSelector"`
	RunOnUnscheduledNodes      bool                          `json:"runOnUnscheduledNodes"`
	CronExpression             string                        `json:"cronExpression"`
	ReportDirectory            string                        `json:"reportDirectory"`
	ReportHistory              *int32                        `json:"reportHistory"`
	PodPoolSize                *int32                        `json:"podPoolSize"`
	RunOnStartup               bool                          `json:"runOnStartup"`
	StartupDelay               string                        `json:"startupDelay"`
	CallbackServiceName        string                        `json:"callbackServiceName"`
	CallbackServicePort        *int32                        `json:"callbackServicePort"`
	Custom                     map[string]any                `json:"custom"`
	LatestMetricsLabel         bool                          `json:"latestMetricsLabel"`
	LeaderElectionResourceLock string                        `json:"leaderElectionResourceLock"`
	SavePodLog                 bool                          `json:"savePodLog"`
	Metrics                    struct {
		Prefix string `json:"prefix"`
		Gauges map[string]struct {
			Help   string   `json:"help"`
			Labels []string `json:"labels"`
		} `json:"gauges"`
	} `json:"metrics"`
}

func newConvertCommand(o *options) *cobra.Command {
	var (
		file   string
		name   string
		output string
	)
	cmd := &cobra.Command{
		Use:   "convert -f CONFIGMAP",
		Short: "Turn a batch-job-controller ConfigMap (config.yaml, pod-template.yaml) into a NodeJob",
		Long: `Read the ConfigMap of one bakito batch-job-controller (the keys config.yaml and pod-template.yaml) and print
the NodeJob that does the same, to review and apply. Settings that belong to the operator as a whole (report
directory, callback service, leader election) or have no counterpart are reported on standard error.`,
		Example: `  kubectl get configmap node-check -o yaml | kubectl jobkeeper convert -f - > nodejob.yaml
  kubectl jobkeeper convert -f node-check-configmap.yaml --name node-check | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				output = outputYAML
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			var in io.Reader = o.In
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer func() { _ = f.Close() }()
				in = f
			}
			data, err := io.ReadAll(in)
			if err != nil {
				return err
			}
			cm := &corev1.ConfigMap{}
			if err := yaml.UnmarshalStrict(data, cm); err != nil {
				return fmt.Errorf("reading the ConfigMap: %w", err)
			}
			nj, notes, err := convertBatchJobController(cm, name)
			if err != nil {
				return err
			}
			for _, n := range notes {
				if _, err := fmt.Fprintln(o.ErrOut, "note:", n); err != nil {
					return err
				}
			}
			return printStructured(o.Out, output, nj)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the ConfigMap as YAML or JSON; - reads standard input")
	cmd.Flags().StringVar(&name, "name", "", "name of the NodeJob (default: config.yaml's name, else the ConfigMap's)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: yaml (default) or json")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// convertBatchJobController maps the ConfigMap of a batch-job-controller to a NodeJob (docs/migration.md), and
// returns notes on what does not carry over.
func convertBatchJobController(cm *corev1.ConfigMap, name string) (*batchv1alpha1.NodeJob, []string, error) {
	rawConfig, ok := cm.Data[bakitoConfigKey]
	if !ok {
		return nil, nil, fmt.Errorf("ConfigMap %s has no %s", cm.Name, bakitoConfigKey)
	}
	rawTemplate, ok := cm.Data[bakitoPodTemplateKey]
	if !ok {
		return nil, nil, fmt.Errorf("ConfigMap %s has no %s", cm.Name, bakitoPodTemplateKey)
	}
	var cfg bakitoConfig
	if err := yaml.UnmarshalStrict([]byte(rawConfig), &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", bakitoConfigKey, err)
	}
	template, err := podTemplate(rawTemplate)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", bakitoPodTemplateKey, err)
	}

	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	nj := &batchv1alpha1.NodeJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: batchv1alpha1.GroupVersion.String(), Kind: "NodeJob"},
		ObjectMeta: metav1.ObjectMeta{Name: firstNonEmpty(name, cfg.Name, cm.Name), Namespace: cm.Namespace},
	}
	s := &nj.Spec
	s.Schedule = cfg.CronExpression
	if s.Schedule == "" {
		note("config.yaml has no cronExpression: the NodeJob runs only on request (annotation %s)",
			batchv1alpha1.NodeJobRunRequestAnnotation)
	} else {
		note("the schedule %q is read in UTC; set spec.timeZone if the controller ran in another time zone",
			s.Schedule)
	}
	if len(cfg.JobNodeSelector) > 0 {
		s.NodeSelector = &metav1.LabelSelector{MatchLabels: cfg.JobNodeSelector}
	}
	s.IncludeUnschedulable = cfg.RunOnUnscheduledNodes
	if cfg.PodPoolSize != nil {
		s.Parallelism = ptr.To(intstr.FromInt32(max(*cfg.PodPoolSize, 1)))
	}
	s.RunOnCreate = cfg.RunOnStartup
	if cfg.RunOnStartup && cfg.StartupDelay != "" {
		note("startupDelay %s is dropped: runOnCreate starts the first run at once", cfg.StartupDelay)
	}
	if cfg.ReportHistory != nil {
		limit := min(max(*cfg.ReportHistory, 0), maxRunsHistoryLimit)
		if limit != *cfg.ReportHistory {
			note("reportHistory %d is kept as %d runs, the most a NodeJob keeps", *cfg.ReportHistory, limit)
		}
		s.SuccessfulRunsHistoryLimit = ptr.To(limit)
		s.FailedRunsHistoryLimit = ptr.To(limit)
	}
	s.LatestMetricsLabel = cfg.LatestMetricsLabel
	s.SavePodLogs = cfg.SavePodLog
	s.Metrics.Prefix = cfg.Metrics.Prefix
	for suffix, g := range cfg.Metrics.Gauges {
		if s.Metrics.Gauges == nil {
			s.Metrics.Gauges = map[string]batchv1alpha1.NodeJobGauge{}
		}
		s.Metrics.Gauges[suffix] = batchv1alpha1.NodeJobGauge{Help: g.Help, Labels: g.Labels}
	}
	s.Template = template
	if cfg.JobServiceAccount != "" {
		s.Template.Spec.ServiceAccountName = cfg.JobServiceAccount
	}
	s.Template.Spec.ImagePullSecrets = append(s.Template.Spec.ImagePullSecrets, cfg.JobImagePullSecrets...)

	for field, set := range map[string]bool{
		"reportDirectory (the operator's --report-dir)":                        cfg.ReportDirectory != "",
		"callbackServiceName (job pods reach the Service jobkeeper-results)":   cfg.CallbackServiceName != "",
		"callbackServicePort (the results API's Service port is 443)":          cfg.CallbackServicePort != nil,
		"leaderElectionResourceLock (the operator elects its leader by Lease)": cfg.LeaderElectionResourceLock != "",
		"custom (no counterpart)":                                              len(cfg.Custom) > 0,
	} {
		if set {
			note("%s is dropped", field)
		}
	}
	note("job scripts must now send the token of $CALLBACK_SERVICE_TOKEN_FILE and trust $CALLBACK_SERVICE_CA_FILE " +
		"(HTTPS); see docs/results-api.md")
	return nj, sortedNotes(notes), nil
}

// podTemplate reads pod-template.yaml: a Pod manifest, a pod template (metadata and spec) or a bare pod spec.
func podTemplate(raw string) (corev1.PodTemplateSpec, error) {
	var probe map[string]any
	if err := yaml.Unmarshal([]byte(raw), &probe); err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	var t corev1.PodTemplateSpec
	if _, ok := probe["spec"]; ok {
		var pod struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Metadata   metav1.ObjectMeta `json:"metadata"`
			Spec       corev1.PodSpec    `json:"spec"`
			Status     *corev1.PodStatus `json:"status"`
		}
		if err := yaml.UnmarshalStrict([]byte(raw), &pod); err != nil {
			return t, err
		}
		if pod.Kind != "" && pod.Kind != "Pod" && pod.Kind != "PodTemplate" {
			return t, fmt.Errorf("kind %s: want a Pod, a pod template or a pod spec", pod.Kind)
		}
		// Only labels and annotations of the metadata carry over to the pods of a run.
		t.Labels, t.Annotations = pod.Metadata.Labels, pod.Metadata.Annotations
		t.Spec = pod.Spec
	} else if err := yaml.UnmarshalStrict([]byte(raw), &t.Spec); err != nil {
		return t, err
	}
	if len(t.Spec.Containers) == 0 {
		return t, fmt.Errorf("no containers")
	}
	return t, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// sortedNotes keeps the notes in a stable order (the dropped fields come from a map).
func sortedNotes(notes []string) []string {
	slices.Sort(notes)
	return notes
}
