package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// Defaults of Options.
const (
	DefaultMaxScript   = 1 << 20
	DefaultCallTimeout = 5 * time.Second
	DefaultCacheTTL    = 5 * time.Minute
	DefaultCacheMax    = 1024
	DefaultDNSTimeout  = 2 * time.Second
	DefaultMaxLookups  = 8
	DefaultMaxMemory   = 256 << 20
	maxCallStack       = 256
)

// Resolver is the DNS the PAC functions and WPAD use (*net.Resolver
// fits); tests inject their own.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Options bound and feed a PAC script; zero fields take the defaults.
type Options struct {
	MaxScript   int64         // bytes, default 1 MiB
	CallTimeout time.Duration // loading the script and each call, default 5 s
	CacheTTL    time.Duration // per scheme+host+port, default 5 min
	CacheMax    int           // entries, default 1024
	DNSTimeout  time.Duration // each look-up, default 2 s
	MaxLookups  int           // look-ups per call, default 8
	// MaxMemory is how much the Go heap may grow during one call before
	// it is interrupted (a script doubling a string fills gigabytes in
	// seconds), default 256 MiB; sampled every 2 ms.
	MaxMemory uint64
	Resolver  Resolver // default net.DefaultResolver
	// Now is the clock of weekdayRange, dateRange and timeRange (tests).
	Now func() time.Time
	// LocalAddrs lists this machine's addresses for myIpAddress (tests);
	// default: the addresses of the interfaces that are up.
	LocalAddrs func() []net.IP
}

func (o *Options) defaults() {
	if o.MaxScript <= 0 {
		o.MaxScript = DefaultMaxScript
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.CacheMax <= 0 {
		o.CacheMax = DefaultCacheMax
	}
	if o.DNSTimeout <= 0 {
		o.DNSTimeout = DefaultDNSTimeout
	}
	if o.MaxLookups <= 0 {
		o.MaxLookups = DefaultMaxLookups
	}
	if o.MaxMemory == 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LocalAddrs == nil {
		o.LocalAddrs = interfaceAddrs
	}
}

// Entry is one element of a PAC result: Kind "DIRECT", "PROXY", "HTTPS"
// or "SOCKS5", Addr host:port (empty for DIRECT).
type Entry struct {
	Kind string
	Addr string
}

// URL is the proxy URL of the entry, nil for DIRECT.
func (e Entry) URL() *url.URL {
	switch e.Kind {
	case "PROXY":
		return &url.URL{Scheme: "http", Host: e.Addr}
	case "HTTPS":
		return &url.URL{Scheme: "https", Host: e.Addr}
	case "SOCKS5":
		return &url.URL{Scheme: "socks5", Host: e.Addr}
	}
	return nil
}

func (e Entry) String() string {
	if e.Kind == "DIRECT" {
		return "DIRECT"
	}
	return e.Kind + " " + e.Addr
}

// PAC is a loaded PAC script. Its methods are safe for concurrent use
// (calls into the script are serialised: a goja runtime is single-threaded).
type PAC struct {
	o      Options
	source string // where the script came from, for errors

	mu    sync.Mutex
	vm    *goja.Runtime
	fn    goja.Callable
	call  callState
	cache map[string]cached
}

type cached struct {
	entries []Entry
	err     error
	until   time.Time
}

// callState bounds the DNS look-ups of the call running now.
type callState struct {
	deadline time.Time
	lookups  int
	dns      map[string][]string // this call's answers
}

// PACError: a PAC script that cannot be fetched, loaded or run, or whose
// answer is unusable. Op is "fetch", "status", "size", "compile",
// "load", "missing", "call", "timeout", "memory" or "result"; Source is the
// script's URL; Host the target being asked about (call, timeout,
// memory, result).
type PACError struct {
	Op, Source, Host string
	Status           int   // for "status"
	Limit            int64 // for "size"
	Err              error
}

func (e *PACError) Error() string {
	var what string
	switch e.Op {
	case "fetch":
		what = "cannot be fetched"
	case "status":
		what = fmt.Sprintf("answered HTTP %d", e.Status)
	case "size":
		what = fmt.Sprintf("is larger than %d bytes", e.Limit)
	case "compile":
		what = "is not valid JavaScript"
	case "load":
		what = "failed while loading"
	case "missing":
		what = "defines no function FindProxyForURL"
	case "call":
		what = "failed for " + e.Host
	case "memory":
		what = fmt.Sprintf("needed more than %d bytes of memory", e.Limit)
		if e.Host != "" {
			what += " for " + e.Host
		}
	case "timeout":
		if e.Host == "" {
			what = "did not finish loading in time"
		} else {
			what = "did not answer in time for " + e.Host
		}
	case "result":
		what = "gave no usable proxy for " + e.Host
	default:
		what = e.Op
	}
	s := "PAC file " + e.Source + " " + what
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap is the cause.
func (e *PACError) Unwrap() error { return e.Err }

// What an interrupt carries.
var (
	errInterrupted = errors.New("PAC script ran too long")
	errMemory      = errors.New("PAC script used too much memory")
)

// CompilePAC loads a PAC script: size checked, compiled, run once (its
// top level, bounded by CallTimeout), FindProxyForURLEx or
// FindProxyForURL looked up. source names it in errors (its URL).
func CompilePAC(source string, script []byte, o Options) (*PAC, error) {
	o.defaults()
	if int64(len(script)) > o.MaxScript {
		return nil, &PACError{Op: "size", Source: source, Limit: o.MaxScript}
	}
	prog, err := goja.Compile(source, string(script), false)
	if err != nil {
		return nil, &PACError{Op: "compile", Source: source, Err: errors.New(firstLine(err.Error()))}
	}
	p := &PAC{o: o, source: source, vm: goja.New(), cache: map[string]cached{}}
	p.vm.SetMaxCallStackSize(maxCallStack)
	p.install()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.bounded(func() error { _, err := p.vm.RunProgram(prog); return err }); err != nil {
		return nil, p.jsError("load", "", err)
	}
	for _, name := range []string{"FindProxyForURLEx", "FindProxyForURL"} {
		if fn, ok := goja.AssertFunction(p.vm.Get(name)); ok {
			p.fn = fn
			break
		}
	}
	if p.fn == nil {
		return nil, &PACError{Op: "missing", Source: source}
	}
	return p, nil
}

// Source is where the script came from.
func (p *PAC) Source() string { return p.source }

// bounded runs f with the call's deadline and memory budget armed
// (p.mu held). One watchdog interrupts the runtime; it has ended before
// the interrupt is cleared, so a late one cannot hit the next call.
func (p *PAC) bounded(f func() error) error {
	p.call = callState{deadline: time.Now().Add(p.o.CallTimeout), dns: map[string][]string{}}
	stop, done := make(chan struct{}), make(chan struct{})
	go p.watch(stop, done)
	err := f()
	close(stop)
	<-done
	p.vm.ClearInterrupt()
	return err
}

// watch interrupts the runtime at the deadline or when the heap grows by
// more than MaxMemory (sampled every 2 ms, from the first 2 ms on).
func (p *PAC) watch(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	deadline := time.NewTimer(p.o.CallTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var base uint64
	for {
		select {
		case <-stop:
			return
		case <-deadline.C:
			p.vm.Interrupt(errInterrupted)
			return
		case <-tick.C:
			h := heapBytes()
			if base == 0 {
				base = h
			} else if h > base+p.o.MaxMemory {
				p.vm.Interrupt(errMemory)
				return
			}
		}
	}
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
var heapMu sync.Mutex

// heapBytes is the Go heap's live and not yet swept objects.
func heapBytes() uint64 {
	heapMu.Lock()
	defer heapMu.Unlock()
	metrics.Read(heapSample)
	if heapSample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return heapSample[0].Value.Uint64()
}

// jsError maps a goja error to a *PACError.
func (p *PAC) jsError(op, host string, err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		if ie.Value() == errMemory {
			return &PACError{Op: "memory", Source: p.source, Host: host, Limit: int64(p.o.MaxMemory), Err: errMemory}
		}
		return &PACError{Op: "timeout", Source: p.source, Host: host, Err: errInterrupted}
	}
	var se *goja.StackOverflowError
	if errors.As(err, &se) {
		return &PACError{Op: op, Source: p.source, Host: host, Err: errors.New("call stack too deep")}
	}
	return &PACError{Op: op, Source: p.source, Host: host, Err: errors.New(firstLine(err.Error()))}
}

// FindProxy asks the script for the way to u: the entries in order.
// Only scheme, host and port reach the script. A failure is a
// *PACError; callers decide the fallback (see the package doc).
func (p *PAC) FindProxy(u *url.URL) ([]Entry, error) {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return nil, &PACError{Op: "result", Source: p.source, Err: errors.New("URL without host")}
	}
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if port := u.Port(); port != "" {
		hostport += ":" + port
	}
	stripped := scheme + "://" + hostport + "/"
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cache[stripped]; ok && now.Before(c.until) {
		return c.entries, c.err
	}
	var res goja.Value
	err := p.bounded(func() error {
		var err error
		res, err = p.fn(goja.Undefined(), p.vm.ToValue(stripped), p.vm.ToValue(host))
		return err
	})
	var entries []Entry
	if err != nil {
		err = p.jsError("call", host, err)
	} else if entries, err = ParseResult(res.String()); err != nil {
		err = &PACError{Op: "result", Source: p.source, Host: host, Err: err}
	}
	if len(p.cache) >= p.o.CacheMax {
		for k, c := range p.cache {
			if !now.Before(c.until) {
				delete(p.cache, k)
			}
		}
		if len(p.cache) >= p.o.CacheMax {
			p.cache = map[string]cached{}
		}
	}
	p.cache[stripped] = cached{entries: entries, err: err, until: time.Now().Add(p.o.CacheTTL)}
	return entries, err
}

// ParseResult parses a PAC answer ("PROXY a:8080; HTTPS b:443; DIRECT").
// Entries Go cannot use (SOCKS4, unknown kinds, addresses that do not
// parse) are skipped; an answer without a usable entry is an error. A
// missing port is the kind's default (80, 443, 1080).
func ParseResult(s string) ([]Entry, error) {
	var out []Entry
	var skipped []string
	for _, part := range strings.Split(s, ";") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		kind := strings.ToUpper(f[0])
		if kind == "DIRECT" && len(f) == 1 {
			out = append(out, Entry{Kind: "DIRECT"})
			continue
		}
		def := map[string]string{"PROXY": "80", "HTTP": "80", "HTTPS": "443", "SOCKS5": "1080"}[kind]
		if def == "" || len(f) != 2 {
			skipped = append(skipped, strings.TrimSpace(part))
			continue
		}
		if kind == "HTTP" {
			kind = "PROXY"
		}
		addr, ok := hostPort(f[1], def)
		if !ok {
			skipped = append(skipped, strings.TrimSpace(part))
			continue
		}
		out = append(out, Entry{Kind: kind, Addr: addr})
	}
	if len(out) == 0 {
		if len(skipped) > 0 {
			return nil, fmt.Errorf("no usable entry in %q (SOCKS4 and unknown kinds are not supported)", s)
		}
		return nil, fmt.Errorf("empty answer %q", s)
	}
	return out, nil
}

// hostPort checks "host[:port]" (no scheme, user or path) and adds the
// default port.
func hostPort(s, def string) (string, bool) {
	if strings.ContainsAny(s, "/@?#") {
		return "", false
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") { // bare IPv6
			h, p = s, def
		} else if !strings.Contains(s, ":") {
			h, p = s, def
		} else {
			return "", false
		}
	}
	n, err := strconv.Atoi(p)
	if h == "" || err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return net.JoinHostPort(h, p), true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// interfaceAddrs lists this machine's addresses, the one the default
// route leaves from first (so myIpAddress is the LAN address, not a
// container bridge's), then those of the interfaces that are up.
func interfaceAddrs() []net.IP {
	var out []net.IP
	// A UDP "connection" only asks the routing table: no packet is sent.
	// 198.51.100.1 is a documentation address (TEST-NET-2), routed like
	// any internet address.
	if c, err := net.Dial("udp4", "198.51.100.1:9"); err == nil {
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsUnspecified() {
			out = append(out, a.IP)
		}
		c.Close()
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return out
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && (len(out) == 0 || !n.IP.Equal(out[0])) {
				out = append(out, n.IP)
			}
		}
	}
	return out
}
