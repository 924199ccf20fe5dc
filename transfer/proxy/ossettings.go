package proxy

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Where OS settings come from (OSSettings.Source).
const (
	SourceGNOME   = "os-gnome"
	SourceKDE     = "os-kde"
	SourceWindows = "os-windows"
	// SourceWinHTTP: the machine's WinHTTP proxy (netsh winhttp, group
	// policy), used when the user's Internet Options ask for none.
	SourceWinHTTP = "os-windows-winhttp"
	SourceMacOS   = "os-macos"
)

// OSTimeout bounds reading the OS settings (one helper process).
const OSTimeout = 3 * time.Second

// OSSettings are the operating system's proxy settings as read. More
// than one way may be on at once (Windows and macOS allow it); they are
// tried in the order AutoDetect (WPAD), PACURL, then the manual proxies
// (HTTP, HTTPS, SOCKS) with Bypass.
type OSSettings struct {
	Source     string
	AutoDetect bool   // WPAD
	PACURL     string // "" none
	// HTTP, HTTPS and SOCKS are host:port of the manual proxies ("" none).
	HTTP, HTTPS, SOCKS string
	// Bypass lists hosts that go direct: names, "*.example" and
	// ".example" suffixes, IPs, CIDR ranges ("10.0.0.0/8", macOS's
	// "169.254/16"), optionally ":port".
	Bypass []string
	// BypassPlain sends host names without a dot direct (Windows'
	// <local>, macOS's ExcludeSimpleHostnames).
	BypassPlain bool
	// BypassLoopback sends localhost and loopback addresses direct
	// (Windows does so implicitly unless <-loopback> is given).
	BypassLoopback bool
	// OnlyListed inverts Bypass: only the hosts in it take the proxy
	// (KDE's ReversedException).
	OnlyListed bool
}

// Manual reports whether a manual proxy is set.
func (s *OSSettings) Manual() bool { return s.HTTP != "" || s.HTTPS != "" || s.SOCKS != "" }

// Any reports whether the settings ask for a proxy in any way.
func (s *OSSettings) Any() bool { return s != nil && (s.AutoDetect || s.PACURL != "" || s.Manual()) }

// ManualProxy is the manual proxy for u: the one for its scheme, else
// SOCKS (as socks5), nil for a bypassed host or none set.
func (s *OSSettings) ManualProxy(u *url.URL) *url.URL {
	if s.Bypassed(u) {
		return nil
	}
	addr, scheme := s.HTTP, "http"
	if strings.EqualFold(u.Scheme, "https") {
		addr = s.HTTPS
	}
	if addr == "" && s.SOCKS != "" {
		addr, scheme = s.SOCKS, "socks5"
	}
	if addr == "" {
		return nil
	}
	return &url.URL{Scheme: scheme, Host: addr}
}

// Bypassed reports whether u goes direct by the bypass rules.
func (s *OSSettings) Bypassed(u *url.URL) bool {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	if s.BypassLoopback && isLoopback(host) {
		return true
	}
	if s.BypassPlain && isPlainHostName(host) && net.ParseIP(host) == nil {
		return true
	}
	listed := false
	for _, p := range s.Bypass {
		if bypassMatch(host, port, p) {
			listed = true
			break
		}
	}
	if s.OnlyListed {
		return !listed
	}
	return listed
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// bypassMatch matches one bypass pattern.
func bypassMatch(host, port, pat string) bool {
	pat = strings.ToLower(strings.TrimSpace(pat))
	if pat == "" {
		return false
	}
	if pat == "<local>" {
		return isPlainHostName(host) && net.ParseIP(host) == nil
	}
	if pat == "*" {
		return true
	}
	// scheme prefixes (KDE, Windows: "http://host")
	if i := strings.Index(pat, "://"); i >= 0 {
		pat = pat[i+3:]
	}
	if strings.Contains(pat, "/") {
		pfx, ok := parseCIDR(pat)
		if !ok {
			return false
		}
		ip, err := netip.ParseAddr(host)
		return err == nil && pfx.Contains(ip.Unmap())
	}
	// host:port ([v6]:port)
	if h, p, err := net.SplitHostPort(pat); err == nil && !strings.Contains(p, "*") {
		if p != port {
			return false
		}
		pat = h
	}
	pat = strings.Trim(pat, "[]")
	if strings.HasPrefix(pat, ".") {
		return strings.HasSuffix(host, pat) || host == pat[1:]
	}
	if strings.ContainsAny(pat, "*?") {
		return globMatch([]rune(host), []rune(pat))
	}
	if a, err := netip.ParseAddr(pat); err == nil {
		b, err := netip.ParseAddr(host)
		return err == nil && a.Unmap() == b.Unmap()
	}
	return host == pat
}

// parseCIDR accepts "10.0.0.0/8", "fe80::/10" and the short IPv4 forms
// macOS writes ("169.254/16", "10/8").
func parseCIDR(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	addr, bits, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(addr, ":") {
		return netip.Prefix{}, false
	}
	parts := strings.Split(addr, ".")
	if len(parts) > 4 {
		return netip.Prefix{}, false
	}
	for len(parts) < 4 {
		parts = append(parts, "0")
	}
	n, err := strconv.Atoi(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(strings.Join(parts, ".") + "/" + strconv.Itoa(n))
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// ReadOS reads the operating system's proxy settings, bounded by
// OSTimeout: nil (no error) when there are none or they cannot be read
// (no desktop, no gsettings, no schema). An error means settings exist
// but do not make sense; the caller reports it and goes on without.
func ReadOS(ctx context.Context) (*OSSettings, error) {
	ctx, cancel := context.WithTimeout(ctx, OSTimeout)
	defer cancel()
	s, err := readOS(ctx)
	if err != nil || s == nil || !s.Any() {
		return nil, err
	}
	return s, nil
}

// joinHostPort makes host:port from the settings' separate fields; ""
// when host is empty or the port not 1-65535.
func joinHostPort(host string, port int) string {
	host = strings.TrimSpace(host)
	if i := strings.Index(host, "://"); i >= 0 { // "http://proxy" in a host field
		host = host[i+3:]
	}
	host = strings.TrimSuffix(host, "/")
	if host == "" || port < 1 || port > 65535 {
		return ""
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}
