package httpclient

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/go-ntlmssp"
)

// Proxy login (Proxy-Authenticate / Proxy-Authorization), for plain
// http requests through the proxy (authTransport) and for the CONNECT
// tunnel of https requests (dialTunnel):
//
//   - Basic (RFC 7617) and Digest (RFC 7616: MD5, SHA-256 and their
//     -sess variants, qop=auth or none, nc counted per nonce) are
//     connection-independent: once a proxy's challenge is known, every
//     later request carries the answer pre-emptively (Digest with the
//     next nc), and a 407 stale=true only renews the nonce.
//   - NTLM (explicit DOMAIN\user and password, github.com/Azure/go-ntlmssp),
//     Negotiate/Kerberos (explicit user and password, gokrb5 and
//     krb5.conf, proxyauth_krb.go) and, on Windows, NTLM and Negotiate
//     with the user's own login (SSPI, proxyauth_windows.go) are bound
//     to one connection: the handshake runs on the CONNECT's connection,
//     and plain http requests through such a proxy go one at a time over
//     one kept-alive connection.
//
// The credentials are the proxy URL's user info (the ProxyFunc's answer);
// net/http never sees them. No credentials: nothing is sent but the
// user's own login through SSPI where there is one; a 407 then is a
// *ProxyAuthError. A proxy's first 407 is never taken as the answer when
// the client has not tried a login yet.

// scheme names, lower case, in the order we prefer them.
const (
	schemeNegotiate = "negotiate"
	schemeNTLM      = "ntlm"
	schemeDigest    = "digest"
	schemeBasic     = "basic"
)

// challenge is one parsed Proxy-Authenticate challenge.
type challenge struct {
	scheme string            // lower case
	params map[string]string // auth-params, lower-case names (Digest, Basic)
	token  string            // token68 (NTLM, Negotiate): base64 data
}

// parseChallenges parses Proxy-Authenticate values (several headers, or
// several challenges in one header separated by commas).
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		out = append(out, parseChallengeList(v)...)
	}
	return out
}

func parseChallengeList(s string) []challenge {
	var out []challenge
	var cur *challenge
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		tok, rest := cutToken(s)
		if tok == "" {
			break // garbage: stop
		}
		r := strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(r, "=") && cur != nil && !strings.HasPrefix(r, "==") {
			// an auth-param of the current challenge
			val, rest2 := parseParamValue(strings.TrimLeft(r[1:], " \t"))
			cur.params[strings.ToLower(tok)] = val
			s = rest2
			continue
		}
		// a new challenge: scheme, then token68 or params
		out = append(out, challenge{scheme: strings.ToLower(tok), params: map[string]string{}})
		cur = &out[len(out)-1]
		r = strings.TrimLeft(rest, " \t")
		if t68, rest2, ok := cutToken68(r); ok {
			cur.token = t68
			s = rest2
			continue
		}
		s = r
	}
	return out
}

// cutToken returns the leading token (RFC 9110 tchar) of s.
func cutToken(s string) (string, string) {
	i := 0
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isTchar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// cutToken68 takes a token68 (base64 with trailing '='s) that ends the
// challenge; "name=value" is a param, not a token68.
func cutToken68(s string) (string, string, bool) {
	i := 0
	for i < len(s) && (isTchar(s[i]) || s[i] == '/' || s[i] == '+') {
		i++
	}
	if i == 0 {
		return "", s, false
	}
	j := i
	for j < len(s) && s[j] == '=' {
		j++
	}
	rest := strings.TrimLeft(s[j:], " \t")
	if rest == "" || rest[0] == ',' {
		return s[:j], rest, true
	}
	return "", s, false
}

// parseParamValue reads a token or quoted-string.
func parseParamValue(s string) (string, string) {
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '"':
				return b.String(), s[i+1:]
			default:
				b.WriteByte(s[i])
			}
		}
		return b.String(), ""
	}
	i := strings.IndexAny(s, ", \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// credentials of one proxy login.
type credentials struct {
	user, password string
	explicit       bool // from the proxy URL; false: the OS login (SSPI) only
}

func credsOf(p *url.URL) credentials {
	if p == nil || p.User == nil {
		return credentials{}
	}
	pw, _ := p.User.Password()
	return credentials{user: p.User.Username(), password: pw, explicit: true}
}

// proxyAuth holds what each proxy asked for, shared by all requests and
// tunnels of one client.
type proxyAuth struct {
	mu     sync.Mutex
	states map[string]*proxyState // by proxy host:port
	// set by install: how to reach a proxy
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig func() *tls.Config
	prompt    PromptFunc        // SetProxyPrompt
	routes    map[string]string // https target → "direct" or the proxy (routeChanged)
}

func newProxyAuth() *proxyAuth { return &proxyAuth{states: map[string]*proxyState{}} }

type proxyState struct {
	mu     sync.Mutex
	scheme string // the scheme in use; "" until a 407 named one
	digest *digestChallenge
	nc     uint32 // requests answered with digest.nonce
	// serial: one plain http request at a time through a proxy with a
	// connection-bound login (NTLM, Negotiate).
	serial sync.Mutex
	single http.RoundTripper // the one-connection transport for that
}

func (a *proxyAuth) state(p *url.URL) *proxyState {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := strings.ToLower(p.Host)
	st := a.states[k]
	if st == nil {
		st = &proxyState{}
		a.states[k] = st
	}
	return st
}

// connBound: the scheme's login holds for one connection only.
func connBound(scheme string) bool { return scheme == schemeNTLM || scheme == schemeNegotiate }

// handshake answers one request's (or one CONNECT's) challenges. It is
// used by one goroutine; the proxy's state is shared.
type handshake struct {
	st            *proxyState
	creds         credentials
	proxy         string // redacted, for errors
	method, uri   string
	sent          string // scheme of the last Proxy-Authorization sent ("": none)
	sentNonce     string // digest: the nonce it used
	sentNC        uint32 // and its nc
	digestRetries int    // answers sent again after a stale or later-nc refusal
	conn          connAuth
	triedSchemes  map[string]bool
}

// connAuth is a connection-bound multi-leg login (NTLM, Negotiate).
type connAuth interface {
	// Step returns the next token for the proxy's token (nil at first).
	Step(in []byte) ([]byte, error)
	Close()
}

func newHandshake(st *proxyState, p *url.URL, method, uri string) *handshake {
	return &handshake{st: st, creds: credsOf(p), proxy: Redact(p), method: method, uri: uri, triedSchemes: map[string]bool{}}
}

// first is the Proxy-Authorization to send without waiting for a 407:
// the known Basic or Digest answer, or (tunnel only, connBoundFirst) the
// first leg of a known connection-bound scheme. "" sends none.
func (h *handshake) first(connBoundFirst bool) (string, error) {
	h.st.mu.Lock()
	scheme := h.st.scheme
	h.st.mu.Unlock()
	switch {
	case scheme == "":
		return "", nil
	case connBound(scheme):
		if !connBoundFirst || !h.canDo(scheme) {
			return "", nil
		}
		hdr, err := h.startConn(scheme)
		if err != nil {
			return "", nil // the proxy's challenge decides then
		}
		return hdr, nil
	case !h.creds.explicit:
		return "", nil
	case scheme == schemeBasic:
		h.sent = schemeBasic
		return basicAuth(h.creds), nil
	case scheme == schemeDigest:
		return h.digestAnswer()
	}
	return "", nil
}

// canDo: this client can answer scheme with its credentials.
func (h *handshake) canDo(scheme string) bool {
	switch scheme {
	case schemeBasic, schemeDigest:
		return h.creds.explicit
	case schemeNTLM:
		return h.creds.explicit || sspiAvailable(schemeNTLM)
	case schemeNegotiate:
		return sspiAvailable(schemeNegotiate) || kerberosAvailable(h.creds) || ccacheAvailable(h.creds)
	}
	return false
}

// pick chooses the challenge to answer: Negotiate (the OS login), then
// Digest (SHA-256 before MD5), NTLM, Basic.
func (h *handshake) pick(chs []challenge) *challenge {
	best, rank := -1, 99
	for i, c := range chs {
		r := 99
		switch c.scheme {
		case schemeNegotiate:
			r = 0
		case schemeDigest:
			r = 2
			if alg := strings.ToUpper(c.params["algorithm"]); strings.HasPrefix(alg, "SHA-256") {
				r = 1
			} else if alg != "" && !strings.HasPrefix(alg, "MD5") {
				r = 99 // SHA-512-256 and others: not offered by proxies we know
			}
		case schemeNTLM:
			r = 3
		case schemeBasic:
			r = 4
		}
		if r < rank && !h.triedSchemes[c.scheme] && h.canDo(c.scheme) {
			best, rank = i, r
		}
	}
	if best < 0 {
		return nil
	}
	return &chs[best]
}

// answer handles a 407: the next Proxy-Authorization to send, or a
// *ProxyAuthError when there is nothing (more) to try.
func (h *handshake) answer(resp *http.Response) (string, error) {
	chs := parseChallenges(resp.Header.Values("Proxy-Authenticate"))
	refused := &ProxyAuthError{Proxy: h.proxy, WithCredentials: h.sent != "" && h.creds.explicit}
	// mid-handshake of a connection-bound scheme: its next leg
	if h.conn != nil {
		for _, c := range chs {
			if c.scheme == h.sent && c.token != "" {
				in, err := base64.StdEncoding.DecodeString(c.token)
				if err != nil {
					return "", fmt.Errorf("proxy %s: bad %s challenge: %w", h.proxy, c.scheme, err)
				}
				out, err := h.conn.Step(in)
				if err != nil {
					return "", fmt.Errorf("proxy %s: %s login: %w", h.proxy, c.scheme, err)
				}
				if out == nil {
					return "", refused
				}
				return authHeader(c.scheme, out), nil
			}
		}
		// the proxy restarted the handshake or refused it
		h.conn.Close()
		h.conn = nil
		h.triedSchemes[h.sent] = true
		return "", refused
	}
	c := h.pick(chs)
	if c == nil {
		if h.creds.explicit && h.sent == "" && len(chs) > 0 {
			refused.Unsupported = schemeNames(chs)
		}
		return "", refused
	}
	switch c.scheme {
	case schemeBasic:
		if h.sent == schemeBasic {
			return "", refused
		}
		h.remember(schemeBasic, nil)
		h.sent = schemeBasic
		return basicAuth(h.creds), nil
	case schemeDigest:
		d, err := parseDigest(c.params)
		if err != nil {
			return "", fmt.Errorf("proxy %s: %w", h.proxy, err)
		}
		// Our answer refused without stale=true: the login is wrong —
		// unless it was a later use of its nonce (nc > 1): requests on
		// several connections reach the proxy out of nc order, which a
		// strict proxy refuses (squid says stale=true then). That one is
		// sent again with the new nonce (nc 1); a refused first use of a
		// nonce is the login's fault. A stale nonce only needs the next
		// one (other requests may use up nonces meanwhile: three tries).
		if h.sent == schemeDigest && (h.digestRetries >= 3 || !d.stale && h.sentNC <= 1) {
			return "", refused
		}
		if h.sent == schemeDigest {
			h.digestRetries++
		}
		h.remember(schemeDigest, d)
		return h.digestAnswer()
	default: // NTLM, Negotiate: a token-less challenge starts it
		hdr, err := h.startConn(c.scheme)
		if err != nil && c.scheme == schemeNegotiate {
			// no ticket (KDC unreachable, login refused): the next scheme
			h.triedSchemes[schemeNegotiate] = true
			h.sent = schemeNegotiate // a login was tried
			return h.answer(resp)
		}
		if err == nil {
			h.remember(c.scheme, nil)
		}
		return hdr, err
	}
}

// schemeNames lists the offered schemes for a message ("Negotiate, NTLM").
func schemeNames(chs []challenge) string {
	var names []string
	for _, c := range chs {
		n := c.scheme
		switch n {
		case schemeNTLM:
			n = "NTLM"
		default:
			n = strings.ToUpper(n[:1]) + n[1:]
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

func (h *handshake) remember(scheme string, d *digestChallenge) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	h.st.scheme = scheme
	if d != nil {
		if h.st.digest == nil || h.st.digest.nonce != d.nonce {
			h.st.nc = 0
		}
		h.st.digest = d
	}
}

func (h *handshake) startConn(scheme string) (string, error) {
	var ca connAuth
	var err error
	switch {
	case scheme == schemeNTLM && h.creds.explicit:
		ca = &ntlmAuth{user: h.creds.user, password: h.creds.password}
	case scheme == schemeNegotiate && h.creds.explicit && kerberosAvailable(h.creds):
		if ca, err = newKerberos(h.creds, h.proxyHost()); err != nil {
			return "", fmt.Errorf("proxy %s: negotiate: %w", h.proxy, err)
		}
	case scheme == schemeNegotiate && !h.creds.explicit && !sspiAvailable(schemeNegotiate):
		if ca, err = newKerberosCCache(h.proxyHost()); err != nil {
			return "", fmt.Errorf("proxy %s: negotiate: %w", h.proxy, err)
		}
	default: // Windows: SSPI, with the explicit user or the Windows login
		ca, err = newSSPI(scheme, h.proxyHost(), h.creds)
		if err != nil {
			return "", fmt.Errorf("proxy %s: %s login with the Windows account: %w", h.proxy, scheme, err)
		}
	}
	out, err := ca.Step(nil)
	if err != nil {
		ca.Close()
		return "", fmt.Errorf("proxy %s: %s login: %w", h.proxy, scheme, err)
	}
	h.conn, h.sent = ca, scheme
	return authHeader(scheme, out), nil
}

// proxyHost is the proxy's host name for a Kerberos service name
// (HTTP/host).
func (h *handshake) proxyHost() string {
	if u, err := url.Parse(h.proxy); err == nil {
		return u.Hostname()
	}
	return ""
}

// close ends a connection-bound login in progress.
func (h *handshake) close() {
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
}

func authHeader(scheme string, token []byte) string {
	name := "NTLM"
	if scheme == schemeNegotiate {
		name = "Negotiate"
	}
	return name + " " + base64.StdEncoding.EncodeToString(token)
}

func basicAuth(c credentials) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.password))
}

// ntlmAuth is NTLMv2 with explicit credentials: type 1, then type 3 for
// the proxy's type 2. A user "DOMAIN\name" carries the domain.
type ntlmAuth struct {
	user, password string
	leg            int
}

func (n *ntlmAuth) Step(in []byte) ([]byte, error) {
	n.leg++
	switch n.leg {
	case 1:
		return ntlmssp.NewNegotiateMessage("", "")
	case 2:
		return ntlmssp.NewAuthenticateMessage(repairChallenge(in), n.user, n.password, nil)
	}
	return nil, nil // a third challenge: refused
}

// ntlmTargetInfo is NTLMSSP_NEGOTIATE_TARGET_INFO.
const ntlmTargetInfo = 0x00800000

// repairChallenge rewrites a type 2 message whose Target Name field
// points outside the message, or that has no Target Info (the short,
// pre-NTLMv2 form, as squid's ntlm_fake_auth sends it: its Target Name
// offset is fill bytes), into the full form with those fields empty or
// moved behind the header; go-ntlmssp refuses the former. A well-formed
// message is returned as it is.
func repairChallenge(m []byte) []byte {
	if len(m) < 32 {
		return m
	}
	le := binary.LittleEndian
	field := func(at int) ([]byte, bool) {
		if at+8 > len(m) {
			return nil, false
		}
		l, off := uint64(le.Uint16(m[at:])), uint64(le.Uint32(m[at+4:]))
		if l == 0 {
			return nil, true
		}
		if off+l > uint64(len(m)) || off < 32 {
			return nil, false
		}
		return m[off : off+l], true
	}
	name, nameOK := field(12)
	hasInfo := le.Uint32(m[20:])&ntlmTargetInfo != 0 && len(m) >= 48
	var info []byte
	infoOK := true
	if hasInfo {
		info, infoOK = field(40)
	}
	if nameOK && hasInfo && infoOK {
		return m
	}
	out := make([]byte, 48, 48+len(name)+len(info))
	copy(out, m[:min(40, len(m))])
	put := func(at int, data []byte) {
		off := len(out)
		out = append(out, data...)
		le.PutUint16(out[at:], uint16(len(data)))
		le.PutUint16(out[at+2:], uint16(len(data)))
		le.PutUint32(out[at+4:], uint32(off))
	}
	put(12, name)
	put(40, info)
	return out
}

func (n *ntlmAuth) Close() {}

// digestChallenge is a parsed Digest challenge.
type digestChallenge struct {
	realm, nonce, opaque, algorithm string
	qop                             string // "auth" or "" (RFC 2069)
	stale, sess, userhash           bool
	newHash                         func() hash.Hash
}

func parseDigest(p map[string]string) (*digestChallenge, error) {
	d := &digestChallenge{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"], algorithm: p["algorithm"]}
	if d.nonce == "" {
		return nil, fmt.Errorf("digest challenge without a nonce")
	}
	d.stale = strings.EqualFold(p["stale"], "true")
	d.userhash = strings.EqualFold(p["userhash"], "true")
	alg := strings.ToUpper(d.algorithm)
	d.sess = strings.HasSuffix(alg, "-SESS")
	switch strings.TrimSuffix(alg, "-SESS") {
	case "", "MD5":
		d.newHash = md5.New
	case "SHA-256":
		d.newHash = sha256.New
	default:
		return nil, fmt.Errorf("digest algorithm %q is not supported", d.algorithm)
	}
	if q, ok := p["qop"]; ok {
		for _, o := range strings.Split(q, ",") {
			if strings.TrimSpace(strings.ToLower(o)) == "auth" {
				d.qop = "auth"
			}
		}
		if d.qop == "" {
			return nil, fmt.Errorf("digest qop %q: only auth is supported", q)
		}
	}
	return d, nil
}

func (d *digestChallenge) h(s string) string {
	x := d.newHash()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

// digestResponse computes the response for one request (RFC 7616 3.4.1).
func (d *digestChallenge) response(user, password, method, uri, cnonce string, nc uint32) string {
	ha1 := d.h(user + ":" + d.realm + ":" + password)
	if d.sess {
		ha1 = d.h(ha1 + ":" + d.nonce + ":" + cnonce)
	}
	ha2 := d.h(method + ":" + uri)
	if d.qop == "" {
		return d.h(ha1 + ":" + d.nonce + ":" + ha2)
	}
	return d.h(fmt.Sprintf("%s:%s:%08x:%s:%s:%s", ha1, d.nonce, nc, cnonce, d.qop, ha2))
}

// header is the Proxy-Authorization value.
func (d *digestChallenge) header(user, password, method, uri, cnonce string, nc uint32) string {
	name := user
	if d.userhash {
		name = d.h(user + ":" + d.realm)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%s, realm=%s, nonce=%s, uri=%s`, quote(name), quote(d.realm), quote(d.nonce), quote(uri))
	if d.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", d.algorithm)
	}
	fmt.Fprintf(&b, ", response=%s", quote(d.response(user, password, method, uri, cnonce, nc)))
	if d.opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", quote(d.opaque))
	}
	if d.qop != "" {
		fmt.Fprintf(&b, ", qop=%s, nc=%08x, cnonce=%s", d.qop, nc, quote(cnonce))
	}
	if d.userhash {
		b.WriteString(", userhash=true")
	}
	return b.String()
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// digestAnswer is the next Digest answer (nc counted in the shared state).
func (h *handshake) digestAnswer() (string, error) {
	h.st.mu.Lock()
	d := h.st.digest
	if d == nil {
		h.st.mu.Unlock()
		return "", nil
	}
	h.st.nc++
	nc := h.st.nc
	h.st.mu.Unlock()
	var cn [16]byte
	rand.Read(cn[:])
	h.sent, h.sentNonce, h.sentNC = schemeDigest, d.nonce, nc
	return d.header(h.creds.user, h.creds.password, h.method, h.uri, hex.EncodeToString(cn[:]), nc), nil
}
