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
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/jobkeeper/jobkeeper/pkg/resultsclient"
)

// TestClientThroughPublicNames calls a stand-in results API with nothing but this package's names, as a program in
// another module does.
func TestClientThroughPublicNames(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer pod-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/report/node-1/202612061200/result":
			var req resultsclient.ResultRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req["root_used_percent"]) != 1 {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			_ = json.NewEncoder(w).Encode(resultsclient.ResultResponse{Accepted: 1})
		default:
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(resultsclient.Error{
				Code: http.StatusConflict, Reason: resultsclient.ReasonRunFinished, Message: "the run has finished",
			})
		}
	}))
	defer srv.Close()

	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("pod-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(resultsclient.EnvResultURL, srv.URL+"/report/node-1/202612061200/result")
	t.Setenv(resultsclient.EnvEventURL, srv.URL+"/report/node-1/202612061100/event")
	t.Setenv(resultsclient.EnvTokenFile, token)
	env := resultsclient.LookupNodeJobEnv()
	opts := env.Options()
	if opts.TokenFile != token {
		t.Fatalf("Options().TokenFile = %q, want %q", opts.TokenFile, token)
	}
	opts.HTTPClient = srv.Client()
	opts.MaxAttempts = 1
	c, err := resultsclient.New(opts)
	if err != nil {
		t.Fatal(err)
	}

	res, err := c.PostResult(context.Background(), env.ResultURL, resultsclient.ResultRequest{
		"root_used_percent": {{Value: 93, Labels: map[string]string{"mount": "/"}}},
	})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("PostResult = %+v, %v; want 1 accepted", res, err)
	}

	err = c.PostEvent(context.Background(), env.EventURL, resultsclient.EventRequest{Reason: "Late", Message: "x"})
	var apiErr *resultsclient.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict ||
		apiErr.Body.Reason != resultsclient.ReasonRunFinished {
		t.Fatalf("PostEvent to a finished run: %v, want an APIError 409 %s", err, resultsclient.ReasonRunFinished)
	}
}

func TestNodeJobEnvDefaults(t *testing.T) {
	for _, k := range []string{resultsclient.EnvTokenFile, resultsclient.EnvCAFile} {
		t.Setenv(k, "")
	}
	if o := resultsclient.LookupNodeJobEnv().Options(); o.TokenFile != "" || o.CAFile != "" {
		t.Errorf("Options() = %+v; unset variables must leave the files empty, so that New uses the defaults", o)
	}
	if resultsclient.DefaultTokenFile == "" || resultsclient.DefaultCAFile == "" {
		t.Error("the default token and CA files are empty")
	}
}
