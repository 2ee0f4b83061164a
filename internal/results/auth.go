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
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Extra fields of a TokenReview user that name the pod a token is bound to.
const (
	extraPodName = "authentication.kubernetes.io/pod-name"
	extraPodUID  = "authentication.kubernetes.io/pod-uid"
)

// maxTokenBytes bounds the bearer token; projected tokens are a few kilobytes.
const maxTokenBytes = 16 << 10

// Caller is who a request comes from, as proven by its token: a job pod on
// the routes of AuthPod families, any user on those of AuthUser families.
type Caller struct {
	// Namespace is the namespace of the pod and of its service account.
	Namespace string
	// PodName is the name of the pod the token is bound to.
	PodName string
	// PodUID is the UID of the pod the token is bound to.
	PodUID types.UID
	// ServiceAccount is the name of the pod's service account.
	ServiceAccount string
	// User is the authenticated user as the TokenReview answered it. It is set only for AuthUser families,
	// whose handlers authorise the user with a SubjectAccessReview (see Authorize); the pod fields are then
	// empty.
	User *authenticationv1.UserInfo
}

// String names the caller for logs.
func (c Caller) String() string {
	if c.User != nil {
		return c.User.Username
	}
	return c.Namespace + "/" + c.PodName
}

// limitKey names the caller in rate-limit keys.
func (c Caller) limitKey() string {
	if c.User != nil {
		return "user:" + c.User.Username
	}
	return "pod:" + string(c.PodUID)
}

// TokenReviewer creates TokenReviews. A controller-runtime client that writes
// to the API server (such as the manager's client) is one.
type TokenReviewer interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// authenticator checks bearer tokens with TokenReviews and remembers the
// answers for a short time, keyed by a SHA-256 of the token. A pod
// authenticator asks for the results audience and wants a token bound to a
// pod; a user authenticator asks for the API server's default audiences (an
// empty audience) and takes any authenticated user.
type authenticator struct {
	reviewer    TokenReviewer
	mode        AuthMode
	audience    string
	clock       clock.PassiveClock
	cache       *cache.LRUExpireCache
	ttl         time.Duration
	negativeTTL time.Duration
	// admit, when set, is asked before a token that is not in the cache is reviewed; its error is the answer.
	admit func(r *http.Request) error
}

// cachedReview is a remembered TokenReview outcome.
type cachedReview struct {
	caller Caller
	err    *Error
}

func newAuthenticator(reviewer TokenReviewer, mode AuthMode, audience string, clk clock.PassiveClock, size int,
	ttl, negativeTTL time.Duration) *authenticator {
	if mode == AuthUser {
		audience = ""
	}
	return &authenticator{
		reviewer:    reviewer,
		mode:        mode,
		audience:    audience,
		clock:       clk,
		cache:       cache.NewLRUExpireCacheWithClock(size, clk),
		ttl:         ttl,
		negativeTTL: negativeTTL,
	}
}

// authenticate returns the caller behind the request's bearer token. Every
// failure is 401, except an API server that cannot be reached, which is 503.
func (a *authenticator) authenticate(ctx context.Context, r *http.Request) (Caller, error) {
	token, err := bearerToken(r)
	if err != nil {
		return Caller{}, err
	}
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if v, ok := a.cache.Get(key); ok {
		c := v.(cachedReview)
		if c.err != nil {
			return Caller{}, c.err
		}
		return c.caller, nil
	}

	if a.admit != nil {
		if err := a.admit(r); err != nil {
			return Caller{}, err
		}
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if a.audience != "" {
		review.Spec.Audiences = []string{a.audience}
	}
	if err := a.reviewer.Create(ctx, review); err != nil {
		return Caller{}, FromAPIError(err, "token review is not available")
	}
	caller, rejected := a.callerOf(review.Status)
	if rejected != nil {
		if a.negativeTTL > 0 {
			a.cache.Add(key, cachedReview{err: rejected}, a.negativeTTL)
		}
		return Caller{}, rejected
	}
	if ttl := a.positiveTTL(token); ttl > 0 {
		a.cache.Add(key, cachedReview{caller: caller}, ttl)
	}
	return caller, nil
}

// callerOf checks an answered TokenReview. A pod caller must be
// authenticated, for our audience, a service account, and bound to a pod; a
// user caller must be authenticated and have a name.
func (a *authenticator) callerOf(st authenticationv1.TokenReviewStatus) (Caller, *Error) {
	if !st.Authenticated {
		return Caller{}, Unauthenticated("the token was rejected: invalid, expired, revoked or for another audience")
	}
	if a.mode == AuthUser {
		if st.User.Username == "" {
			return Caller{}, Unauthenticated("the token does not name a user")
		}
		return Caller{User: &st.User}, nil
	}
	if !slices.Contains(st.Audiences, a.audience) {
		return Caller{}, Unauthenticated("the token is not valid for audience %q", a.audience)
	}
	ns, sa, ok := splitServiceAccount(st.User.Username)
	if !ok {
		return Caller{}, Unauthenticated("the token does not belong to a service account")
	}
	name, uid := st.User.Extra[extraPodName], st.User.Extra[extraPodUID]
	if len(name) != 1 || len(uid) != 1 || name[0] == "" || uid[0] == "" {
		return Caller{}, Unauthenticated("the token is not bound to a pod")
	}
	return Caller{Namespace: ns, PodName: name[0], PodUID: types.UID(uid[0]), ServiceAccount: sa}, nil
}

// positiveTTL is how long an accepted token is remembered: the configured TTL,
// but never beyond half of the time the token has left.
func (a *authenticator) positiveTTL(token string) time.Duration {
	ttl := a.ttl
	if exp, ok := tokenExpiry(token); ok {
		ttl = min(ttl, exp.Sub(a.clock.Now())/2)
	}
	return ttl
}

// splitServiceAccount splits system:serviceaccount:<namespace>:<name>.
func splitServiceAccount(username string) (namespace, name string, ok bool) {
	rest, found := strings.CutPrefix(username, "system:serviceaccount:")
	if !found {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	if !ok || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return namespace, name, true
}

// bearerToken returns the token of the Authorization header.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", Unauthenticated("missing bearer token in the Authorization header")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", Unauthenticated("the Authorization header must be \"Bearer <token>\"")
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > maxTokenBytes || strings.ContainsAny(token, " \t") {
		return "", Unauthenticated("malformed bearer token")
	}
	return token, nil
}

// tokenExpiry reads the exp claim of a JWT without checking its signature. It
// is used only after the API server accepted the token, to keep the cache from
// outliving it.
func tokenExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}
