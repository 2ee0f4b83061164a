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
// waits, through the long poll of the results API, until every user container
// of its pod has ended, reads each mapped file under /mnt/quarks/<container>/
// once, and posts them all in one request (quarksjob.md QJ-20, QJ-A7).
//
// It needs no Kubernetes API access. Exit codes: 0 when the output was
// accepted, 1 on a final error (the operator has recorded the reason), 2 when
// waiting or uploading took too long.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	quarksv1alpha1 "github.com/jobkeeper/jobkeeper/api/quarks/v1alpha1"
	"github.com/jobkeeper/jobkeeper/internal/results/client"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// Environment of the sidecar.
const (
	envNamespace = "NAMESPACE"
	envURL       = "RESULTS_API_URL"
	envTokenFile = "RESULTS_TOKEN_FILE"
	envCAFile    = "RESULTS_CA_FILE"
	envTimeout   = "PERSIST_OUTPUT_TIMEOUT"
)

// Limits and defaults.
const (
	// defaultWaitTimeout is the wait timeout when PERSIST_OUTPUT_TIMEOUT is unset.
	defaultWaitTimeout = 24 * time.Hour
	// uploadTimeout bounds the upload phase, which starts once the containers ended.
	uploadTimeout = 5 * time.Minute
	// holdTime is the hold time of one long poll.
	holdTime = 60 * time.Second
	// maxFileBytes is the largest file the results API accepts.
	maxFileBytes = 1 << 20
	// outputRoot is where the output volumes of the user containers are mounted.
	outputRoot = "/mnt/quarks"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1
	exitTimeout  = int(quarksv1alpha1.OutputPersistExitTimeout)
	exitRejected = int(quarksv1alpha1.OutputPersistExitRejected)
)

// persistCommand is the optional first argument the operator passes.
const persistCommand = "persist-output"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what the sidecar needs to run.
type config struct {
	root          string
	waitTimeout   time.Duration
	uploadTimeout time.Duration
	holdTime      time.Duration
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) > 1 || (len(args) == 1 && args[0] != persistCommand) {
		_, _ = fmt.Fprintf(stderr, "output-persist: usage: output-persist [%s]\n", persistCommand)
		return exitFailed
	}
	cfg := config{root: outputRoot, waitTimeout: defaultWaitTimeout, uploadTimeout: uploadTimeout, holdTime: holdTime}
	if v := getenv(envTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			_, _ = fmt.Fprintf(stderr, "output-persist: %s=%q is not a positive duration\n", envTimeout, v)
			return exitFailed
		}
		cfg.waitTimeout = d
	}
	c, err := client.New(client.Options{
		BaseURL:      getenv(envURL),
		TokenFile:    getenv(envTokenFile),
		CAFile:       getenv(envCAFile),
		RetryReasons: []string{wire.ReasonContainersRunning},
	})
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "output-persist: %v\n", err)
		return exitFailed
	}
	_, _ = fmt.Fprintf(stderr, "output-persist: waiting for the containers of the pod in namespace %s\n", getenv(envNamespace))
	return persist(ctx, cfg, c, stderr)
}

// persist waits for the user containers, then uploads their files.
func persist(ctx context.Context, cfg config, c *client.Client, stderr io.Writer) int {
	waitCtx, cancel := context.WithTimeout(ctx, cfg.waitTimeout)
	defer cancel()
	var ended *wire.WaitResponse
	for ended == nil {
		resp, err := c.Wait(waitCtx, cfg.holdTime)
		switch {
		case waitCtx.Err() != nil:
			_, _ = fmt.Fprintf(stderr, "output-persist: the containers did not end within %s\n", cfg.waitTimeout)
			return exitTimeout
		case err != nil:
			_, _ = fmt.Fprintf(stderr, "output-persist: waiting: %v\n", err)
			return exitFailed
		}
		ended = resp
	}

	uploadCtx, cancelUpload := context.WithTimeout(ctx, cfg.uploadTimeout)
	defer cancelUpload()
	req := wire.OutputRequest{Files: make([]wire.OutputFile, 0, len(ended.Files))}
	var tooLarge []wire.OutputFile
	for _, f := range ended.Files {
		file, large := readFile(cfg.root, f, stderr)
		req.Files = append(req.Files, file)
		if large {
			tooLarge = append(tooLarge, file)
		}
	}
	if len(tooLarge) > 0 {
		// An upload is all or nothing, and one file over the limit fails it (QJ-X18): send
		// only the first such file, so that the answer names it and the body stays small.
		_, _ = fmt.Fprintf(stderr, "output-persist: %d file(s) exceed %d bytes; the output cannot be persisted\n",
			len(tooLarge), maxFileBytes)
		req.Files = tooLarge[:1]
	}
	resp, err := c.PostOutput(uploadCtx, req)
	switch {
	case uploadCtx.Err() != nil && ctx.Err() == nil:
		_, _ = fmt.Fprintf(stderr, "output-persist: the upload did not finish within %s\n", cfg.uploadTimeout)
		return exitTimeout
	case err != nil:
		_, _ = fmt.Fprintf(stderr, "output-persist: uploading: %v\n", err)
		if apiErr, ok := errors.AsType[*client.APIError](err); ok && rejected(apiErr.Status) {
			// Rejected: the Job's podFailurePolicy fails the run without running the workload again.
			return exitRejected
		}
		return exitFailed
	}
	_, _ = fmt.Fprintf(stderr, "output-persist: persisted %d Secrets: %v\n", len(resp.Secrets), resp.Secrets)
	return exitOK
}

// readFile reads one mapped file once, without following symlinks. A file
// that is absent or not a regular file is reported missing. A file over the
// limit is read only to just past it and reported as too large; sent as it
// is, it makes the results API answer 413 and fail the run.
func readFile(root string, f wire.WaitFile, stderr io.Writer) (file wire.OutputFile, tooLarge bool) {
	if filepath.Base(f.File) != f.File || filepath.Base(f.Container) != f.Container {
		_, _ = fmt.Fprintf(stderr, "output-persist: container %s, file %s: not a plain name\n", f.Container, f.File)
		return wire.MissingOutput(f.Container, f.File), false
	}
	path := filepath.Join(root, f.Container, f.File)
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			_, _ = fmt.Fprintf(stderr, "output-persist: container %s, file %s: %v\n", f.Container, f.File, err)
		}
		return wire.MissingOutput(f.Container, f.File), false
	}
	defer func() { _ = fd.Close() }()
	if st, err := fd.Stat(); err != nil || !st.Mode().IsRegular() {
		_, _ = fmt.Fprintf(stderr, "output-persist: container %s, file %s: not a regular file\n", f.Container, f.File)
		return wire.MissingOutput(f.Container, f.File), false
	}
	data, err := io.ReadAll(io.LimitReader(fd, maxFileBytes+1))
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "output-persist: container %s, file %s: %v\n", f.Container, f.File, err)
		return wire.MissingOutput(f.Container, f.File), false
	}
	if len(data) > maxFileBytes {
		_, _ = fmt.Fprintf(stderr, "output-persist: container %s, file %s: file too large (more than %d bytes)\n",
			f.Container, f.File, maxFileBytes)
		return wire.FileOutput(f.Container, f.File, data), true
	}
	return wire.FileOutput(f.Container, f.File, data), false
}

// rejected reports whether an answer refuses the output for good: a 4xx other
// than 408 and 429, which ask to try again.
func rejected(status int) bool {
	return status >= 400 && status < 500 && status != 408 && status != 429
}
