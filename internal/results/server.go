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

package results

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/jobkeeper/jobkeeper/internal/results/certs"
	"github.com/jobkeeper/jobkeeper/internal/results/wire"
)

// The results API verifies job pod tokens and reads the pod and its owners.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get

// Defaults of Options.
const (
	DefaultBindAddress   = ":8443"
	DefaultAudience      = "jobkeeper-results"
	DefaultServiceName   = "jobkeeper-results"
	DefaultTokenCacheTTL = 10 * time.Second
	// DefaultRejectedTokenCacheTTL is how long a rejected token is remembered, so that a pod that keeps
	// sending a bad token does not cause a TokenReview per request.
	DefaultRejectedTokenCacheTTL = 5 * time.Second
	DefaultTokenCacheSize        = 4096
	DefaultRateLimitCacheSize    = 16384
	// DefaultSourceReviewsPerSecond and DefaultSourceReviewBurst bound, per source IP, the requests whose
	// token is not in the cache, each of which costs a TokenReview.
	DefaultSourceReviewsPerSecond = 20
	DefaultSourceReviewBurst      = 40
	// DefaultMaxConnections bounds the connections open at once.
	DefaultMaxConnections = 1024
	// DefaultMaxInFlightBodyBytes bounds the request bodies handlers hold in memory at once.
	DefaultMaxInFlightBodyBytes = 64 << 20

	readHeaderTimeout = 5 * time.Second
	readTimeout       = 120 * time.Second
	// writeTimeout runs from the end of the request header, so it covers reading the body too.
	writeTimeout    = 5 * time.Minute
	idleTimeout     = 120 * time.Second
	shutdownTimeout = 10 * time.Second
	maxHeaderBytes  = 64 << 10
)

// Options configure the results API server.
type Options struct {
	// BindAddress is the address to listen on; DefaultBindAddress when empty. "127.0.0.1:0" picks a free port
	// (see Server.Addr).
	BindAddress string
	// Audience is the audience a token must have; DefaultAudience when empty.
	Audience string

	// CertDir holds the serving certificate (CertName, KeyName) and the CA bundle (CAName), as a
	// cert-manager TLS Secret does; the pair is reloaded when it changes. When empty, a CA and a certificate
	// for GeneratedCertHosts are generated into <temp>/jobkeeper-results/serving-certs, for local runs.
	CertDir string
	// CertName is the certificate file name; "tls.crt" when empty.
	CertName string
	// KeyName is the key file name; "tls.key" when empty.
	KeyName string
	// CAName is the CA bundle file name; "ca.crt" when empty.
	CAName string
	// GeneratedCertHosts are the names of a generated certificate; certs.ServiceHosts(DefaultServiceName,
	// ServiceNamespace) when empty.
	GeneratedCertHosts []string
	// ServiceNamespace is the namespace of the results Service, used for generated certificate names.
	ServiceNamespace string
	// EnableHTTP2 allows HTTP/2; only HTTP/1.1 is served otherwise.
	EnableHTTP2 bool
	// TLSOpts change the TLS configuration.
	TLSOpts []func(*tls.Config)

	// TokenCacheTTL is how long an accepted token is remembered (never beyond half its remaining lifetime);
	// DefaultTokenCacheTTL when zero, no caching when negative.
	TokenCacheTTL time.Duration
	// RejectedTokenCacheTTL is how long a rejected token is remembered; DefaultRejectedTokenCacheTTL when
	// zero, no caching when negative.
	RejectedTokenCacheTTL time.Duration
	// TokenCacheSize bounds the number of remembered tokens; DefaultTokenCacheSize when zero.
	TokenCacheSize int
	// RateLimitCacheSize bounds the number of pods with a rate-limit bucket; DefaultRateLimitCacheSize when zero.
	RateLimitCacheSize int
	// SourceReviewsPerSecond and SourceReviewBurst are the token bucket of each source IP for requests whose
	// token is not in the cache: such a request is answered 429 before its TokenReview when the bucket of its
	// source is empty. DefaultSourceReviewsPerSecond and DefaultSourceReviewBurst when zero; no limit when
	// SourceReviewsPerSecond is negative.
	SourceReviewsPerSecond float64
	SourceReviewBurst      int
	// MaxConnections bounds the connections open at once (more wait to be accepted); DefaultMaxConnections
	// when zero, no limit when negative.
	MaxConnections int
	// MaxInFlightBodyBytes bounds the bytes of request bodies that handlers hold at once, across all
	// requests (a route's body counts with its Content-Length, or its MaxBodyBytes when the length is
	// unknown; routes with StreamsBody do not count). A request that does not fit is answered 503 with
	// Retry-After. DefaultMaxInFlightBodyBytes when zero, no limit when negative.
	MaxInFlightBodyBytes int64

	// Families are the routes the server serves.
	Families []Family

	// Reviewer creates TokenReviews; Add uses the manager's client.
	Reviewer TokenReviewer
	// Elected is closed once this replica leads; Add uses the manager's Elected channel. A nil channel means
	// this replica always leads.
	Elected <-chan struct{}
	// Clock is the time source; the real clock when nil.
	Clock clock.Clock
	// Logger logs rejected requests and server errors; the controller-runtime logger named "results" when unset.
	Logger *logr.Logger
}

// Server is the HTTPS results API. It implements manager.Runnable and serves
// on every replica (NeedLeaderElection is false); families that need the
// leader set Family.LeaderOnly.
type Server struct {
	opts    Options
	log     logr.Logger
	certDir string
	watcher *certwatcher.CertWatcher
	routes  []*route
	auth    *authenticator
	users   *authenticator
	limiter *rateLimiter
	sources *rateLimiter
	bodies  *bodyBudget
	mu      sync.Mutex
	addr    string
	started bool
	elected <-chan struct{}
}

var (
	_ manager.Runnable               = (*Server)(nil)
	_ manager.LeaderElectionRunnable = (*Server)(nil)
)

// Add creates a Server with the manager's client and leader election, and adds
// it to the manager.
func Add(mgr manager.Manager, opts Options) (*Server, error) {
	if opts.Reviewer == nil {
		opts.Reviewer = mgr.GetClient()
	}
	if opts.Elected == nil {
		opts.Elected = mgr.Elected()
	}
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(s); err != nil {
		return nil, fmt.Errorf("adding results server: %w", err)
	}
	return s, nil
}

// New creates a Server. It prepares the certificate (generating one when
// Options.CertDir is empty) and compiles the routes; it listens only once started.
func New(opts Options) (*Server, error) {
	if opts.Reviewer == nil {
		return nil, errors.New("results server needs a TokenReviewer")
	}
	opts.BindAddress = cmp.Or(opts.BindAddress, DefaultBindAddress)
	opts.Audience = cmp.Or(opts.Audience, DefaultAudience)
	opts.CertName = cmp.Or(opts.CertName, certs.CertFile)
	opts.KeyName = cmp.Or(opts.KeyName, certs.KeyFile)
	opts.CAName = cmp.Or(opts.CAName, certs.CAFile)
	opts.TokenCacheTTL = cmp.Or(opts.TokenCacheTTL, DefaultTokenCacheTTL)
	opts.RejectedTokenCacheTTL = cmp.Or(opts.RejectedTokenCacheTTL, DefaultRejectedTokenCacheTTL)
	opts.TokenCacheSize = cmp.Or(opts.TokenCacheSize, DefaultTokenCacheSize)
	opts.RateLimitCacheSize = cmp.Or(opts.RateLimitCacheSize, DefaultRateLimitCacheSize)
	opts.SourceReviewsPerSecond = cmp.Or(opts.SourceReviewsPerSecond, DefaultSourceReviewsPerSecond)
	opts.SourceReviewBurst = cmp.Or(opts.SourceReviewBurst, DefaultSourceReviewBurst)
	opts.MaxConnections = cmp.Or(opts.MaxConnections, DefaultMaxConnections)
	opts.MaxInFlightBodyBytes = cmp.Or(opts.MaxInFlightBodyBytes, DefaultMaxInFlightBodyBytes)
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	s := &Server{opts: opts, elected: opts.Elected}
	if opts.Logger != nil {
		s.log = *opts.Logger
	} else {
		s.log = logf.Log.WithName("results")
	}

	for i := range opts.Families {
		f := &opts.Families[i]
		if f.Name == "" {
			return nil, errors.New("results family without a name")
		}
		for _, r := range f.Routes {
			c, err := compile(f, r)
			if err != nil {
				return nil, err
			}
			for _, o := range s.routes {
				if o.Method == c.Method && samePath(o, c) {
					return nil, fmt.Errorf("route %s %s is registered twice", c.Method, c.Path)
				}
			}
			s.routes = append(s.routes, c)
		}
	}

	s.certDir = opts.CertDir
	if s.certDir == "" {
		s.certDir = filepath.Join(os.TempDir(), "jobkeeper-results", "serving-certs")
		hosts := opts.GeneratedCertHosts
		if len(hosts) == 0 {
			hosts = certs.ServiceHosts(DefaultServiceName, opts.ServiceNamespace)
		}
		if err := certs.Ensure(s.certDir, hosts); err != nil {
			return nil, fmt.Errorf("generating results API certificate: %w", err)
		}
		s.opts.CertName, s.opts.KeyName, s.opts.CAName = certs.CertFile, certs.KeyFile, certs.CAFile
	}
	w, err := certwatcher.New(filepath.Join(s.certDir, s.opts.CertName), filepath.Join(s.certDir, s.opts.KeyName))
	if err != nil {
		return nil, fmt.Errorf("loading results API certificate: %w", err)
	}
	s.watcher = w

	s.auth = newAuthenticator(opts.Reviewer, AuthPod, opts.Audience, opts.Clock, opts.TokenCacheSize,
		opts.TokenCacheTTL, opts.RejectedTokenCacheTTL)
	s.users = newAuthenticator(opts.Reviewer, AuthUser, "", opts.Clock, opts.TokenCacheSize,
		opts.TokenCacheTTL, opts.RejectedTokenCacheTTL)
	s.limiter = newRateLimiter(opts.Clock, opts.RateLimitCacheSize)
	s.sources = newRateLimiter(opts.Clock, opts.RateLimitCacheSize)
	s.auth.admit, s.users.admit = s.admitReview, s.admitReview
	s.bodies = &bodyBudget{max: max(opts.MaxInFlightBodyBytes, 0)}
	return s, nil
}

// CAFile is the path of the CA bundle that signs the serving certificate, for
// publishing it to job pods.
func (s *Server) CAFile() string {
	return filepath.Join(s.certDir, s.opts.CAName)
}

// OnCertificateReload registers f to be called (from another goroutine) when the serving certificate has been
// reloaded from the certificate directory, and once now. A renewed CA comes with a new serving certificate, so
// this is when the CA bundle may have changed.
func (s *Server) OnCertificateReload(f func()) {
	s.watcher.RegisterCallback(func(tls.Certificate) { f() })
}

// Addr is the address the server listens on, or "" before it has started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// StartedChecker is a readiness check that passes once the server listens.
func (s *Server) StartedChecker() healthz.Checker {
	return func(_ *http.Request) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.started {
			return errors.New("results server has not started")
		}
		return nil
	}
}

// NeedLeaderElection is false: every replica serves, so that the Service can
// route to any of them and health checks do not depend on leadership.
func (s *Server) NeedLeaderElection() bool {
	return false
}

// Start serves until ctx ends, then shuts down gracefully.
func (s *Server) Start(ctx context.Context) error {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.watcher.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
	if s.opts.EnableHTTP2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	for _, o := range s.opts.TLSOpts {
		o(cfg)
	}
	wctx, stopWatcher := context.WithCancel(ctx)
	defer stopWatcher()
	go func() {
		if err := s.watcher.Start(wctx); err != nil {
			s.log.Error(err, "certificate watcher stopped")
		}
	}()

	ln, err := net.Listen("tcp", s.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("results server listening on %s: %w", s.opts.BindAddress, err)
	}
	if s.opts.MaxConnections > 0 {
		ln = newLimitListener(ln, s.opts.MaxConnections)
	}
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         cfg,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(logWriter{s.log.V(1)}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if !s.opts.EnableHTTP2 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}

	s.mu.Lock()
	s.addr, s.started = ln.Addr().String(), true
	s.mu.Unlock()
	s.log.Info("serving results API", "address", ln.Addr().String(), "audience", s.opts.Audience)

	errCh := make(chan error, 1)
	go func() { errCh <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errCh:
		return fmt.Errorf("results server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down results server: %w", err)
	}
	return nil
}

// ServeHTTP routes a request: unknown paths 404, wrong methods 405, then the
// leader check, authentication (a token not in the cache first takes from the
// bucket of its source IP), the rate limit, the body limit, the in-flight body
// budget and the route's handler. Every error is answered as JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")

	rt, params, allowed := s.lookup(r)
	if rt == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			s.writeError(w, r, nil, NewError(http.StatusMethodNotAllowed, wire.ReasonMethodNotAllowed,
				"method %s is not allowed; use %s", r.Method, strings.Join(allowed, " or ")))
			return
		}
		s.writeError(w, r, nil, NotFound("no such route"))
		return
	}
	code := s.serve(w, r, rt, params)
	if rt.family.Observe != nil {
		rt.family.Observe(code)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt *route, params map[string]string) int {
	if rt.family.LeaderOnly && !s.isLeader() {
		return s.writeError(w, r, rt, Unavailable(time.Second, "this replica is not the leader; retry"))
	}
	auth, who := s.auth, "pod"
	if rt.family.Auth == AuthUser {
		auth, who = s.users, "user"
	}
	var caller Caller
	var err error
	if rt.family.SourceIdentity != nil && rt.family.Auth == AuthPod && r.Header.Get("Authorization") == "" {
		caller, err = rt.family.SourceIdentity(r.Context(), r)
	} else {
		caller, err = auth.authenticate(r.Context(), r)
	}
	if err != nil {
		return s.writeError(w, r, rt, err)
	}
	logger := s.log.WithValues("family", rt.family.Name, "route", rt.Path, who, caller.String())
	if ok, wait := s.limiter.allow(rt.family.Name+"/"+caller.limitKey(), rt.family.RequestsPerMinute); !ok {
		return s.writeError(w, r, rt, TooManyRequests(wait,
			"more than %d requests a minute from %s %s", rt.family.RequestsPerMinute, who, caller))
	}
	if r.ContentLength > rt.MaxBodyBytes {
		return s.writeError(w, r, rt, TooLarge("request body of %d bytes exceeds the limit of %d bytes",
			r.ContentLength, rt.MaxBodyBytes))
	}
	r.Body = http.MaxBytesReader(w, r.Body, rt.MaxBodyBytes)
	reserved := s.bodies.reservation(r, rt)
	if !s.bodies.tryAcquire(reserved) {
		return s.writeError(w, r, rt, Unavailable(DefaultRetryAfter, "the results API is busy; retry"))
	}
	defer s.bodies.release(reserved)

	req := &Request{HTTP: r, Caller: caller, Family: rt.family.Name, Route: rt.Path, params: params}
	ctx := logf.IntoContext(r.Context(), logger)
	resp, err := rt.Handler.ServeResults(ctx, req)
	if err != nil {
		return s.writeError(w, r, rt, err)
	}
	if resp == nil {
		resp = &Response{}
	}
	status := cmp.Or(resp.Status, http.StatusOK)
	maps.Copy(w.Header(), resp.Header)
	if resp.Content != nil {
		return writeContent(w, r, status, resp, logger)
	}
	if resp.Body == nil {
		w.WriteHeader(status)
		return status
	}
	writeJSON(w, status, resp.Body)
	return status
}

// writeContent sends a response's Content as the body and closes it.
func writeContent(w http.ResponseWriter, r *http.Request, status int, resp *Response, logger logr.Logger) int {
	if c, ok := resp.Content.(io.Closer); ok {
		defer func() { _ = c.Close() }()
	}
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return status
	}
	if _, err := io.Copy(w, resp.Content); err != nil {
		// The status is sent; the client sees a short body.
		logger.V(1).Info("sending the response body failed", "error", err.Error())
	}
	return status
}

// lookup finds the route for the request. Without a match it returns the
// methods that the path allows, if any.
func (s *Server) lookup(r *http.Request) (*route, map[string]string, []string) {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		return nil, nil, nil
	}
	parts := strings.Split(p[1:], "/")
	var allowed []string
	for _, rt := range s.routes {
		params, ok := rt.match(parts)
		if !ok {
			continue
		}
		if rt.Method == r.Method {
			return rt, params, nil
		}
		allowed = append(allowed, rt.Method)
	}
	slices.Sort(allowed)
	return nil, nil, slices.Compact(allowed)
}

// admitReview is called before a token that is not in the cache is reviewed:
// each such request takes from the token bucket of its source IP, so that a
// stream of made-up tokens costs at most a bucket of TokenReviews.
func (s *Server) admitReview(r *http.Request) error {
	if s.opts.SourceReviewsPerSecond < 0 {
		return nil
	}
	ok, wait := s.sources.allowRate(sourceKey(r), rate.Limit(s.opts.SourceReviewsPerSecond), s.opts.SourceReviewBurst)
	if !ok {
		return TooManyRequests(wait, "too many requests with new tokens from this address")
	}
	return nil
}

func (s *Server) isLeader() bool {
	if s.elected == nil {
		return true
	}
	select {
	case <-s.elected:
		return true
	default:
		return false
	}
}

// writeError answers err as JSON and returns the status code. Errors that are
// not answers on purpose are logged; others are logged at debug level.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rt *route, err error) int {
	e, expected := asError(err)
	kv := []any{"method", r.Method, "path", r.URL.Path, "code", e.Code, "reason", e.Reason}
	if rt != nil {
		kv = append(kv, "family", rt.family.Name)
	}
	if expected {
		s.log.V(1).Info("request rejected", append(kv, "message", e.Message)...)
	} else {
		s.log.Error(err, "request failed", kv...)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	writeJSON(w, e.Code, e.Body())
	return e.Code
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal(wire.Error{Code: status, Reason: wire.ReasonInternalError, Message: "internal error"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// logWriter sends the net/http server's own messages (such as TLS handshake
// errors) to a logger.
type logWriter struct{ log logr.Logger }

func (l logWriter) Write(p []byte) (int, error) {
	l.log.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = logWriter{}
