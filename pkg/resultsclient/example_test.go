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

package resultsclient_test

import (
	"context"
	"errors"
	"log"
	"os"
	"time"

	"github.com/jobkeeper/jobkeeper/pkg/resultsclient"
)

// A NodeJob job program reports a gauge result for its node, uploads a file and emits an event.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	env := resultsclient.LookupNodeJobEnv()
	c, err := resultsclient.New(env.Options())
	if err != nil {
		log.Fatal(err)
	}

	// The NodeJob declares the gauge root_used_percent with the label mount.
	res, err := c.PostResult(ctx, env.ResultURL, resultsclient.ResultRequest{
		"root_used_percent": {{Value: 93, Labels: map[string]string{"mount": "/"}}},
	})
	var apiErr *resultsclient.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Body.Reason == resultsclient.ReasonRunFinished:
		log.Print("the run is over; nothing to report")
		return
	case err != nil:
		log.Fatal(err)
	}
	log.Printf("%d series accepted, %d ignored", res.Accepted, res.Ignored)

	if err := os.WriteFile("/tmp/df.txt", []byte("/ 93%\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	files, err := c.PostFile(ctx, env.FileURL, "/tmp/df.txt")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("stored %v", files.Files)

	if err := c.PostEvent(ctx, env.EventURL, resultsclient.EventRequest{
		Warning: true,
		Reason:  "DiskAlmostFull",
		Message: "disk %s is %s full",
		Args:    []string{"/", "93%"},
	}); err != nil {
		log.Fatal(err)
	}
}

// A QuarksJob output sidecar waits until the other containers have ended, then uploads their output files.
func ExampleClient_Wait() {
	ctx := context.Background()
	c, err := resultsclient.New(resultsclient.Options{
		BaseURL:      os.Getenv("RESULTS_API_URL"), // https://jobkeeper-results.<operator namespace>.svc:443
		RetryReasons: []string{resultsclient.ReasonContainersRunning},
	})
	if err != nil {
		log.Fatal(err)
	}
	var st *resultsclient.WaitResponse
	for st == nil { // nil: the hold time ran out; ask again
		if st, err = c.Wait(ctx, time.Minute); err != nil {
			log.Fatal(err)
		}
	}
	var files []resultsclient.OutputFile
	for _, f := range st.Files {
		data, err := os.ReadFile("/mnt/quarks/" + f.Container + "/" + f.File)
		if err != nil {
			files = append(files, resultsclient.MissingOutput(f.Container, f.File))
			continue
		}
		files = append(files, resultsclient.FileOutput(f.Container, f.File, data))
	}
	out, err := c.PostOutput(ctx, resultsclient.OutputRequest{Files: files})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote Secrets %v", out.Secrets)
}
