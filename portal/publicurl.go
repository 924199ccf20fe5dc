package portal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/bildbote/bildbote/internal/wire"
)

// The portal's absolute address (tus Location, DLX apiBasePath, the code
// page) is decided in one place, publicBase, in this order:
//
//  1. Config.PublicURL (serve --public-url) when set: it always wins.
//  2. When the direct peer is one of Config.TrustedProxies and it sent
//     Forwarded (RFC 7239) or X-Forwarded-Proto/-Host/-Port/-Prefix
//     headers: the origin those headers describe. The headers of any
//     other peer are ignored, and a trusted peer's values are checked
//     strictly (proto http or https, host a DNS name or IP literal, port
//     1-65535, prefix plain path segments); a value that fails the check
//     refuses the request (400 bad-forwarded) rather than reach a URL.
//  3. Config.LocalURL (serve: the listen address).
//  4. The request itself: https when it came over TLS, and its Host.
//
// With several proxies in a row the headers list one entry per hop, the
// last one added by the direct peer. The portal walks them from the right
// while the hop named is a trusted proxy too and takes the entry of the
// outermost trusted proxy: entries further left came from the client and
// could say anything.

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes
// ("127.0.0.1/32,::1/128,10.0.0.0/8"); a bare IP address stands for
// itself (/32 or /128). A prefix with host bits set ("10.0.0.1/8") is
// refused: it most likely means something else than it says.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(part, "/") {
			var err error
			p, err = netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", part, err)
			}
			if p.Addr().Zone() != "" {
				return nil, fmt.Errorf("trusted proxy %q: no zone allowed", part)
			}
			if p != p.Masked() {
				return nil, fmt.Errorf("trusted proxy %q: host bits set (did you mean %s?)", part, p.Masked())
			}
		} else {
			a, err := netip.ParseAddr(part)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR prefix", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("trusted proxies: empty list")
	}
	return out, nil
}

// trusted reports whether addr is in one of the prefixes.
func trusted(prefixes []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// peerAddr is the IP address of r's direct peer.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(remote)
	return a.Unmap()
}

// origin is what a request's absolute URLs start with.
type origin struct {
	base   string // scheme://host[:port][/prefix], no trailing slash
	client string // the client's IP address for lock-outs ("" = the peer)
}

type originKey struct{}

// errBadForwarded is a trusted proxy's header that failed the check.
var errBadForwarded = errors.New("bad forwarded header")

// withOrigin decides the request's origin once (publicBase reads it) and
// refuses a request whose trusted forwarding headers are invalid. It
// runs outside logRequests (which reads the route the mux sets on the
// request it is given), so it logs its refusals itself, without the
// header's value.
func (s *Server) withOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := s.deriveOrigin(r)
		if err != nil {
			s.cfg.Logger.Warn("request", "method", r.Method, "route", "(bad forwarded header)", "status", http.StatusBadRequest,
				"client", clientAddr(r))
			writeError(w, http.StatusBadRequest, "bad-forwarded", err.Error())
			return
		}
		next.ServeHTTP(&publicRedirect{ResponseWriter: w, base: o.base}, r.WithContext(context.WithValue(r.Context(), originKey{}, o)))
	})
}

// publicRedirect makes a redirect to a path absolute on publicBase: the
// mux's own (a missing trailing slash, an unclean path) would otherwise
// drop a reverse proxy's path prefix.
type publicRedirect struct {
	http.ResponseWriter
	base        string
	wroteHeader bool
}

func (w *publicRedirect) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if code >= 300 && code < 400 {
			h := w.ResponseWriter.Header()
			if loc := h.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\") {
				h.Set("Location", w.base+loc)
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *publicRedirect) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *publicRedirect) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *publicRedirect) Flush() {
	w.wroteHeader = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// publicBase is the portal's absolute address as the client of r reached
// it: every absolute URL the portal hands out starts with it.
func (s *Server) publicBase(r *http.Request) string {
	if o, ok := r.Context().Value(originKey{}).(origin); ok {
		return o.base
	}
	o, err := s.deriveOrigin(r)
	if err != nil {
		return s.fallbackBase(r)
	}
	return o.base
}

// requestClient is the client's address for lock-outs: the one a trusted
// proxy named, else the direct peer.
func requestClient(r *http.Request) string {
	return clientOf(r.Context(), r.RemoteAddr)
}

// clientOf is requestClient for a context of the request (a tus hook's).
func clientOf(ctx context.Context, remote string) string {
	if o, ok := ctx.Value(originKey{}).(origin); ok && o.client != "" {
		return o.client
	}
	return clientAddrOf(remote)
}

// fallbackBase is steps 3 and 4 of publicBase: LocalURL, else the request
// (with a Host that passes the check; else the loopback default).
func (s *Server) fallbackBase(r *http.Request) string {
	if s.cfg.LocalURL != "" {
		return s.cfg.LocalURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host, err := checkHost(r.Host)
	if err != nil {
		return scheme + "://127.0.0.1"
	}
	return scheme + "://" + elideDefaultPort(host, scheme)
}

// deriveOrigin is publicBase's decision for r.
func (s *Server) deriveOrigin(r *http.Request) (origin, error) {
	peer := peerAddr(r.RemoteAddr)
	if len(s.cfg.TrustedProxies) == 0 || !trusted(s.cfg.TrustedProxies, peer) {
		return origin{base: s.configuredBase(r)}, nil
	}
	f, err := parseForwarding(r.Header, s.cfg.TrustedProxies)
	if s.cfg.PublicURL != "" {
		// The public URL wins; the headers only name the client.
		return origin{base: s.cfg.PublicURL, client: f.client}, nil
	}
	if err != nil {
		return origin{}, err
	}
	o := origin{client: f.client}
	if !f.any {
		o.base = s.fallbackBase(r)
		return o, nil
	}
	scheme := f.proto
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	host := f.host
	if host == "" {
		if host, err = checkHost(r.Host); err != nil {
			return origin{}, fmt.Errorf("%w: Host: %v", errBadForwarded, err)
		}
	}
	if f.port != "" {
		h, _ := splitHostPort(host)
		host = h + ":" + f.port
	}
	o.base = scheme + "://" + elideDefaultPort(host, scheme) + f.prefix
	return o, nil
}

// configuredBase is PublicURL, else the fallback.
func (s *Server) configuredBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return s.fallbackBase(r)
}

// forwarding is what trusted proxies said about the original request.
type forwarding struct {
	any                       bool   // some proto, host, port or prefix was given
	proto, host, port, prefix string // each checked; host as host[:port]
	client                    string // the first untrusted hop, if named
}

// parseForwarding reads Forwarded, else X-Forwarded-*, of a request
// whose direct peer is trusted.
func parseForwarding(h http.Header, proxies []netip.Prefix) (forwarding, error) {
	var f forwarding
	if prefix := headerList(h, "X-Forwarded-Prefix"); len(prefix) > 0 {
		p, err := checkPrefix(prefix[len(prefix)-1])
		if err != nil {
			return f, fmt.Errorf("%w: X-Forwarded-Prefix: %v", errBadForwarded, err)
		}
		f.prefix, f.any = p, f.any || p != ""
	}
	if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		elems, err := parseForwarded(strings.Join(fwd, ","))
		if err != nil {
			return f, fmt.Errorf("%w: Forwarded: %v", errBadForwarded, err)
		}
		if len(elems) > 0 {
			// From the right: skip the hops that are trusted proxies too.
			i := len(elems) - 1
			for i > 0 && trusted(proxies, forAddr(elems[i]["for"])) {
				i--
			}
			e := elems[i]
			if a := forAddr(e["for"]); a.IsValid() && !trusted(proxies, a) {
				f.client = a.String()
			}
			if v, ok := e["proto"]; ok {
				if f.proto, err = checkProto(v); err != nil {
					return f, fmt.Errorf("%w: Forwarded proto: %v", errBadForwarded, err)
				}
				f.any = true
			}
			if v, ok := e["host"]; ok {
				if f.host, err = checkHost(v); err != nil {
					return f, fmt.Errorf("%w: Forwarded host: %v", errBadForwarded, err)
				}
				f.any = true
			}
			return f, nil
		}
	}
	// X-Forwarded-*: values line up with X-Forwarded-For from the right.
	hops := 1
	xff := headerList(h, "X-Forwarded-For")
	for j := len(xff) - 1; j >= 0; j-- {
		a, err := netip.ParseAddr(strings.Trim(xff[j], "[]"))
		if err != nil {
			break
		}
		if !trusted(proxies, a) {
			f.client = a.Unmap().String()
			break
		}
		if j > 0 {
			hops++
		}
	}
	pick := func(name string) (string, bool) {
		vals := headerList(h, name)
		if len(vals) == 0 {
			return "", false
		}
		return vals[max(len(vals)-hops, 0)], true
	}
	var err error
	if v, ok := pick("X-Forwarded-Proto"); ok {
		if f.proto, err = checkProto(v); err != nil {
			return f, fmt.Errorf("%w: X-Forwarded-Proto: %v", errBadForwarded, err)
		}
		f.any = true
	}
	if v, ok := pick("X-Forwarded-Host"); ok {
		if f.host, err = checkHost(v); err != nil {
			return f, fmt.Errorf("%w: X-Forwarded-Host: %v", errBadForwarded, err)
		}
		f.any = true
	}
	if v, ok := pick("X-Forwarded-Port"); ok {
		if f.port, err = checkPort(v); err != nil {
			return f, fmt.Errorf("%w: X-Forwarded-Port: %v", errBadForwarded, err)
		}
		f.any = true
	}
	return f, nil
}

// headerList splits every value of a comma-separated header.
func headerList(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, p := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

// maxForwarded bounds the elements of a Forwarded header.
const maxForwarded = 32

// parseForwarded parses an RFC 7239 Forwarded value: elements separated
// by commas, each pairs token=value separated by semicolons, a value a
// token or a quoted-string. Parameter names are case-insensitive and may
// occur once per element.
func parseForwarded(s string) ([]map[string]string, error) {
	var elems []map[string]string
	cur := map[string]string{}
	i := 0
	skipWS := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skipWS()
		if i < len(s) && s[i] == ',' { // an empty list element, or after "a=b;"
			i++
			if len(cur) > 0 {
				elems = append(elems, cur)
				cur = map[string]string{}
			}
			continue
		}
		if i >= len(s) {
			break
		}
		// A pair.
		start := i
		for i < len(s) && isTchar(s[i]) {
			i++
		}
		name := strings.ToLower(s[start:i])
		if name == "" || i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("malformed pair at byte %d", start)
		}
		i++
		var val string
		if i < len(s) && s[i] == '"' {
			i++
			var b strings.Builder
			closed := false
			for i < len(s) {
				c := s[i]
				switch {
				case c == '"':
					closed = true
					i++
				case c == '\\' && i+1 < len(s) && isQdtextOrVchar(s[i+1]):
					b.WriteByte(s[i+1])
					i += 2
					continue
				case isQdtextOrVchar(c) && c != '\\':
					b.WriteByte(c)
					i++
					continue
				default:
					return nil, fmt.Errorf("bad byte 0x%02x in quoted value", c)
				}
				break
			}
			if !closed {
				return nil, errors.New("unterminated quoted value")
			}
			val = b.String()
		} else {
			vs := i
			for i < len(s) && isTchar(s[i]) {
				i++
			}
			val = s[vs:i]
			if val == "" {
				return nil, fmt.Errorf("empty value of %s", name)
			}
		}
		if _, dup := cur[name]; dup {
			return nil, fmt.Errorf("%s twice in one element", name)
		}
		cur[name] = val
		skipWS()
		switch {
		case i >= len(s):
		case s[i] == ';':
			i++
			continue
		case s[i] == ',':
			i++
			elems = append(elems, cur)
			cur = map[string]string{}
			if len(elems) > maxForwarded {
				return nil, errors.New("too many elements")
			}
			continue
		default:
			return nil, fmt.Errorf("unexpected byte 0x%02x at %d", s[i], i)
		}
		break
	}
	if len(cur) > 0 {
		elems = append(elems, cur)
	}
	if len(elems) > maxForwarded {
		return nil, errors.New("too many elements")
	}
	return elems, nil
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isQdtextOrVchar: visible ASCII, space and tab (no obs-text: the values
// here are addresses and names).
func isQdtextOrVchar(c byte) bool { return c == '\t' || (c >= 0x20 && c < 0x7f) }

// forAddr is the IP address of a Forwarded for= value ("192.0.2.1",
// "192.0.2.1:4711", "[2001:db8::1]", "[2001:db8::1]:4711"); unknown,
// obfuscated ("_hidden") and malformed values give the zero Addr.
func forAddr(v string) netip.Addr {
	if v == "" {
		return netip.Addr{}
	}
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(v[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}
		}
		return a.Unmap()
	}
	host := v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		host = v[:i]
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}
	}
	return a
}

// checkProto accepts http and https (any case).
func checkProto(v string) (string, error) {
	switch p := strings.ToLower(strings.TrimSpace(v)); p {
	case "http", "https":
		return p, nil
	}
	return "", fmt.Errorf("proto %q is neither http nor https", v)
}

// checkPort accepts a decimal port 1-65535.
func checkPort(v string) (string, error) {
	if v == "" || len(v) > 5 {
		return "", fmt.Errorf("port %q out of range", v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return "", fmt.Errorf("port %q is not a number", v)
		}
	}
	n, _ := strconv.Atoi(v)
	if n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q out of range", v)
	}
	return strconv.Itoa(n), nil
}

// checkHost checks host[:port] (a DNS name, an IPv4 address or a
// bracketed IPv6 address, and a port 1-65535) and returns it lowercased.
func checkHost(v string) (string, error) {
	if v == "" {
		return "", errors.New("empty host")
	}
	if len(v) > 261 {
		return "", errors.New("host too long")
	}
	host, port := splitHostPort(v)
	if port == "-" {
		return "", fmt.Errorf("host %q: malformed", v)
	}
	if port != "" {
		p, err := checkPort(port)
		if err != nil {
			return "", err
		}
		port = p
	}
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("host %q: not an IPv6 address", v)
		}
		host = "[" + a.String() + "]"
	} else {
		host = strings.ToLower(host)
		if !validDNSName(host) {
			return "", fmt.Errorf("host %q: not a DNS name or IP address", v)
		}
		if a, err := netip.ParseAddr(host); err == nil && !a.Is4() {
			return "", fmt.Errorf("host %q: IPv6 needs brackets", v)
		}
	}
	if port != "" {
		return host + ":" + port, nil
	}
	return host, nil
}

// splitHostPort splits host[:port]; port "-" marks a malformed value.
func splitHostPort(v string) (host, port string) {
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return v, "-"
		}
		host, rest := v[:end+1], v[end+1:]
		if rest == "" {
			return host, ""
		}
		if rest[0] != ':' || len(rest) == 1 {
			return host, "-"
		}
		return host, rest[1:]
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		if i == len(v)-1 || strings.IndexByte(v[i+1:], ':') >= 0 {
			return v, "-"
		}
		return v[:i], v[i+1:]
	}
	return v, ""
}

// elideDefaultPort drops the scheme's default port from host[:port].
func elideDefaultPort(hostport, scheme string) string {
	host, port := splitHostPort(hostport)
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return host
	}
	return hostport
}

// validDNSName: letters, digits and hyphens in labels of 1-63, no hyphen
// at either end of a label, at most 253 in all (a trailing dot allowed).
func validDNSName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkPrefix checks a path prefix ("/portal", "/a/b/"): segments of
// letters, digits and -._~, no dot segments, at most 200 bytes. It
// returns it without the trailing slash ("" for "/").
func checkPrefix(v string) (string, error) {
	if v == "" || v == "/" {
		return "", nil
	}
	if v[0] != '/' || len(v) > 200 {
		return "", fmt.Errorf("prefix %q must be an absolute path of at most 200 bytes", v)
	}
	v = strings.TrimSuffix(v, "/")
	for _, seg := range strings.Split(v[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("prefix %q: empty or dot segment", v)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
				return "", fmt.Errorf("prefix %q: byte 0x%02x not allowed", v, c)
			}
		}
	}
	return v, nil
}

// CheckPublicURL checks a configured public URL (serve --public-url,
// code issue --public-url) with the same rules as a derived one: http or
// https, a valid host and port, a plain path prefix, nothing else (no
// user, query or fragment). It returns it without the trailing slash.
func CheckPublicURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("public URL %q: %w", raw, err)
	}
	scheme, err := checkProto(u.Scheme)
	if err != nil || u.Scheme != scheme {
		return "", fmt.Errorf("public URL %q: scheme must be http or https", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("public URL %q: no user, query or fragment allowed", raw)
	}
	// An internationalised name (bilder.praxis-saarbrücken.example) is
	// checked in its ASCII form and kept as written (the code sheet
	// prints it; HTTP clients send the ASCII form).
	hostport := u.Host
	idn := strings.IndexFunc(hostport, func(c rune) bool { return c >= utf8.RuneSelf }) >= 0
	if idn {
		name, port := splitHostPort(hostport)
		ascii, err := idna.Lookup.ToASCII(name)
		if err != nil || port == "-" {
			return "", fmt.Errorf("public URL %q: host is no valid internationalised name", raw)
		}
		if port != "" {
			ascii += ":" + port
		}
		if _, err := checkHost(ascii); err != nil {
			return "", fmt.Errorf("public URL %q: %w", raw, err)
		}
		hostport = strings.ToLower(hostport)
	}
	host, err := hostport, error(nil)
	if !idn {
		host, err = checkHost(hostport)
	}
	if err != nil {
		return "", fmt.Errorf("public URL %q: %w", raw, err)
	}
	prefix, err := checkPrefix(u.EscapedPath())
	if err != nil {
		return "", fmt.Errorf("public URL %q: %w", raw, err)
	}
	return scheme + "://" + elideDefaultPort(host, scheme) + prefix, nil
}

// ListenURL is the LocalURL of a listener: scheme and its address.
func ListenURL(scheme string, addr net.Addr) string {
	return scheme + "://" + addr.String()
}

// tusLocation makes tusd's Location (built from the request's Host)
// absolute on publicBase: tusd's own RespectForwardedHeaders would trust
// the headers of any peer.
type tusLocation struct {
	http.ResponseWriter
	base        string
	wroteHeader bool
}

func (w *tusLocation) fix() {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	h := w.ResponseWriter.Header()
	loc := h.Get("Location")
	if loc == "" {
		return
	}
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	if id == "" || strings.IndexFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '+')
	}) >= 0 {
		h.Del("Location")
		return
	}
	h.Set("Location", w.base+wire.UploadsPath+id)
}

func (w *tusLocation) WriteHeader(code int) { w.fix(); w.ResponseWriter.WriteHeader(code) }

func (w *tusLocation) Write(b []byte) (int, error) { w.fix(); return w.ResponseWriter.Write(b) }

func (w *tusLocation) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *tusLocation) Flush() {
	w.fix()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// publicTus wraps the tus handler so its Location starts with publicBase.
func (s *Server) publicTus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&tusLocation{ResponseWriter: w, base: s.publicBase(r)}, r)
	})
}
