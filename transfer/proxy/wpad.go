package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/bildbote/bildbote/transfer/httpclient"
)

// WPAD bounds.
const (
	WPADTimeout       = 20 * time.Second
	WPADLookupTimeout = 2 * time.Second
	WPADFetchTimeout  = 5 * time.Second
	WPADDHCPTimeout   = 3 * time.Second
)

// WPAD discovers a PAC file the two ways WPAD knows: the URL a DHCP
// server announces (option 252), then DNS: http://wpad.<domain>/wpad.dat
// for each search domain, walking up to the registrable domain.
type WPAD struct {
	// DHCP returns the PAC URL the network's DHCP server announced
	// ("" none); nil: the OS's (DHCPWPAD: WinHTTP's DHCP detection on
	// Windows, NetworkManager's lease on Linux). Bounded by WPADDHCPTimeout.
	DHCP func(ctx context.Context) (string, error)
	// Domains are the DNS search domains, best first; nil: the system's
	// (SearchDomains).
	Domains []string
	// Resolver answers for wpad.<domain> and the fetch dials the
	// address it gives; nil: net.DefaultResolver.
	Resolver Resolver
	// Port replaces 80 in the fetch (tests on loopback, which cannot
	// bind port 80 unprivileged).
	Port string
	// MaxScript bounds the file (0: DefaultMaxScript).
	MaxScript int64
	// TLS is the trust for a wpad.dat redirected to https (see
	// Loader.TLS), asked at each Discover; nil: the OS trust store.
	TLS func() httpclient.TLS
}

// NoWPADError: no wpad.<domain> answered with a PAC file. Tried lists
// the URLs asked, Domains the search domains used.
type NoWPADError struct {
	Hosts   []string // the wpad names asked for
	Tried   []string // the URLs fetched (their names resolved)
	Domains []string
	Last    error
}

func (e *NoWPADError) Error() string {
	if len(e.Hosts) == 0 {
		return "WPAD: no DNS search domain to look for wpad.<domain> in"
	}
	if len(e.Tried) == 0 {
		return "WPAD: none of " + strings.Join(e.Hosts, ", ") + " resolves"
	}
	s := "WPAD: no PAC file at " + strings.Join(e.Tried, ", ")
	if e.Last != nil {
		s += " (last: " + e.Last.Error() + ")"
	}
	return s
}

func (e *NoWPADError) Unwrap() error { return e.Last }

// WPADHosts lists the wpad host names to ask for the domains, in order,
// each domain walked up one label at a time but never past its
// registrable domain (public suffix + 1): radiologie.klinik.example.de
// gives wpad.radiologie.klinik.example.de, wpad.klinik.example.de,
// wpad.example.de. A domain that is itself a public suffix ("de",
// "co.uk") or a single label gives nothing.
func WPADHosts(domains []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range domains {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
		if d == "" || !strings.Contains(d, ".") || net.ParseIP(d) != nil {
			continue
		}
		reg, err := publicsuffix.EffectiveTLDPlusOne(d)
		if err != nil {
			continue
		}
		for cur := d; ; {
			if h := "wpad." + cur; !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
			if cur == reg {
				break
			}
			i := strings.IndexByte(cur, '.')
			if i < 0 {
				break
			}
			cur = cur[i+1:]
		}
	}
	return out
}

// Discover finds the PAC file: the URL it came from and its content.
// At most WPADTimeout in all; each look-up WPADLookupTimeout, each fetch
// WPADFetchTimeout, DIRECT. A host that does not resolve is skipped.
func (w *WPAD) Discover(ctx context.Context) (string, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, WPADTimeout)
	defer cancel()
	r := w.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	domains := w.Domains
	if domains == nil {
		domains = SearchDomains()
	}
	e := &NoWPADError{Domains: domains, Hosts: WPADHosts(domains)}
	// the fetch dials the addresses the look-up gave (no second question)
	resolved := map[string][]string{}
	var mu sync.Mutex
	known := LookupHostFunc(func(ctx context.Context, host string) ([]string, error) {
		mu.Lock()
		a, ok := resolved[host]
		mu.Unlock()
		if ok {
			return a, nil
		}
		return r.LookupHost(ctx, host)
	})
	var roots *x509.CertPool // nil: the OS trust store
	if w.TLS != nil {
		roots = w.TLS().Roots
	}
	if u, data, err := w.fromDHCP(ctx, roots); err == nil {
		return u, data, nil
	} else if !errors.Is(err, errNoDHCPWPAD) {
		e.Last = err
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialVia(known, w.Port, WPADFetchTimeout),
		TLSClientConfig:       &tls.Config{RootCAs: roots},
		TLSHandshakeTimeout:   WPADFetchTimeout,
		ResponseHeaderTimeout: WPADFetchTimeout,
		DisableKeepAlives:     true,
	}
	defer t.CloseIdleConnections()
	client := httpclient.New(httpclient.Options{Transport: t, Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }})
	for _, h := range e.Hosts {
		if ctx.Err() != nil {
			break
		}
		lctx, lcancel := context.WithTimeout(ctx, WPADLookupTimeout)
		addrs, err := r.LookupHost(lctx, h)
		lcancel()
		u := "http://" + h + "/wpad.dat"
		if err != nil || len(addrs) == 0 {
			continue // no such name: the usual case
		}
		e.Tried = append(e.Tried, u)
		mu.Lock()
		resolved[h] = addrs
		mu.Unlock()
		fctx, fcancel := context.WithTimeout(ctx, WPADFetchTimeout)
		data, err := fetchPAC(fctx, client, u, w.MaxScript)
		fcancel()
		if err == nil {
			return u, data, nil
		}
		e.Last = err
	}
	return "", nil, e
}

var errNoDHCPWPAD = errors.New("no PAC URL from DHCP")

// fromDHCP fetches the PAC file the DHCP server named, directly (its
// host resolved as usual); errNoDHCPWPAD when none was named. A named
// URL that fails is reported, and DNS is tried next all the same.
func (w *WPAD) fromDHCP(ctx context.Context, roots *x509.CertPool) (string, []byte, error) {
	ask := w.DHCP
	if ask == nil {
		ask = DHCPWPAD
	}
	dctx, cancel := context.WithTimeout(ctx, WPADDHCPTimeout)
	u, err := ask(dctx)
	cancel()
	u = strings.TrimSpace(u)
	if err != nil || u == "" {
		return "", nil, errNoDHCPWPAD
	}
	if pu, perr := url.Parse(u); perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return "", nil, fmt.Errorf("DHCP announced %q, not an http(s) URL", redactURL(u))
	}
	fctx, fcancel := context.WithTimeout(ctx, WPADFetchTimeout)
	defer fcancel()
	client := newDirectClient(httpclient.TLS{Roots: roots})
	defer client.CloseIdleConnections()
	data, err := fetchPAC(fctx, client, u, w.MaxScript)
	if err != nil {
		return "", nil, err
	}
	return redactURL(u), data, nil
}

// IsNoWPAD reports whether err is a WPAD discovery that found nothing.
func IsNoWPAD(err error) bool {
	var e *NoWPADError
	return errors.As(err, &e)
}

// SearchDomains are the system's DNS search domains: the OS's list
// (resolv.conf's search and domain lines, Windows' and macOS's DNS
// suffixes) and the domain of the host's own name when it has one.
func SearchDomains() []string {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, d := range osSearchDomains() {
		add(d)
	}
	if h, err := os.Hostname(); err == nil {
		if i := strings.IndexByte(h, '.'); i > 0 {
			add(h[i+1:])
		}
	}
	return out
}

// parseResolvConf reads search and domain lines of a resolv.conf.
func parseResolvConf(data string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		if f[0] == "search" || f[0] == "domain" {
			out = append(out, f[1:]...)
		}
	}
	return out
}
