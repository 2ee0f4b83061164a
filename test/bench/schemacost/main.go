//go:build bench

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

// Command schemacost measures what the embedded Job and Pod template schemas of the CRDs cost kube-apiserver on
// every status write.
//
// For each kind whose status the operator writes (QuarksJob, ReactiveJob, NodeJobRun) it installs two copies of
// the shipped CRD on a local control plane (envtest: etcd and kube-apiserver, nothing else), each under a group of
// its own: "full" with the schema as shipped and "open" where the embedded template is
// {type: object, x-kubernetes-preserve-unknown-fields: true} (validation rules that reference the template are
// dropped and printed). It creates N objects of each with the template of the kind's sample in config/samples/,
// then merge-patches their status as the operator does, M writes per phase from 16 clients, the phases of a kind in
// the order full, open, open, full, full, open (SCHEMACOST_NORULES=1 adds a third variant "norules": the shipped
// schema without the rules that reference the template), and reads kube-apiserver's CPU time from
// /proc/<pid>/stat around each phase.
//
// Run it alone on the machine (the figures are CPU time of a shared machine):
//
//	go build -tags bench -o /tmp/schemacost ./test/bench/schemacost
//	flock /tmp/cluster.lock env KUBEBUILDER_ASSETS=$(hack/build-k8s.sh --print-dir) /tmp/schemacost
//
// SCHEMACOST_N (default 500) is the number of objects per variant, SCHEMACOST_M (default 3×N) the status writes per
// phase, SCHEMACOST_CLIENTS (default 16) the concurrent clients, SCHEMACOST_KINDS (e.g. QuarksJob,NodeJobRun)
// selects kinds, SCHEMACOST_TEMPLATE=rich adds to the samples' pod templates what production templates commonly
// carry (env, resources, volumes, security contexts), SCHEMACOST_MAX_OTHER (default 0.2) is the CPUs other
// processes may use during a phase before it is repeated, and SCHEMACOST_PROFILE=<dir> additionally takes a 10 s
// CPU profile of kube-apiserver while each variant's status writes run (an extra phase, not in the table) and prints
// which share of it the status update and the schema work take.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/pprof/profile"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/jobkeeper/jobkeeper/test/utils"
)

const (
	version   = "v1alpha1"
	namespace = "schemacost"
	// profileSeconds is the length of the optional kube-apiserver CPU profile.
	profileSeconds = 10
)

// variant is one of the CRDs installed per kind.
type variant struct {
	name  string // "full", "open" or "norules"
	group string
}

var (
	full = variant{name: "full", group: "full.schemacost.test"}
	open = variant{name: "open", group: "open.schemacost.test"}
	// norules keeps the template's schema and drops the validation rules that reference the template
	// (SCHEMACOST_NORULES=1).
	norules = variant{name: "norules", group: "norules.schemacost.test"}
	// variants are the variants measured; order is the order of the write phases of a kind: it cancels drift of the
	// machine.
	variants = []variant{full, open}
	order    = []variant{full, open, open, full, full, open}
)

// kind is a kind whose status the operator writes.
type kind struct {
	name string
	// crdFile is the shipped CRD in config/crd/bases.
	crdFile string
	// templateProp is the property of spec that embeds the Job or Pod template.
	templateProp string
	// spec returns the spec the objects are created with.
	spec func() (map[string]any, error)
	// podPath is the path of the pod spec in spec.
	podPath []string
	// status returns the status of the seq-th write of the object name.
	status func(name string, seq int64, now time.Time) map[string]any

	plural string
}

var kinds = []*kind{
	{
		name:         "QuarksJob",
		crdFile:      "quarks.cloudfoundry.org_quarksjobs.yaml",
		templateProp: "template",
		spec:         func() (map[string]any, error) { return sampleSpec("quarks_v1alpha1_quarksjob_once.yaml") },
		podPath:      []string{"template", "spec", "template", "spec"},
		status: func(name string, seq int64, now time.Time) map[string]any {
			ts := now.UTC().Format(time.RFC3339)
			return map[string]any{
				"conditions":         conditions(name, seq, now),
				"observedGeneration": 1,
				"completed":          false,
				"lastReconcile":      ts,
				"runCount":           1,
				"configHash":         fmt.Sprintf("%064x", seq),
				"lastRun": map[string]any{
					"name":       name + "-1",
					"result":     "Running",
					"trigger":    "once",
					"generation": 1,
					"specHash":   fmt.Sprintf("%064x", 1),
					"startTime":  ts,
				},
			}
		},
	},
	{
		name:         "ReactiveJob",
		crdFile:      "batch.cs.sap.com_reactivejobs.yaml",
		templateProp: "jobTemplate",
		spec:         func() (map[string]any, error) { return sampleSpec("batch_v1alpha1_reactivejob.yaml") },
		podPath:      []string{"jobTemplate", "spec", "template", "spec"},
		status: func(name string, seq int64, now time.Time) map[string]any {
			return map[string]any{
				"conditions":         conditions(name, seq, now),
				"observedGeneration": 1,
				"state":              "Processing",
				"currentJobName":     name + "-1",
				"active":             1,
				"startTime":          now.UTC().Format(time.RFC3339),
				"runCount":           1,
				"templateHash":       fmt.Sprintf("%016x", seq),
			}
		},
	},
	{
		name:         "NodeJobRun",
		crdFile:      "batch.cs.sap.com_nodejobruns.yaml",
		templateProp: "template",
		spec:         nodeJobRunSpec,
		podPath:      []string{"template", "spec"},
		status: func(name string, seq int64, now time.Time) map[string]any {
			return map[string]any{
				"conditions":         conditions(name, seq, now),
				"observedGeneration": 1,
				"phase":              "Running",
				"selected":           3,
				"desired":            3,
				"active":             2,
				"succeeded":          1,
				"reported":           1,
				"startTime":          now.UTC().Format(time.RFC3339),
				"message":            fmt.Sprintf("1 of 3 nodes succeeded (write %d)", seq),
			}
		},
	},
}

// conditions are Ready, Reconciling and Stalled as the operator writes them while a run is active; the message
// and the transition time vary, so that every write changes the object.
func conditions(name string, seq int64, now time.Time) []any {
	ts := now.UTC().Format(time.RFC3339)
	msg := fmt.Sprintf("Job %s-1 is running (write %d)", name, seq)
	return []any{
		map[string]any{"type": "Ready", "status": "False", "reason": "Running", "message": msg,
			"observedGeneration": 1, "lastTransitionTime": ts},
		map[string]any{"type": "Reconciling", "status": "True", "reason": "Running", "message": msg,
			"observedGeneration": 1, "lastTransitionTime": ts},
		map[string]any{"type": "Stalled", "status": "False", "reason": "Running", "message": "",
			"observedGeneration": 1, "lastTransitionTime": ts},
	}
}

func readYAML(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// sampleSpec is the spec of a sample of config/samples (the samples the install e2e applies).
func sampleSpec(file string) (map[string]any, error) {
	var obj map[string]any
	if err := readYAML(filepath.Join(utils.RepoRoot(), "config", "samples", file), &obj); err != nil {
		return nil, err
	}
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s has no spec", file)
	}
	return spec, nil
}

// nodeJobRunSpec is the spec of a run of the NodeJob sample: the run fields the NodeJob controller sets and the
// sample's fields a run copies (its template among them).
func nodeJobRunSpec() (map[string]any, error) {
	nj, err := sampleSpec("batch_v1alpha1_nodejob.yaml")
	if err != nil {
		return nil, err
	}
	crd, err := loadCRD("batch.cs.sap.com_nodejobruns.yaml")
	if err != nil {
		return nil, err
	}
	props := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties
	spec := map[string]any{
		"nodeJobName":   "nodejob-sample",
		"executionID":   "202601010000-0abcdef1",
		"scheduledTime": "2026-01-01T00:00:00Z",
		"trigger":       "Schedule",
	}
	for k, v := range nj {
		if _, ok := props[k]; ok {
			spec[k] = v
		}
	}
	return spec, nil
}

// enrich adds to the pod spec at path in spec what production templates commonly carry beyond the samples:
// resources, environment, mounts, probes' neighbours such as security contexts, volumes and tolerations.
func enrich(spec map[string]any, path []string) error {
	pod := spec
	for _, p := range path {
		next, ok := pod[p].(map[string]any)
		if !ok {
			return fmt.Errorf("no %s in the spec", strings.Join(path, "."))
		}
		pod = next
	}
	containers, ok := pod["containers"].([]any)
	if !ok {
		return fmt.Errorf("no containers in %s", strings.Join(path, "."))
	}
	for _, c := range containers {
		c := c.(map[string]any)
		env := []any{
			map[string]any{"name": "POD_NAME", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}},
			map[string]any{"name": "POD_NAMESPACE", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.namespace"}}},
			map[string]any{"name": "DB_PASSWORD", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "db", "key": "password"}}},
			map[string]any{"name": "MEMORY_LIMIT", "valueFrom": map[string]any{"resourceFieldRef": map[string]any{"resource": "limits.memory"}}},
		}
		for i := range 6 {
			env = append(env, map[string]any{"name": fmt.Sprintf("SETTING_%d", i), "value": fmt.Sprintf("value-%d", i)})
		}
		c["env"] = env
		c["envFrom"] = []any{map[string]any{"configMapRef": map[string]any{"name": "settings"}}}
		c["imagePullPolicy"] = "IfNotPresent"
		c["resources"] = map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
			"limits":   map[string]any{"cpu": "1", "memory": "512Mi"},
		}
		c["volumeMounts"] = []any{
			map[string]any{"name": "config", "mountPath": "/etc/config", "readOnly": true},
			map[string]any{"name": "credentials", "mountPath": "/var/run/credentials", "readOnly": true},
			map[string]any{"name": "scratch", "mountPath": "/tmp"},
		}
		c["securityContext"] = map[string]any{
			"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
			"capabilities": map[string]any{"drop": []any{"ALL"}},
		}
	}
	pod["volumes"] = []any{
		map[string]any{"name": "config", "configMap": map[string]any{"name": "settings"}},
		map[string]any{"name": "credentials", "secret": map[string]any{"secretName": "db"}},
		map[string]any{"name": "scratch", "emptyDir": map[string]any{"sizeLimit": "1Gi"}},
	}
	pod["securityContext"] = map[string]any{"runAsUser": int64(1000), "fsGroup": int64(1000), "seccompProfile": map[string]any{"type": "RuntimeDefault"}}
	pod["serviceAccountName"] = "job"
	pod["tolerations"] = []any{
		map[string]any{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
	}
	pod["priorityClassName"] = "batch-low"
	return nil
}

func loadCRD(file string) (*apiextensionsv1.CustomResourceDefinition, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := readYAML(filepath.Join(utils.CRDPaths()[0], file), crd); err != nil {
		return nil, err
	}
	if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != version {
		return nil, fmt.Errorf("%s: expected the single version %s", file, version)
	}
	return crd, nil
}

// mentions reports whether a validation rule references the property prop.
func mentions(r apiextensionsv1.ValidationRule, prop string) bool {
	for _, s := range []string{r.Rule, r.MessageExpression, r.FieldPath} {
		if strings.Contains(s, "."+prop) {
			return true
		}
	}
	return false
}

// variantCRD is the kind's CRD of variant v; dropped lists the validation rules the open variant leaves out because
// they reference the template.
func variantCRD(k *kind, v variant) (crd *apiextensionsv1.CustomResourceDefinition, dropped []string, err error) {
	crd, err = loadCRD(k.crdFile)
	if err != nil {
		return nil, nil, err
	}
	k.plural = crd.Spec.Names.Plural
	crd.Spec.Group = v.group
	crd.Name = crd.Spec.Names.Plural + "." + v.group
	crd.Spec.Names.ShortNames, crd.Spec.Names.Categories = nil, nil
	crd.Spec.Conversion = nil
	crd.Annotations = nil
	if v == full {
		return crd, nil, nil
	}
	root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	spec, ok := root.Properties["spec"]
	if !ok {
		return nil, nil, fmt.Errorf("%s: no spec", k.crdFile)
	}
	tmpl, ok := spec.Properties[k.templateProp]
	if !ok {
		return nil, nil, fmt.Errorf("%s: spec has no %s", k.crdFile, k.templateProp)
	}
	for _, r := range tmpl.XValidations {
		dropped = append(dropped, fmt.Sprintf("spec.%s: %s", k.templateProp, oneLine(r.Rule)))
	}
	if v == norules {
		tmpl.XValidations = nil
		spec.Properties[k.templateProp] = tmpl
	} else {
		spec.Properties[k.templateProp] = apiextensionsv1.JSONSchemaProps{
			Type: "object", XPreserveUnknownFields: new(true),
			Description: tmpl.Description,
		}
	}
	var kept apiextensionsv1.ValidationRules
	for _, r := range spec.XValidations {
		if mentions(r, k.templateProp) {
			dropped = append(dropped, "spec: "+oneLine(r.Rule))
			continue
		}
		kept = append(kept, r)
	}
	spec.XValidations = kept
	root.Properties["spec"] = spec
	kept = nil
	for _, r := range root.XValidations {
		if mentions(r, k.templateProp) {
			dropped = append(dropped, "(root): "+oneLine(r.Rule))
			continue
		}
		kept = append(kept, r)
	}
	root.XValidations = kept
	return crd, dropped, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func envInt(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			log.Fatalf("%s=%q: want a positive integer", name, s)
		}
		return n
	}
	return def
}

// apiServer is the envtest kube-apiserver process.
type apiServer struct {
	pid   int
	ticks float64 // clock ticks per second
}

// findAPIServer finds the kube-apiserver process that serves on port (its --secure-port) by a /proc scan.
func findAPIServer(port string) (*apiServer, error) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return nil, fmt.Errorf("getconf CLK_TCK: %w", err)
	}
	ticks, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || ticks <= 0 {
		return nil, fmt.Errorf("getconf CLK_TCK: %q", out)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		if slices.Contains(args, "--secure-port="+port) {
			pids = append(pids, pid)
		}
	}
	if len(pids) != 1 {
		return nil, fmt.Errorf("want one kube-apiserver with --secure-port=%s, found %v", port, pids)
	}
	return &apiServer{pid: pids[0], ticks: ticks}, nil
}

// cpu is the process's user and system CPU time.
func (a *apiServer) cpu() (time.Duration, error) { return procCPU(a.pid, a.ticks) }

// procStat are the fields of /proc/<pid>/stat after the command (which is in parentheses and may contain spaces):
// f[0] is the state (field 3), f[1] the parent (4), f[11] utime (14), f[12] stime (15).
func procStat(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return f, nil
}

// procCPU is the user and system CPU time of the process pid.
func procCPU(pid int, ticks float64) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration((utime + stime) / ticks * float64(time.Second)), nil
}

// machineBusy is the CPU time all processes of the machine used (the busy fields of the cpu line of /proc/stat).
func machineBusy(ticks float64) (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: %q", line)
	}
	var busy float64
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, err
		}
		busy += x
	}
	return time.Duration(busy / ticks * float64(time.Second)), nil
}

// childPID is the pid of this process's child named name (envtest starts etcd and kube-apiserver as children).
func childPID(name string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		if f, err := procStat(pid); err == nil && f[1] == self {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process %s", name)
}

// meter reads the CPU time of kube-apiserver, of etcd, of this process and of the whole machine; what the machine
// used beyond the three is other work, which makes a phase's figures suspect.
type meter struct {
	api      *apiServer
	etcdPID  int
	selfPID  int
	lastRead reading
}

type reading struct {
	at                    time.Time
	api, etcd, self, busy time.Duration
}

func (m *meter) read() (reading, error) {
	r := reading{at: time.Now()}
	var errs [4]error
	r.api, errs[0] = procCPU(m.api.pid, m.api.ticks)
	r.etcd, errs[1] = procCPU(m.etcdPID, m.api.ticks)
	r.self, errs[2] = procCPU(m.selfPID, m.api.ticks)
	r.busy, errs[3] = machineBusy(m.api.ticks)
	return r, errors.Join(errs[:]...)
}

// other is the CPUs (CPU seconds per second) other processes used between r0 and r1.
func other(r0, r1 reading) float64 {
	d := (r1.busy - r0.busy) - (r1.api - r0.api) - (r1.etcd - r0.etcd) - (r1.self - r0.self)
	return max(0, d.Seconds()/r1.at.Sub(r0.at).Seconds())
}

// quiet waits until other processes use less than limit CPUs over 3 s, or for at most a minute.
func (m *meter) quiet(limit float64) float64 {
	deadline := time.Now().Add(time.Minute)
	var o float64
	for time.Now().Before(deadline) {
		r0, err := m.read()
		if err != nil {
			return -1
		}
		time.Sleep(3 * time.Second)
		r1, err := m.read()
		if err != nil {
			return -1
		}
		if o = other(r0, r1); o < limit {
			break
		}
	}
	return o
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// bench is a run on one control plane.
type bench struct {
	cfg     *rest.Config
	dyn     dynamic.Interface
	api     *apiServer
	n, m    int
	clients int
	profDir string
	seq     atomic.Int64
	meter   *meter
	// maxOther is the CPUs other processes may use during a phase before it is repeated.
	maxOther float64
}

func (b *bench) gvr(k *kind, v variant) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: v.group, Version: version, Resource: k.plural}
}

func objName(k *kind, i int) string { return fmt.Sprintf("%s-%04d", strings.ToLower(k.name), i) }

// parallel runs f(0..count-1) from b.clients goroutines until count calls are done or, with count < 0, until stop
// is closed; it returns the calls made and the first error.
func (b *bench) parallel(ctx context.Context, count int, stop <-chan struct{}, f func(ctx context.Context, i int) error) (int, error) {
	var next, done atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range b.clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(next.Add(1) - 1)
				if count >= 0 && i >= count {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return int(done.Load()), first
}

func (b *bench) create(ctx context.Context, k *kind, v variant, spec map[string]any) error {
	res := b.dyn.Resource(b.gvr(k, v)).Namespace(namespace)
	_, err := b.parallel(ctx, b.n, nil, func(ctx context.Context, i int) error {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v.group + "/" + version,
			"kind":       k.name,
			"metadata":   map[string]any{"name": objName(k, i), "namespace": namespace},
			"spec":       runtimeDeepCopy(spec),
		}}
		_, err := res.Create(ctx, u, metav1.CreateOptions{})
		return err
	})
	return err
}

func runtimeDeepCopy(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}

// write merge-patches the status of the i-th object once.
func (b *bench) write(ctx context.Context, k *kind, v variant, i int) error {
	name := objName(k, i%b.n)
	seq := b.seq.Add(1)
	data, err := json.Marshal(map[string]any{"status": k.status(name, seq, time.Now())})
	if err != nil {
		return err
	}
	_, err = b.dyn.Resource(b.gvr(k, v)).Namespace(namespace).
		Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("status of %s %s/%s: %w", v.group, k.name, name, err)
	}
	return nil
}

// phase is one measured write phase.
type phase struct {
	writes int
	cpu    time.Duration
	wall   time.Duration
	// other is the CPUs other processes of the machine used during the phase.
	other float64
}

func (p phase) cpuPerWrite() float64 {
	return float64(p.cpu) / float64(time.Millisecond) / float64(p.writes)
}
func (p phase) rate() float64 { return float64(p.writes) / p.wall.Seconds() }

func (b *bench) phase(ctx context.Context, k *kind, v variant) (phase, error) {
	r0, err := b.meter.read()
	if err != nil {
		return phase{}, err
	}
	n, err := b.parallel(ctx, b.m, nil, func(ctx context.Context, i int) error { return b.write(ctx, k, v, i) })
	r1, rerr := b.meter.read()
	if err := errors.Join(err, rerr); err != nil {
		return phase{}, err
	}
	return phase{writes: n, cpu: r1.api - r0.api, wall: r1.at.Sub(r0.at), other: other(r0, r1)}, nil
}

// retries is how often a phase is repeated when other processes used more than maxOther CPUs during it.
const retries = 3

// cleanPhase is phase, repeated after the machine is quiet again when other processes used more than b.maxOther
// CPUs during it; after retries repetitions the last one counts (the table marks it).
func (b *bench) cleanPhase(ctx context.Context, k *kind, v variant) (phase, error) {
	for try := 0; ; try++ {
		p, err := b.phase(ctx, k, v)
		if err != nil {
			return phase{}, err
		}
		log.Printf("%s %s: %d writes in %v, kube-apiserver %v CPU (%.3f ms/write, %.0f writes/s), other processes %.2f CPUs",
			k.name, v.name, p.writes, p.wall.Round(time.Millisecond), p.cpu.Round(time.Millisecond), p.cpuPerWrite(), p.rate(), p.other)
		if p.other <= b.maxOther || try == retries {
			return p, nil
		}
		o := b.meter.quiet(b.maxOther)
		log.Printf("other processes used %.2f CPUs (limit %.2f); repeating the phase (machine now at %.2f)", p.other, b.maxOther, o)
	}
}

// profiled writes the status of v's objects while it takes a CPU profile of kube-apiserver, and returns the profile.
func (b *bench) profiled(ctx context.Context, k *kind, v variant) (*profile.Profile, phase, error) {
	hc, err := rest.HTTPClientFor(b.cfg)
	if err != nil {
		return nil, phase{}, err
	}
	stop := make(chan struct{})
	var writes int
	var werr error
	wdone := make(chan struct{})
	r0, err := b.meter.read()
	if err != nil {
		return nil, phase{}, err
	}
	go func() {
		defer close(wdone)
		writes, werr = b.parallel(ctx, -1, stop, func(ctx context.Context, i int) error { return b.write(ctx, k, v, i) })
	}()
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimRight(b.cfg.Host, "/"), profileSeconds)
	req, err := httpGet(ctx, url)
	if err != nil {
		return nil, phase{}, err
	}
	resp, err := hc.Do(req)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(data))
		}
	}
	close(stop)
	<-wdone
	r1, rerr := b.meter.read()
	if err := errors.Join(err, werr, rerr); err != nil {
		return nil, phase{}, err
	}
	path := filepath.Join(b.profDir, fmt.Sprintf("kube-apiserver-%s-%s.pprof", strings.ToLower(k.name), v.name))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, phase{}, err
	}
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, phase{}, fmt.Errorf("%s: %w", path, err)
	}
	log.Printf("profile of %s %s: %s", v.name, k.name, path)
	return p, phase{writes: writes, cpu: r1.api - r0.api, wall: r1.at.Sub(r0.at), other: other(r0, r1)}, nil
}

// category is a group of functions whose share of a profile is reported: a sample counts when any frame of its
// stack matches.
type category struct {
	short    string
	label    string
	patterns []string
}

var statusUpdate = "customresource.(*StatusREST).Update"

var categories = []category{
	{"StatusREST.Update", "customresource.(*StatusREST).Update", []string{statusUpdate}},
	{"coercion", "schema coercion of decoded objects (pruning, defaulting, metadata)", []string{
		"apiextensions-apiserver/pkg/apiserver.(*unstructuredSchemaCoercer)", "apiextensions-apiserver/pkg/apiserver.schemaCoercingDecoder",
		"apiextensions-apiserver/pkg/apiserver.(*schemaCoercingDecoder)", "apiextensions-apiserver/pkg/apiserver.unstructuredDefaulter",
		"apiextensions-apiserver/pkg/apiserver.(*unstructuredDefaulter)", "apiextensions-apiserver/pkg/apiserver/schema/pruning.",
		"apiextensions-apiserver/pkg/apiserver/schema/defaulting.", "apiextensions-apiserver/pkg/apiserver/schema/objectmeta."}},
	{"OpenAPI", "OpenAPI schema validation", []string{"kube-openapi/pkg/validation/", "apiextensions-apiserver/pkg/apiserver/validation."}},
	{"CEL", "CEL validation rules", []string{"apiextensions-apiserver/pkg/apiserver/schema/cel.", "github.com/google/cel-go/"}},
	{"managedFields", "managed fields (structured-merge-diff)", []string{"structured-merge-diff/", "managedfields"}},
	{"watchDecode", "decoding watch events (etcd3 watchChan)", []string{"etcd3.(*watchChan).transform"}},
	{"GC", "garbage collection", []string{"runtime.gcBgMarkWorker"}},
}

type share struct {
	label          string
	ofTotal, ofSUp float64
}

// shares are the categories' shares of the CPU profile p: of all its CPU, and of the CPU under the status update.
func shares(p *profile.Profile) []share {
	vi := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	var total, sup float64
	sums := make([]float64, len(categories))
	supSums := make([]float64, len(categories))
	for _, s := range p.Sample {
		v := float64(s.Value[vi])
		total += v
		matched := make([]bool, len(categories))
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				fn := line.Function.Name
				for ci, c := range categories {
					if matched[ci] {
						continue
					}
					for _, pat := range c.patterns {
						if strings.Contains(fn, pat) {
							matched[ci] = true
							break
						}
					}
				}
			}
		}
		if matched[0] {
			sup += v
		}
		for ci := range categories {
			if matched[ci] {
				sums[ci] += v
				if matched[0] {
					supSums[ci] += v
				}
			}
		}
	}
	out := make([]share, len(categories))
	for ci, c := range categories {
		out[ci].label = c.label
		if total > 0 {
			out[ci].ofTotal = sums[ci] / total
		}
		if sup > 0 {
			out[ci].ofSUp = supSums[ci] / sup
		}
	}
	return out
}

func phaseNames() string {
	var names []string
	for _, v := range order {
		names = append(names, v.name)
	}
	return strings.Join(names, ",")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func run(ctx context.Context) error {
	b := &bench{
		n:       envInt("SCHEMACOST_N", 500),
		clients: envInt("SCHEMACOST_CLIENTS", 16),
		profDir: os.Getenv("SCHEMACOST_PROFILE"),
	}
	b.m = envInt("SCHEMACOST_M", 3*b.n)
	var rich bool
	switch t := os.Getenv("SCHEMACOST_TEMPLATE"); t {
	case "", "sample":
	case "rich":
		rich = true
	default:
		return fmt.Errorf("SCHEMACOST_TEMPLATE=%q: want sample or rich", t)
	}
	specBytes := map[string]int{}
	b.maxOther = 0.2
	if s := os.Getenv("SCHEMACOST_MAX_OTHER"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("SCHEMACOST_MAX_OTHER=%q: want a positive number of CPUs", s)
		}
		b.maxOther = f
	}
	selected := kinds
	if s := os.Getenv("SCHEMACOST_KINDS"); s != "" {
		selected = nil
		for _, name := range strings.Split(s, ",") {
			i := slices.IndexFunc(kinds, func(k *kind) bool { return strings.EqualFold(k.name, strings.TrimSpace(name)) })
			if i < 0 {
				return fmt.Errorf("SCHEMACOST_KINDS: unknown kind %q", name)
			}
			selected = append(selected, kinds[i])
		}
	}
	if os.Getenv("SCHEMACOST_NORULES") == "1" {
		variants = []variant{full, open, norules}
		order = []variant{full, open, norules, norules, open, full, full, open, norules}
	}
	if b.profDir != "" {
		if err := os.MkdirAll(b.profDir, 0o755); err != nil {
			return err
		}
	}

	var crds []*apiextensionsv1.CustomResourceDefinition
	dropped := map[string][]string{}
	for _, k := range selected {
		for _, v := range variants {
			crd, d, err := variantCRD(k, v)
			if err != nil {
				return err
			}
			crds = append(crds, crd)
			if v == open {
				dropped[k.name] = d
			}
		}
	}
	assets, err := utils.EnvtestAssets()
	if err != nil {
		return err
	}
	env := &envtest.Environment{CRDs: crds, BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			log.Printf("stopping the control plane: %v", err)
		}
	}()
	cfg.QPS, cfg.Burst = -1, 0
	b.cfg = cfg
	if b.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	port := env.ControlPlane.APIServer.SecureServing.Port
	if b.api, err = findAPIServer(port); err != nil {
		return err
	}
	etcdPID, err := childPID("etcd")
	if err != nil {
		return err
	}
	b.meter = &meter{api: b.api, etcdPID: etcdPID, selfPID: os.Getpid()}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	serverVersion, err := cs.Discovery().ServerVersion()
	if err != nil {
		return err
	}

	// Objects of every kind and variant exist before any phase, and each has had its first status write, so that
	// every measured write is a steady-state update of an existing status.
	for _, k := range selected {
		spec, err := k.spec()
		if err != nil {
			return err
		}
		if rich {
			if err := enrich(spec, k.podPath); err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
		}
		if data, err := json.Marshal(spec); err == nil {
			specBytes[k.name] = len(data)
		}
		for _, v := range variants {
			log.Printf("creating %d %s of %s", b.n, k.name, v.group)
			if err := b.create(ctx, k, v, spec); err != nil {
				return fmt.Errorf("creating %s of %s: %w", k.name, v.group, err)
			}
			if _, err := b.parallel(ctx, b.n, nil, func(ctx context.Context, i int) error { return b.write(ctx, k, v, i) }); err != nil {
				return err
			}
		}
	}
	// The API server settles (OpenAPI aggregation of the new CRDs) before the first phase; idle is its CPU then.
	time.Sleep(5 * time.Second)
	r0, err := b.meter.read()
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	r1, err := b.meter.read()
	if err != nil {
		return err
	}
	idle := float64(r1.api-r0.api) / float64(time.Millisecond) / r1.at.Sub(r0.at).Seconds()
	idleOther := other(r0, r1)
	loadStart := loadavg()

	results := map[string]map[string][]phase{}
	for _, k := range selected {
		results[k.name] = map[string][]phase{}
		for _, v := range order {
			p, err := b.cleanPhase(ctx, k, v)
			if err != nil {
				return err
			}
			results[k.name][v.name] = append(results[k.name][v.name], p)
		}
	}
	loadEnd := loadavg()

	type profResult struct {
		kind, variant string
		ph            phase
		shares        []share
	}
	var profs []profResult
	if b.profDir != "" {
		for _, k := range selected {
			for _, v := range variants {
				if o := b.meter.quiet(b.maxOther); o > b.maxOther {
					log.Printf("other processes use %.2f CPUs; profiling anyway", o)
				}
				p, ph, err := b.profiled(ctx, k, v)
				if err != nil {
					return err
				}
				profs = append(profs, profResult{k.name, v.name, ph, shares(p)})
			}
		}
	}

	fmt.Printf("\nkube-apiserver CPU per status write (merge patch of status, %d objects per variant, %d writes per phase, "+
		"%d clients, phases %s)\n", b.n, b.m, b.clients, phaseNames())
	fmt.Printf("machine: %d CPUs, kube-apiserver %s, load average at start %s, at end %s; before the phases kube-apiserver "+
		"idled at %.1f ms CPU/s and other processes used %.2f CPUs\n",
		runtime.NumCPU(), serverVersion.GitVersion, loadStart, loadEnd, idle, idleOther)
	fmt.Printf("a phase during which other processes (not kube-apiserver, etcd or this program) used more than %.2f CPUs "+
		"(SCHEMACOST_MAX_OTHER) is repeated up to %d times; * marks a figure that kept one\n", b.maxOther, retries)
	fmt.Println("full: the CRD as shipped; open: the embedded template is {type: object, x-kubernetes-preserve-unknown-fields: true}")
	if len(variants) > 2 {
		fmt.Println("norules: the CRD as shipped without the validation rules that reference the template (those open drops)")
	}
	tmpl := "the template of the kind's sample in config/samples (SCHEMACOST_TEMPLATE=rich adds env, resources, volumes, security contexts)"
	if rich {
		tmpl = "the template of the kind's sample in config/samples with env, resources, volumes, security contexts " +
			"and tolerations added (SCHEMACOST_TEMPLATE=rich)"
	}
	var sizes []string
	for _, k := range selected {
		sizes = append(sizes, fmt.Sprintf("%s %d", k.name, specBytes[k.name]))
	}
	fmt.Printf("objects: %s; spec JSON bytes: %s\n", tmpl, strings.Join(sizes, ", "))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tvariant\tCPU ms/write median [min..max]\twrites/s median\tother CPUs max\tratio to full (CPU ms/write)")
	for _, k := range selected {
		var fullMed float64
		for _, v := range variants {
			ps := results[k.name][v.name]
			var cpus, rates []float64
			var maxOther float64
			for _, p := range ps {
				cpus = append(cpus, p.cpuPerWrite())
				rates = append(rates, p.rate())
				maxOther = max(maxOther, p.other)
			}
			mark := ""
			if maxOther > b.maxOther {
				mark = "*"
			}
			med := median(cpus)
			ratio := ""
			if v == full {
				fullMed = med
			} else if fullMed > 0 {
				ratio = fmt.Sprintf("%.2f", med/fullMed)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.3f [%.3f..%.3f]\t%.0f\t%.2f%s\t%s\n", k.name, v.name, med, slices.Min(cpus),
				slices.Max(cpus), median(rates), maxOther, mark, ratio)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, k := range selected {
		if d := dropped[k.name]; len(d) > 0 {
			fmt.Printf("%s open drops the validation rules that reference the template:\n", k.name)
			for _, r := range d {
				fmt.Printf("  - %s\n", r)
			}
		}
	}
	if len(profs) > 0 {
		fmt.Printf("\nkube-apiserver CPU profile, %d s per variant while status writes run (profiles in %s): CPU ms per "+
			"write of each group (share of all CPU / share of the CPU under StatusREST.Update); a sample counts in "+
			"every group on its stack, so the groups overlap:\n", profileSeconds, b.profDir)
		for _, c := range categories {
			fmt.Printf("  %-18s %s\n", c.short, c.label)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		header := "kind\tvariant\tother CPUs\tall CPU"
		for _, c := range categories {
			header += "\t" + c.short
		}
		fmt.Fprintln(tw, header)
		for _, pr := range profs {
			row := fmt.Sprintf("%s\t%s\t%.2f\t%.2f ms", pr.kind, pr.variant, pr.ph.other, pr.ph.cpuPerWrite())
			for ci, s := range pr.shares {
				ms := s.ofTotal * pr.ph.cpuPerWrite()
				if ci == 0 {
					row += fmt.Sprintf("\t%.2f (%.0f%%)", ms, 100*s.ofTotal)
				} else {
					row += fmt.Sprintf("\t%.2f (%.0f%%/%.0f%%)", ms, 100*s.ofTotal, 100*s.ofSUp)
				}
			}
			fmt.Fprintln(tw, row)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	log.SetFlags(log.Ltime)
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func httpGet(ctx context.Context, url string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
}
