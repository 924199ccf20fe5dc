// Package hostile has HTTP handlers that behave like a broken or hostile
// server, for tests of the clients' limits: real HTTP over loopback, each
// misbehaviour written out in Go.
package hostile

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Counter counts requests and bytes a handler sent.
type Counter struct {
	Requests atomic.Int64
	Bytes    atomic.Int64
}

// Endless answers 200 with a chunked body of zeros that never ends (until
// the client goes away).
func Endless(c *Counter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/zip")
		buf := make([]byte, 64<<10)
		fl, _ := w.(http.Flusher)
		for {
			n, err := w.Write(buf)
			c.Bytes.Add(int64(n))
			if err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}

// Short announces declared bytes but sends only sent and closes the
// connection, every time.
func Short(c *Counter, declared, sent int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		w.Header().Set("Content-Length", strconv.FormatInt(declared, 10))
		w.Header().Set("Content-Type", "application/zip")
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, sent)
		n, _ := w.Write(buf)
		c.Bytes.Add(int64(n))
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		hijackClose(w, false)
	}
}

// Drip announces size bytes and sends one byte every interval.
func Drip(c *Counter, size int64, interval time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		for i := int64(0); i < size; i++ {
			if _, err := w.Write([]byte{0}); err != nil {
				return
			}
			c.Bytes.Add(1)
			if fl != nil {
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
		}
	}
}

// Busy answers 503 with {"timeOutInSeconds": seconds} (and Retry-After).
func Busy(c *Counter, seconds int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", strconv.FormatInt(seconds, 10))
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"timeOutInSeconds": %d}`, seconds)
	}
}

// Loop redirects every request to another path of itself, forever.
func Loop(c *Counter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := c.Requests.Add(1)
		http.Redirect(w, r, fmt.Sprintf("/loop/%d", n), http.StatusFound)
	}
}

// RedirectTo answers with status and Location target+path (and query).
func RedirectTo(c *Counter, status int, target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		w.Header().Set("Location", target+r.URL.RequestURI())
		w.WriteHeader(status)
	}
}

// Reset reads the request and resets the connection (RST) without an
// answer.
func Reset(c *Counter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		hijackClose(w, true)
	}
}

// Status answers code with an optional JSON body.
func Status(c *Counter, code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

func hijackClose(w http.ResponseWriter, rst bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("hostile: ResponseWriter cannot hijack (HTTP/2?)")
	}
	conn, bw, err := hj.Hijack()
	if err != nil {
		return
	}
	bw.Flush()
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		tc.SetLinger(0)
	}
	conn.Close()
}

// Other returns the URL with 127.0.0.1 replaced by localhost: the same
// server on another origin.
func Other(u string) string {
	return replaceHost(u, "127.0.0.1", "localhost")
}

func replaceHost(u, from, to string) string {
	for i := 0; i+len(from) <= len(u); i++ {
		if u[i:i+len(from)] == from {
			return u[:i] + to + u[i+len(from):]
		}
	}
	return u
}

// PeakRSS is the process's peak resident set size (VmHWM) in bytes, 0
// where /proc is missing.
func PeakRSS() int64 { return procStatus("VmHWM:") }

// RSS is the current resident set size (VmRSS) in bytes.
func RSS() int64 { return procStatus("VmRSS:") }

// SlowReader reads the request body one byte every interval (a tus PATCH
// or STOW-RS POST that never ends). After limit bytes it drops the
// connection: the client's bytes wait in the socket buffer, so the
// handler would not see the client go away for hours.
func SlowReader(c *Counter, interval time.Duration, limit int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		b := make([]byte, 1)
		for i := 0; ; i++ {
			if i == limit {
				hijackClose(w, true)
				return
			}
			n, err := r.Body.Read(b)
			c.Bytes.Add(int64(n))
			if err != nil {
				break
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
