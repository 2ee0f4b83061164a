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

// Package client is the Go client of the jobkeeper results API for job pods:
// the QuarksJob output sidecar and NodeJob job programs. It presents the pod's
// projected token (read again before every attempt, since the kubelet rotates
// it), trusts only the CA bundle mounted next to it, and retries connection
// errors, 5xx answers and rate-limit 429s with exponential backoff, honouring
// Retry-After. It depends on the standard library (and the wire types) only.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// Defaults of Options.
const (
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	// DefaultMaxRetryAfter caps the wait a Retry-After asks for.
	DefaultMaxRetryAfter  = 5 * time.Minute
	DefaultAttemptTimeout = 2 * time.Minute
)

// Options configure a Client.
type Options struct {
	// BaseURL is the results API, e.g. https://jobkeeper-results.jobkeeper-system.svc:443. Paths passed to
	// the client are resolved against it; absolute URLs (such as CALLBACK_SERVICE_RESULT_URL) are used as
	// they are.
	BaseURL string
	// TokenFile is the projected token; wire.DefaultTokenFile when empty.
	TokenFile string
	// CAFile is the CA bundle of the results API; wire.DefaultCAFile when empty. It is read again when it
	// changes.
	CAFile string
	// HTTPClient replaces the client built from CAFile, e.g. in tests.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of one call; 0 retries until the context ends.
	MaxAttempts int
	// InitialBackoff is the first retry delay; DefaultInitialBackoff when 0. It doubles up to MaxBackoff.
	InitialBackoff time.Duration
	// MaxBackoff caps the retry delay; DefaultMaxBackoff when 0. A longer Retry-After is still honoured, up to
	// MaxRetryAfter.
	MaxBackoff time.Duration
	// MaxRetryAfter caps the wait that a Retry-After asks for; DefaultMaxRetryAfter when 0.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one attempt; DefaultAttemptTimeout when 0.
	AttemptTimeout time.Duration
	// RetryReasons are further 409 reasons to retry, e.g. wire.ReasonContainersRunning.
	RetryReasons []string
	// Sleep waits between attempts; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the results API.
type Client struct {
	opts Options
	base *url.URL

	mu     sync.Mutex
	caSum  [32]byte
	client *http.Client
}

// APIError is an error answer of the results API.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Body is the decoded error body; Reason is empty when the body was not JSON.
	Body wire.Error
	// RetryAfter is the Retry-After of the answer, if any.
	RetryAfter time.Duration
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Body.Reason == "" {
		return fmt.Sprintf("results API answered %d", e.Status)
	}
	return fmt.Sprintf("results API answered %d %s: %s", e.Status, e.Body.Reason, e.Body.Message)
}

// New creates a Client.
func New(opts Options) (*Client, error) {
	if opts.TokenFile == "" {
		opts.TokenFile = wire.DefaultTokenFile
	}
	if opts.CAFile == "" {
		opts.CAFile = wire.DefaultCAFile
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = DefaultInitialBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	c := &Client{opts: opts, client: opts.HTTPClient}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("results API URL %q must be an https URL", opts.BaseURL)
		}
		c.base = u
	}
	if c.client == nil {
		if _, err := c.httpClient(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Request is one call.
type Request struct {
	// Method is the HTTP method.
	Method string
	// URL is a path (resolved against Options.BaseURL) or an absolute https URL.
	URL string
	// Header holds extra headers, such as Content-Type.
	Header http.Header
	// Body returns a fresh body for each attempt; nil sends none.
	Body func() (io.ReadCloser, error)
}

// Do sends req, retrying connection errors, 500, 502, 503, 504, 429 (when the
// answer has a Retry-After) and the 409 reasons of Options.RetryReasons. A 2xx answer
// returns its status and body; any other answer returns an *APIError.
func (c *Client) Do(ctx context.Context, req Request) (int, []byte, error) {
	target, err := c.resolve(req.URL)
	if err != nil {
		return 0, nil, err
	}
	backoff := c.opts.InitialBackoff
	for attempt := 1; ; attempt++ {
		status, body, retryAfter, err := c.attempt(ctx, req, target)
		if err == nil {
			return status, body, nil
		}
		if !c.retryable(err) || (c.opts.MaxAttempts > 0 && attempt >= c.opts.MaxAttempts) || ctx.Err() != nil {
			return status, body, err
		}
		delay := jitter(backoff)
		if retryAfter > 0 {
			delay = min(retryAfter, c.opts.MaxRetryAfter)
		}
		if serr := c.opts.Sleep(ctx, delay); serr != nil {
			return status, body, fmt.Errorf("%w; last error: %w", serr, err)
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

func (c *Client) attempt(ctx context.Context, req Request, target string) (int, []byte, time.Duration, error) {
	token, err := os.ReadFile(c.opts.TokenFile)
	if err != nil {
		return 0, nil, 0, &retryError{fmt.Errorf("reading token: %w", err)}
	}
	hc, err := c.httpClient()
	if err != nil {
		return 0, nil, 0, &retryError{err}
	}
	actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	var body io.ReadCloser
	if req.Body != nil {
		if body, err = req.Body(); err != nil {
			return 0, nil, 0, err
		}
	}
	hr, err := http.NewRequestWithContext(actx, req.Method, target, body)
	if err != nil {
		if body != nil {
			_ = body.Close()
		}
		return 0, nil, 0, err
	}
	maps.Copy(hr.Header, req.Header)
	hr.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := hc.Do(hr)
	if err != nil {
		return 0, nil, 0, &retryError{err}
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, 0, &retryError{err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, data, 0, nil
	}
	apiErr := &APIError{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	if json.Unmarshal(data, &apiErr.Body) != nil {
		apiErr.Body = wire.Error{}
	}
	return resp.StatusCode, data, apiErr.RetryAfter, apiErr
}

// retryError marks a failure before an answer: connection errors, or a token
// or CA file that is not there yet.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func (c *Client) retryable(err error) bool {
	if _, ok := errors.AsType[*retryError](err); ok {
		return true
	}
	ae, ok := errors.AsType[*APIError](err)
	if !ok {
		return false
	}
	switch ae.Status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusTooManyRequests:
		// A 429 without Retry-After is a quota that does not refill, such as maxEventsPerNode.
		return ae.RetryAfter > 0
	case http.StatusConflict:
		return slices.Contains(c.opts.RetryReasons, ae.Body.Reason)
	}
	return false
}

// httpClient returns the HTTP client, rebuilt when the CA bundle has changed.
func (c *Client) httpClient() (*http.Client, error) {
	if c.opts.HTTPClient != nil {
		return c.opts.HTTPClient, nil
	}
	pem, err := os.ReadFile(c.opts.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA bundle: %w", err)
	}
	sum := sha256.Sum256(pem)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil && sum == c.caSum {
		return c.client, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in CA bundle %s", c.opts.CAFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if c.client != nil {
		c.client.CloseIdleConnections()
	}
	c.client, c.caSum = &http.Client{Transport: tr}, sum
	return c.client, nil
}

func (c *Client) resolve(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("invalid URL %q: %w", target, err)
	}
	if !u.IsAbs() {
		if c.base == nil {
			return "", fmt.Errorf("relative URL %q without a base URL", target)
		}
		u = c.base.ResolveReference(u)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("URL %q must use https", target)
	}
	return u.String(), nil
}

// PostJSON posts v as JSON and decodes a JSON answer into out (when not nil).
func (c *Client) PostJSON(ctx context.Context, target string, v, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, body, err := c.Do(ctx, Request{
		Method: http.MethodPost,
		URL:    target,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	})
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(body, out)
}

// PostFile uploads the file at path as one multipart/form-data part named by
// its base name, to a NodeJob file URL.
func (c *Client) PostFile(ctx context.Context, target, path string) (*wire.FilesResponse, error) {
	boundary := multipart.NewWriter(io.Discard).Boundary()
	name := filepath.Base(path)
	_, body, err := c.Do(ctx, Request{
		Method: http.MethodPost,
		URL:    target,
		Header: http.Header{"Content-Type": {"multipart/form-data; boundary=" + boundary}},
		Body: func() (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			pr, pw := io.Pipe()
			go func() {
				defer func() { _ = f.Close() }()
				mw := multipart.NewWriter(pw)
				_ = mw.SetBoundary(boundary)
				part, err := mw.CreateFormFile("file", name)
				if err == nil {
					_, err = io.Copy(part, f)
				}
				if err == nil {
					err = mw.Close()
				}
				pw.CloseWithError(err)
			}()
			return pr, nil
		},
	})
	if err != nil {
		return nil, err
	}
	var out wire.FilesResponse
	return &out, json.Unmarshal(body, &out)
}

// PostResult posts a NodeJob result to a result URL (CALLBACK_SERVICE_RESULT_URL).
func (c *Client) PostResult(ctx context.Context, target string, r wire.ResultRequest) (*wire.ResultResponse, error) {
	var out wire.ResultResponse
	return &out, c.PostJSON(ctx, target, r, &out)
}

// PostEvent posts a NodeJob event to an event URL (CALLBACK_SERVICE_EVENT_URL).
func (c *Client) PostEvent(ctx context.Context, target string, e wire.EventRequest) error {
	return c.PostJSON(ctx, target, e, nil)
}

// Wait calls the QuarksJob long poll once (with its retries) and returns the
// containers' outcome, or nil when the hold time ran out (204).
func (c *Client) Wait(ctx context.Context, hold time.Duration) (*wire.WaitResponse, error) {
	target := wire.QuarksJobWaitPath + "?timeout=" + strconv.Itoa(max(int(hold/time.Second), 1))
	status, body, err := c.Do(ctx, Request{Method: http.MethodGet, URL: target})
	if err != nil {
		return nil, err
	}
	if status == http.StatusNoContent {
		return nil, nil
	}
	var out wire.WaitResponse
	return &out, json.Unmarshal(body, &out)
}

// PostOutput uploads the output files of a QuarksJob pod.
func (c *Client) PostOutput(ctx context.Context, req wire.OutputRequest) (*wire.OutputResponse, error) {
	var out wire.OutputResponse
	return &out, c.PostJSON(ctx, wire.QuarksJobOutputPath, req, &out)
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// jitter spreads d over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
