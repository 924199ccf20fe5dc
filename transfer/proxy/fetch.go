package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/bildbote/bildbote/transfer/httpclient"
)

// Fetch bounds and PAC refresh.
const (
	FetchTimeout = 15 * time.Second
	// RetryBroken is how long a PAC that could not be fetched or loaded
	// is not tried again (requests take the fallback meanwhile).
	RetryBroken = 30 * time.Second
	// RetryNoWPAD is how long a WPAD discovery that found nothing is not
	// repeated (most networks have no WPAD; its DNS questions would
	// otherwise slow every request of an offline laptop).
	RetryNoWPAD = 5 * time.Minute
	// Refresh is how long a loaded PAC is used before it is fetched again
	// (a failed refresh keeps the old script).
	Refresh = time.Hour
)

// CheckPACURL accepts file:// (absolute path) and http(s):// URLs with
// a host and without credentials.
func CheckPACURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("PAC address %q does not parse", raw)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" && !isDrive(u.Host) || u.Path == "" {
			return fmt.Errorf("PAC address %s: a file:// address needs an absolute path (file:///…)", raw)
		}
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("PAC address %s has no host", raw)
		}
		if u.User != nil {
			return errors.New("PAC address carries a user name or password")
		}
	default:
		return fmt.Errorf("PAC address %s is neither file:// nor http(s)://", raw)
	}
	return nil
}

// directClient fetches PAC files, never through a proxy, trusting the
// OS store alone (Options.TLS nil).
var directClient = newDirectClient(httpclient.TLS{})

// newDirectClient is a client that never takes a proxy, with tc's trust
// (the OS store plus a clinic's CA bundle) and HTTP/1.1 switch.
func newDirectClient(tc httpclient.TLS) *http.Client {
	return httpclient.New(httpclient.Options{
		Proxy:                 func(*http.Request) (*url.URL, error) { return nil, nil },
		ResponseHeaderTimeout: FetchTimeout,
		TLS:                   tc,
	})
}

// FetchPAC reads a PAC file from file:// or http(s):// (DIRECT), at most
// max bytes (0: DefaultMaxScript) within FetchTimeout. Failures are
// *PACError (fetch, status, size).
func FetchPAC(ctx context.Context, raw string, max int64) ([]byte, error) {
	return fetchPAC(ctx, directClient, raw, max)
}

func fetchPAC(ctx context.Context, client *http.Client, raw string, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxScript
	}
	src := redactURL(raw)
	if err := CheckPACURL(raw); err != nil {
		return nil, &PACError{Op: "fetch", Source: src, Err: err}
	}
	u, _ := url.Parse(strings.TrimSpace(raw))
	var r io.ReadCloser
	if u.Scheme == "file" {
		path := u.Path
		if isDrive(u.Host) { // file://C:/proxy.pac, as Windows users write it
			path = u.Host + path
		} else if runtime.GOOS == "windows" && len(path) >= 3 && path[0] == '/' && path[2] == ':' {
			path = path[1:]
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, &PACError{Op: "fetch", Source: src, Err: err}
		}
		r = f
	} else {
		ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, &PACError{Op: "fetch", Source: src, Err: err}
		}
		req.Header.Set("Accept", "application/x-ns-proxy-autoconfig, */*")
		resp, err := client.Do(req)
		if err != nil {
			return nil, &PACError{Op: "fetch", Source: src, Err: err}
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, &PACError{Op: "status", Source: src, Status: resp.StatusCode}
		}
		r = resp.Body
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, &PACError{Op: "fetch", Source: src, Err: err}
	}
	if int64(len(data)) > max {
		return nil, &PACError{Op: "size", Source: src, Limit: max}
	}
	return data, nil
}

// isDrive: a Windows drive ("C:") where a file URL's host would be.
func isDrive(h string) bool {
	return len(h) == 2 && h[1] == ':' && (h[0]|0x20 >= 'a' && h[0]|0x20 <= 'z')
}

// redactURL drops user info and query from an address for messages.
func redactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return raw
	}
	return httpclient.Redact(u)
}

// Loader fetches and compiles a PAC script on first use, keeps it for
// Refresh, and after a failure waits RetryBroken before trying again.
// Exactly one of URL and WPAD is set.
type Loader struct {
	URL     string
	WPAD    *WPAD // auto-detect instead of a fixed URL
	Options Options
	// TLS is the trust (and HTTP/1.1 switch) of the fetch over https, a
	// WPAD's too (when its WPAD has none): the OS trust store plus a
	// clinic's CA bundle (httpclient.LoadCABundle), as every other
	// request has. Asked at each fetch, so a changed bundle holds for
	// the next one; nil: the OS trust store alone. The fetch stays
	// DIRECT whatever it says.
	TLS    func() httpclient.TLS
	client *http.Client // tests; default the direct client

	mu      sync.Mutex
	pac     *PAC
	found   string // the URL the script came from (WPAD: the one found)
	err     error
	fetched time.Time
}

// NewLoader is a Loader for a PAC URL.
func NewLoader(rawURL string, o Options) *Loader { return &Loader{URL: rawURL, Options: o} }

// Get returns the script, fetching it when needed (bounded by
// FetchTimeout, WPAD by its own bound). While a fetch failed less than
// RetryBroken ago (a WPAD that found nothing: RetryNoWPAD) the same
// error comes back at once.
func (l *Loader) Get(ctx context.Context) (*PAC, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.pac != nil && now.Sub(l.fetched) < Refresh {
		return l.pac, nil
	}
	retry := RetryBroken
	if IsNoWPAD(l.err) {
		retry = RetryNoWPAD
	}
	if l.err != nil && now.Sub(l.fetched) < retry {
		return l.pac, l.err
	}
	pac, found, err := l.load(ctx)
	l.fetched = time.Now()
	if err != nil {
		if l.pac != nil { // a failed refresh keeps the script we have
			l.err = nil
			return l.pac, nil
		}
		l.err = err
		return nil, err
	}
	l.pac, l.found, l.err = pac, found, nil
	return pac, nil
}

// Found is the URL the current script came from ("" before a success).
func (l *Loader) Found() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.found
}

func (l *Loader) load(ctx context.Context) (*PAC, string, error) {
	if l.WPAD != nil {
		w := *l.WPAD
		if w.TLS == nil {
			w.TLS = l.TLS
		}
		found, data, err := w.Discover(ctx)
		if err != nil {
			return nil, "", err
		}
		pac, err := CompilePAC(found, data, l.Options)
		return pac, found, err
	}
	client := l.client
	if client == nil && l.TLS != nil {
		// a client per fetch (one an hour, or one per RetryBroken)
		client = newDirectClient(l.TLS())
		defer client.CloseIdleConnections()
	} else if client == nil {
		client = directClient
	}
	data, err := fetchPAC(ctx, client, l.URL, l.Options.MaxScript)
	if err != nil {
		return nil, "", err
	}
	pac, err := CompilePAC(redactURL(l.URL), data, l.Options)
	return pac, redactURL(l.URL), err
}

// dialVia dials host:port after resolving host with r (WPAD: the
// injectable resolver decides where wpad.<domain> is).
func dialVia(r Resolver, port string, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if port != "" {
			p = port
		}
		ips := []string{host}
		if net.ParseIP(host) == nil {
			if ips, err = r.LookupHost(ctx, host); err != nil {
				return nil, err
			}
		}
		var last error = fmt.Errorf("no address for %s", host)
		for _, ip := range ips {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip, p))
			if err == nil {
				return c, nil
			}
			last = err
		}
		return nil, last
	}
}
