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
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/utils/clock"
)

// rateLimiter keeps one token bucket per family and pod. A bucket holds one
// minute's worth of requests and refills at the per-minute rate, so a pod can
// send a burst of perMinute requests and then perMinute a minute.
type rateLimiter struct {
	mu      sync.Mutex
	clock   clock.PassiveClock
	buckets *cache.LRUExpireCache
}

func newRateLimiter(clk clock.PassiveClock, size int) *rateLimiter {
	return &rateLimiter{clock: clk, buckets: cache.NewLRUExpireCacheWithClock(size, clk)}
}

// allow takes one request from the bucket of key. When the bucket is empty it
// returns false and the time until the next request is allowed.
func (l *rateLimiter) allow(key string, perMinute int) (bool, time.Duration) {
	if perMinute <= 0 {
		return true, 0
	}
	return l.allowRate(key, rate.Limit(float64(perMinute)/60), perMinute)
}

// allowRate takes one request from the bucket of key, which holds burst
// requests and refills at perSecond.
func (l *rateLimiter) allowRate(key string, perSecond rate.Limit, burst int) (bool, time.Duration) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lim *rate.Limiter
	if v, ok := l.buckets.Get(key); ok {
		lim = v.(*rate.Limiter)
	} else {
		lim = rate.NewLimiter(perSecond, burst)
	}
	// Forget a bucket once it has been idle for longer than it takes to fill (and at least two minutes).
	full := 2 * time.Minute
	if perSecond > 0 {
		full = max(full, 2*time.Duration(float64(burst)/float64(perSecond)*float64(time.Second)))
	}
	l.buckets.Add(key, lim, full)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sourceKey names the source address of a request in rate-limit keys: its IP
// without the port.
func sourceKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "source:" + host
}
