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
)

// bodyBudget bounds the bytes of the request bodies that handlers may hold in
// memory at once, across all requests: a weighted semaphore that never waits.
type bodyBudget struct {
	mu   sync.Mutex
	max  int64
	used int64
}

// reservation returns the bytes a request reserves on a route: its
// Content-Length, or the route's body limit when the length is unknown; never
// more than the whole budget, so that a request alone always fits.
func (b *bodyBudget) reservation(r *http.Request, rt *route) int64 {
	if rt.StreamsBody || b.max <= 0 {
		return 0
	}
	n := rt.MaxBodyBytes
	if r.ContentLength >= 0 {
		n = min(n, r.ContentLength)
	}
	return min(n, b.max)
}

// tryAcquire reserves n bytes, or returns false when they do not fit now.
func (b *bodyBudget) tryAcquire(n int64) bool {
	if n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// release gives back n reserved bytes.
func (b *bodyBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// limitListener accepts at most n connections at once; Accept waits while n
// are open, and the pending ones queue in the kernel's backlog.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when closed, once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
