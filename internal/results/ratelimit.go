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
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lim *rate.Limiter
	if v, ok := l.buckets.Get(key); ok {
		lim = v.(*rate.Limiter)
	} else {
		lim = rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
	}
	// An idle bucket is full again after a minute; forgetting it then changes nothing.
	l.buckets.Add(key, lim, 2*time.Minute)
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
