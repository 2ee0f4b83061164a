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

// Command reporter is the job program of the NodeJob e2e scenarios: it reports
// to the results API the way a job script does, with the pod's projected
// token and the CALLBACK_SERVICE_*_URL variables, and fails when an answer is
// not the expected one. Each argument is one step:
//
//	result:<json>                    POST the body to CALLBACK_SERVICE_RESULT_URL, expect 200
//	file:<name>:<content>            POST the content as a file named <name>, expect 200
//	event:<json>                     POST the body to CALLBACK_SERVICE_EVENT_URL, expect 200
//	result-for:<node>:<code>:<json>  POST the body to the result URL of another node, expect <code>
//	results:<n>                      POST n results one after another, the i-th with the gauge test at value i
//	                                 (labels label_a="seq", label_b="n"), each retried until it is answered 200,
//	                                 and print "result <i>: 200" for each
//	scrape:<url>                     GET the URL with the pod's service-account token and print the body
//	                                 (the way Prometheus scrapes the manager's /metrics)
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jobkeeper/jobkeeper/internal/results/client"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "reporter:", err)
		os.Exit(1)
	}
}

func run(steps []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var c *client.Client
	for _, step := range steps {
		kind, rest, _ := strings.Cut(step, ":")
		if kind == "scrape" {
			if err := scrape(ctx, rest); err != nil {
				return err
			}
			continue
		}
		if c == nil {
			var err error
			if c, err = client.New(client.Options{MaxAttempts: 20}); err != nil {
				return err
			}
		}
		var code int
		var err error
		switch kind {
		case "result":
			code, err = post(ctx, c, os.Getenv("CALLBACK_SERVICE_RESULT_URL"), "application/json", nil, []byte(rest))
		case "event":
			code, err = post(ctx, c, os.Getenv("CALLBACK_SERVICE_EVENT_URL"), "application/json", nil, []byte(rest))
		case "file":
			name, content, _ := strings.Cut(rest, ":")
			code, err = post(ctx, c, os.Getenv("CALLBACK_SERVICE_FILE_URL"), "text/plain",
				http.Header{"Content-Disposition": {`attachment;filename="` + name + `"`}}, []byte(content))
		case "results":
			n, err := strconv.Atoi(rest)
			if err != nil {
				return fmt.Errorf("bad step %q", step)
			}
			for i := 1; i <= n; i++ {
				body := fmt.Sprintf(`{"test":[{"value":%d,"labels":{"label_a":"seq","label_b":"n"}}]}`, i)
				code, err := post(ctx, c, os.Getenv("CALLBACK_SERVICE_RESULT_URL"), "application/json", nil, []byte(body))
				if err != nil {
					return fmt.Errorf("result %d: %w", i, err)
				}
				fmt.Printf("result %d: %d\n", i, code)
			}
			continue
		case "result-for":
			parts := strings.SplitN(rest, ":", 3)
			if len(parts) != 3 {
				return fmt.Errorf("bad step %q", step)
			}
			want, _ := strconv.Atoi(parts[1])
			target := strings.Replace(os.Getenv("CALLBACK_SERVICE_RESULT_URL"), "/report/"+os.Getenv("NODE_NAME")+"/",
				"/report/"+parts[0]+"/", 1)
			code, err = post(ctx, c, target, "application/json", nil, []byte(parts[2]))
			if code == want {
				fmt.Printf("%s: %d as expected\n", kind, code)
				continue
			}
			return fmt.Errorf("%s: got %d (%v), want %d", kind, code, err, want)
		default:
			return fmt.Errorf("unknown step %q", step)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		fmt.Printf("%s: %d\n", kind, code)
	}
	return nil
}

// post sends one request and returns the status code of the answer.
func post(ctx context.Context, c *client.Client, target, contentType string, header http.Header, body []byte) (int, error) {
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", contentType)
	code, _, err := c.Do(ctx, client.Request{Method: http.MethodPost, URL: target, Header: header,
		Body: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }})
	if apiErr, ok := errors.AsType[*client.APIError](err); ok {
		return apiErr.Status, err
	}
	return code, err
}

// scrape prints the body of an HTTPS GET with the pod's service-account token. The manager's metrics
// certificate is not checked: the scenario checks what is served, not who serves it. A refused connection or an
// answer other than 200 is tried again for up to a minute: a Service's endpoints follow a new pod's readiness with a
// delay, so right after a manager restart the first connection can find no endpoint.
func scrape(ctx context.Context, target string) error {
	token, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/token")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	hc := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec
	}
	for {
		body, err := get(ctx, hc, target, strings.TrimSpace(string(token)))
		if err == nil {
			_, err = os.Stdout.Write(body)
			return err
		}
		fmt.Fprintln(os.Stderr, "reporter:", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// get returns the body of a GET of target answered 200.
func get(ctx context.Context, hc *http.Client, target, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
