// Package faultproxy is a TCP proxy on 127.0.0.1 for tests and benchmarks:
// it cuts connections after a random number of bytes (a flaky WLAN, a
// laptop lid closed mid-upload) and can limit bandwidth (a practice's DSL
// line), between a real client and a real server.
package faultproxy

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

	"github.com/bildbote/bildbote/transfer/ratelimit"
)

// Options configure a Proxy.
type Options struct {
	// Cuts is how many connections to cut; after that the proxy passes
	// everything through. 0 cuts nothing.
	Cuts int
	// MinBytes, MaxBytes bound the random number of bytes (both directions
	// together) a connection carries before it is cut.
	MinBytes, MaxBytes int64
	// BytesPerSecond limits each direction's bandwidth over all
	// connections; 0 is unlimited.
	BytesPerSecond int64
	// Seed makes the cut points reproducible.
	Seed uint64
}

// Proxy forwards 127.0.0.1:port to a target address.
type Proxy struct {
	ln     net.Listener
	target string
	opt    Options

	mu   sync.Mutex
	rng  *rand.Rand
	left int

	up, down *ratelimit.Bucket
	cuts     atomic.Int64
	conns    sync.WaitGroup
	closing  chan struct{}
	active   map[net.Conn]struct{}
}

// New starts a proxy to target ("127.0.0.1:1234").
func New(target string, opt Options) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if opt.MaxBytes < opt.MinBytes {
		opt.MaxBytes = opt.MinBytes
	}
	p := &Proxy{ln: ln, target: target, opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)),
		left: opt.Cuts, up: ratelimit.New(opt.BytesPerSecond), down: ratelimit.New(opt.BytesPerSecond),
		closing: make(chan struct{}), active: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cuts is how many connections the proxy has cut so far.
func (p *Proxy) Cuts() int { return int(p.cuts.Load()) }

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	close(p.closing)
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.active {
		c.Close()
	}
	p.mu.Unlock()
	p.conns.Wait()
	return err
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		go func() {
			defer p.conns.Done()
			p.handle(c)
		}()
	}
}

// budget returns how many bytes the next connection may carry before it
// is cut, -1 for no cut. Every connection gets a budget while cuts are
// left; a cut is counted only when it happens (see takeCut), so a
// connection that closes early does not use one up.
func (p *Proxy) budget() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left <= 0 {
		return -1
	}
	return p.opt.MinBytes + p.rng.Int64N(p.opt.MaxBytes-p.opt.MinBytes+1)
}

// takeCut reports whether a cut may still happen, and counts it.
func (p *Proxy) takeCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left <= 0 {
		return false
	}
	p.left--
	p.cuts.Add(1)
	return true
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closing:
		return false
	default:
	}
	for _, c := range cs {
		p.active[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.active, c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		client.Close()
		server.Close()
		return
	}
	defer p.untrack(client, server)
	budget := p.budget()
	var used atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := func() {
		// An abortive close (RST), as when a network goes away.
		if tc, ok := client.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		if tc, ok := server.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		client.Close()
		server.Close()
		cancel()
	}
	var once sync.Once
	pipe := func(dst, src net.Conn, bucket *ratelimit.Bucket) {
		buf := make([]byte, 32<<10)
		r := bucket.Reader(ctx, src)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if budget >= 0 && used.Add(int64(n)) > budget && p.takeCut() {
					once.Do(cut)
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Half-close so the other direction can finish.
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	done := make(chan struct{}, 2)
	go func() { pipe(server, client, p.up); done <- struct{}{} }()
	go func() { pipe(client, server, p.down); done <- struct{}{} }()
	<-done
	<-done
	client.Close()
	server.Close()
}
