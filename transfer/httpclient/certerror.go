package httpclient

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// CertError: the server's certificate failed verification. It says which
// certificate was seen, for which host, and why — for the person (the
// translated message and hint) and for a GUI or `doctor` (the fields).
// It carries only what the server sent in the clear: no secrets.
// transfer.Classify calls it Permanent "tls".
//
// The fields, for callers that show them:
//
//   - Host: the host (and port) the request went to, as in the URL.
//   - Reason: CertUnknownAuthority, CertExpired, CertNotYetValid,
//     CertHostname or CertOther.
//   - Subject, Issuer: the leaf's subject and issuer as "CN=…, O=…"
//     (only CN and O, the parts a person recognises).
//   - NotBefore, NotAfter: the leaf's validity.
//   - Fingerprint: SHA-256 of the leaf's DER, upper-case hex pairs joined
//     by ':'; ShortFingerprint is its first 8 pairs.
//   - Inspecting: the chain does not lead to a CA this computer trusts
//     (unknown authority), which behind a clinic's proxy most often means
//     TLS inspection: the proxy shows a certificate of its own CA.
//   - Product: the inspecting product when the issuer names a known one
//     (Zscaler, Fortinet, Squid, …), else "".
//   - Chain: the certificates as the server (or the proxy) sent them,
//     leaf first, unverified.
type CertError struct {
	Host        string
	Reason      string
	Subject     string
	Issuer      string
	NotBefore   time.Time
	NotAfter    time.Time
	Fingerprint string
	Inspecting  bool
	Product     string
	Chain       []*x509.Certificate
	Err         error
}

// CertError.Reason values.
const (
	CertUnknownAuthority = "unknown-authority"
	CertExpired          = "expired"
	CertNotYetValid      = "not-yet-valid"
	CertHostname         = "hostname"
	CertOther            = "other"
)

func (e *CertError) Error() string {
	return fmt.Sprintf("TLS certificate of %s not trusted (%s): subject %s, issuer %s, valid %s to %s, SHA-256 %s: %v",
		e.Host, e.Reason, e.Subject, e.Issuer, e.NotBefore.UTC().Format(time.RFC3339), e.NotAfter.UTC().Format(time.RFC3339), e.ShortFingerprint(), e.Err)
}

// ShortFingerprint is the first 8 byte pairs of Fingerprint ("AB:CD:…").
func (e *CertError) ShortFingerprint() string {
	if len(e.Fingerprint) > 8*3-1 {
		return e.Fingerprint[:8*3-1]
	}
	return e.Fingerprint
}

// Classification implements transfer.Classifier: Permanent "tls".
func (e *CertError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonTLS}
}

// Unwrap is the translated message with the hint, wrapping the cause.
func (e *CertError) Unwrap() error {
	valid := validity{e.NotBefore, e.NotAfter}
	var ue *i18n.UserError
	switch {
	case e.Inspecting && e.Product != "":
		ue = i18n.NewError(i18n.KindRefused, "transfer.tls.cert.inspecting-product", e.Host, e.Subject, e.Issuer, valid, e.ShortFingerprint(), e.Product).
			WithHint("transfer.tls.cert.inspecting.hint")
	case e.Inspecting:
		ue = i18n.NewError(i18n.KindRefused, "transfer.tls.cert.inspecting", e.Host, e.Subject, e.Issuer, valid, e.ShortFingerprint()).
			WithHint("transfer.tls.cert.inspecting.hint")
	case e.Reason == CertExpired:
		ue = i18n.NewError(i18n.KindRefused, "transfer.tls.cert.expired", e.Host, e.Subject, e.Issuer, valid, e.ShortFingerprint()).
			WithHint("transfer.tls.cert.time.hint")
	case e.Reason == CertNotYetValid:
		ue = i18n.NewError(i18n.KindRefused, "transfer.tls.cert.not-yet-valid", e.Host, e.Subject, e.Issuer, valid, e.ShortFingerprint()).
			WithHint("transfer.tls.cert.time.hint")
	case e.Reason == CertHostname:
		ue = i18n.NewError(i18n.KindRefused, "transfer.tls.cert.hostname", e.Host, e.Subject, e.Issuer, valid, e.ShortFingerprint()).
			WithHint("transfer.tls.cert.hostname.hint")
	default:
		ue = i18n.NewError(i18n.KindRefused, "transfer.tls.cert.other", e.Host, e.Subject, e.Issuer, valid, e.ShortFingerprint()).
			WithHint("transfer.tls.cert.inspecting.hint")
	}
	return ue.Wrap(e.Err)
}

// IsCertError reports whether err is a certificate verification failure
// and returns it.
func IsCertError(err error) (*CertError, bool) {
	var ce *CertError
	ok := errors.As(err, &ce)
	return ce, ok
}

// validity renders "2026-12-04 to 2027-03-04" in the reader's language.
type validity struct{ from, to time.Time }

// String is the form kept where a message is stored without its
// language (a job's error): ISO dates, "2026-12-04 – 2027-03-04".
func (v validity) String() string {
	return i18n.Date(v.from.UTC()).String() + " – " + i18n.Date(v.to.UTC()).String()
}

// Localize implements i18n.Localizer.
func (v validity) Localize(lang i18n.Lang) string {
	word := " to "
	if lang == i18n.DE {
		word = " bis "
	}
	return i18n.Date(v.from.UTC()).Localize(lang) + word + i18n.Date(v.to.UTC()).Localize(lang)
}

// tlsFailure maps a TLS error of a request to host: a *CertError when a
// certificate was seen and refused, else a *transfer.TLSError (a failed
// handshake: an alert, a protocol mismatch).
func tlsFailure(host string, err error) error {
	var te *transfer.TLSError
	if errors.As(err, &te) && te.Host != "" {
		host = te.Host // the handshake that failed was another's: an https proxy's
	}
	ce := certError(host, err)
	if ce == nil {
		return &transfer.TLSError{Host: host, Err: err}
	}
	return ce
}

func certError(host string, err error) *CertError {
	var chain []*x509.Certificate
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		chain = verr.UnverifiedCertificates
	}
	reason := CertOther
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		reason = CertUnknownAuthority
		if len(chain) == 0 && unknown.Cert != nil {
			chain = []*x509.Certificate{unknown.Cert}
		}
	case errors.As(err, &hostErr):
		reason = CertHostname
		if len(chain) == 0 && hostErr.Certificate != nil {
			chain = []*x509.Certificate{hostErr.Certificate}
		}
	case errors.As(err, &invalid):
		if len(chain) == 0 && invalid.Cert != nil {
			chain = []*x509.Certificate{invalid.Cert}
		}
		if invalid.Reason == x509.Expired && len(chain) > 0 {
			reason = CertExpired
			if time.Now().Before(chain[0].NotBefore) {
				reason = CertNotYetValid
			}
		}
	}
	if len(chain) == 0 {
		return nil
	}
	leaf := chain[0]
	ce := &CertError{
		Host: host, Reason: reason, Subject: name(leaf.Subject), Issuer: name(leaf.Issuer),
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Fingerprint: Fingerprint(leaf.Raw),
		Inspecting: reason == CertUnknownAuthority, Chain: chain, Err: err,
	}
	if ce.Inspecting {
		ce.Product = inspector(chain)
	}
	return ce
}

// name renders CN and O, the parts a person recognises ("CN=x, O=y").
func name(n pkix.Name) string {
	var parts []string
	if n.CommonName != "" {
		parts = append(parts, "CN="+n.CommonName)
	}
	for _, o := range n.Organization {
		parts = append(parts, "O="+o)
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

// Fingerprint is the SHA-256 of a certificate's DER as CertError shows
// it: upper-case hex pairs joined by ':'.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var s strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteString(h[i : i+2])
	}
	return s.String()
}

// inspectors are TLS-inspecting products as their CAs name themselves
// (issuer CN or O), lower case → how they are called.
var inspectors = []struct{ match, name string }{
	{"zscaler", "Zscaler"}, {"fortinet", "Fortinet FortiGate"}, {"fortigate", "Fortinet FortiGate"},
	{"palo alto", "Palo Alto Networks"}, {"sophos", "Sophos"}, {"blue coat", "Blue Coat / Symantec ProxySG"},
	{"bluecoat", "Blue Coat / Symantec ProxySG"}, {"cisco umbrella", "Cisco Umbrella"}, {"checkpoint", "Check Point"},
	{"check point", "Check Point"}, {"barracuda", "Barracuda"}, {"watchguard", "WatchGuard"},
	{"securepoint", "Securepoint"}, {"sonicwall", "SonicWall"}, {"kaspersky", "Kaspersky"},
	{"avast", "Avast"}, {"bitdefender", "Bitdefender"},
	{"mcafee", "McAfee"}, {"netskope", "Netskope"}, {"forcepoint", "Forcepoint"}, {"squid", "Squid"},
	{"untangle", "Untangle"}, {"opnsense", "OPNsense"}, {"pfsense", "pfSense"}, {"mitmproxy", "mitmproxy"},
}

// inspector names the product whose CA issued the chain, when known.
func inspector(chain []*x509.Certificate) string {
	for _, c := range chain {
		for _, n := range []pkix.Name{c.Issuer, c.Subject} {
			s := strings.ToLower(n.CommonName + " " + strings.Join(n.Organization, " ") + " " + strings.Join(n.OrganizationalUnit, " "))
			for _, in := range inspectors {
				if strings.Contains(s, in.match) {
					return in.name
				}
			}
		}
	}
	return ""
}
