package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// policyFile is the policy file's content in the documented key order.
// omitempty leaves out what the installer was not given: a key that is
// present is locked, so writing defaults would lock them by accident.
type policyFile struct {
	PortalURL          string   `toml:"portal_url,omitempty"`
	AllowedPortals     []string `toml:"allowed_portals,omitempty"`
	DefaultInbox       string   `toml:"default_inbox,omitempty"`
	PACSStowURL        string   `toml:"pacs_stow_url,omitempty"`
	PACSTLSCA          string   `toml:"pacs_tls_ca,omitempty"`
	PACSTLSCert        string   `toml:"pacs_tls_cert,omitempty"`
	PACSTLSKey         string   `toml:"pacs_tls_key,omitempty"`
	LibraryDir         string   `toml:"library_dir,omitempty"`
	BandwidthLimitKbps *int     `toml:"bandwidth_limit_kbps,omitempty"`
	MaxNetworkWait     *int     `toml:"max_network_wait_minutes,omitempty"`
	MaxBusyWait        *int     `toml:"max_busy_wait_minutes,omitempty"`
	ClinicMode         *bool    `toml:"clinic_mode,omitempty"`
	// A pointer: "none" writes [] (no sender field required), which a
	// plain slice with omitempty would leave out.
	RequiredSenderFields *[]string         `toml:"required_sender_fields,omitempty"`
	DeidentifyInboxes    []string          `toml:"deidentify_inboxes,omitempty"`
	Proxy                string            `toml:"proxy,omitempty"`
	ProxyDefault         string            `toml:"proxy_default,omitempty"`
	ProxyPAC             string            `toml:"proxy_pac,omitempty"`
	ProxyUser            string            `toml:"proxy_user,omitempty"`
	CABundle             string            `toml:"ca_bundle,omitempty"`
	HTTP1Only            *bool             `toml:"http1_only,omitempty"`
	PinnedKeys           map[string]string `toml:"pinned_keys,omitempty"`
}

func (p *policyFile) empty() bool {
	return p.PortalURL == "" && p.AllowedPortals == nil && p.DefaultInbox == "" &&
		p.PACSStowURL == "" && p.PACSTLSCA == "" && p.PACSTLSCert == "" && p.PACSTLSKey == "" &&
		p.LibraryDir == "" && p.BandwidthLimitKbps == nil && p.MaxNetworkWait == nil &&
		p.MaxBusyWait == nil && p.ClinicMode == nil && p.RequiredSenderFields == nil && p.DeidentifyInboxes == nil &&
		p.Proxy == "" && p.ProxyDefault == "" && p.ProxyPAC == "" && p.ProxyUser == "" &&
		p.CABundle == "" && p.HTTP1Only == nil && p.PinnedKeys == nil
}

// request is one invocation: where to write and what.
type request struct {
	out    string
	check  string // --check FILE: only load FILE as the app would
	policy policyFile
}

// parseArgs reads the flags. Every value flag accepts "" as "not given",
// because msiexec substitutes unset properties with an empty string.
func parseArgs(args []string, stderr io.Writer) (*request, error) {
	fs := flag.NewFlagSet("bildbote-policywriter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	req := &request{}
	var allowed, pinned, bandwidth, clinic, netWait, busyWait, senders, http1, deid string
	fs.StringVar(&req.out, "out", app.DefaultPolicyPath(), "policy file to write")
	fs.StringVar(&req.check, "check", "", "only check FILE with the app's loader and list the keys it locks")
	fs.StringVar(&req.policy.PortalURL, "portal-url", "", "portal_url")
	fs.StringVar(&allowed, "allowed-portals", "", "allowed_portals, separated by ',' or ';'")
	fs.StringVar(&req.policy.DefaultInbox, "default-inbox", "", "default_inbox")
	fs.StringVar(&pinned, "pinned-key", "", "pinned_keys: FINGERPRINT (for --default-inbox) or CODE=FINGERPRINT;CODE=FINGERPRINT")
	fs.StringVar(&req.policy.PACSStowURL, "pacs-url", "", "pacs_stow_url")
	fs.StringVar(&req.policy.PACSTLSCA, "pacs-tls-ca", "", "pacs_tls_ca: absolute path of the PACS's CA certificate (PEM)")
	fs.StringVar(&req.policy.PACSTLSCert, "pacs-tls-cert", "", "pacs_tls_cert: absolute path of the client certificate (PEM), with --pacs-tls-key")
	fs.StringVar(&req.policy.PACSTLSKey, "pacs-tls-key", "", "pacs_tls_key: absolute path of the client certificate's key (PEM)")
	fs.StringVar(&req.policy.LibraryDir, "library-dir", "", "library_dir")
	fs.StringVar(&bandwidth, "bandwidth-limit-kbps", "", "bandwidth_limit_kbps")
	fs.StringVar(&netWait, "max-network-wait-minutes", "", "max_network_wait_minutes: 1 to 10080")
	fs.StringVar(&busyWait, "max-busy-wait-minutes", "", "max_busy_wait_minutes: 1 to 10080")
	fs.StringVar(&clinic, "clinic-mode", "", "clinic_mode: 1/0, true/false")
	fs.StringVar(&senders, "required-sender-fields", "", "required_sender_fields: sender_name, sender_contact, referrer separated by ',' or ';'; none: no field required")
	fs.StringVar(&deid, "deidentify-inboxes", "", "deidentify_inboxes: inbox codes whose sends must be de-identified, separated by ',' or ';'; * for every inbox")
	fs.StringVar(&req.policy.Proxy, "proxy", "", "proxy: http://host:port, locked")
	fs.StringVar(&req.policy.ProxyDefault, "proxy-default", "", "proxy_default: http://host:port, proposed (users may change it)")
	fs.StringVar(&req.policy.ProxyPAC, "proxy-pac", "", "proxy_pac: the PAC file's http(s):// or file:/// address, locked")
	fs.StringVar(&req.policy.ProxyUser, "proxy-user", "", "proxy_user: the proxy login's user name (DOMAIN\\name for NTLM); never a password")
	fs.StringVar(&req.policy.CABundle, "ca-bundle", "", "ca_bundle: absolute path of an extra CA bundle (PEM) trusted besides the OS store")
	fs.StringVar(&http1, "http1-only", "", "http1_only: 1/0, true/false")
	if err := fs.Parse(args); err != nil {
		return nil, i18n.NewError(i18n.KindInput, "packaging.policy-usage").Wrap(err)
	}
	if fs.NArg() > 0 {
		return nil, i18n.NewError(i18n.KindInput, "packaging.policy-usage").
			Wrap(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	p := &req.policy
	p.PortalURL = strings.TrimSpace(p.PortalURL)
	p.DefaultInbox = strings.TrimSpace(p.DefaultInbox)
	p.PACSStowURL = strings.TrimSpace(p.PACSStowURL)
	p.LibraryDir = strings.TrimSpace(p.LibraryDir)
	p.Proxy = strings.TrimSpace(p.Proxy)
	p.ProxyDefault = strings.TrimSpace(p.ProxyDefault)
	p.ProxyPAC = strings.TrimSpace(p.ProxyPAC)
	p.ProxyUser = strings.TrimSpace(p.ProxyUser)
	p.AllowedPortals = splitList(allowed)
	p.DeidentifyInboxes = splitList(deid)
	for _, f := range []struct {
		key string
		v   *string
	}{{app.SettingPACSTLSCA, &p.PACSTLSCA}, {app.SettingPACSTLSCert, &p.PACSTLSCert},
		{app.SettingPACSTLSKey, &p.PACSTLSKey}, {app.SettingCABundle, &p.CABundle}} {
		// The app takes these files only with an absolute path (msiexec
		// runs the writer in System32: a relative path would mean nothing).
		if *f.v = strings.TrimSpace(*f.v); *f.v != "" && !filepath.IsAbs(*f.v) {
			return nil, invalid(f.key, fmt.Errorf("%q is not an absolute path", *f.v))
		}
	}
	if senders = strings.TrimSpace(senders); strings.EqualFold(senders, "none") {
		p.RequiredSenderFields = &[]string{}
	} else if list := splitList(senders); list != nil {
		p.RequiredSenderFields = &list
	}
	var err error
	if p.PinnedKeys, err = parsePinned(pinned, p.DefaultInbox); err != nil {
		return nil, invalid("pinned_keys", err)
	}
	if bandwidth = strings.TrimSpace(bandwidth); bandwidth != "" {
		n, err := strconv.Atoi(bandwidth)
		if err != nil {
			return nil, invalid("bandwidth_limit_kbps", err)
		}
		p.BandwidthLimitKbps = &n
	}
	for _, f := range []struct {
		key, raw string
		v        **int
	}{{app.SettingMaxNetworkWait, netWait, &p.MaxNetworkWait}, {app.SettingMaxBusyWait, busyWait, &p.MaxBusyWait}} {
		if raw := strings.TrimSpace(f.raw); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil {
				return nil, invalid(f.key, err)
			}
			*f.v = &n
		}
	}
	for _, f := range []struct {
		key, raw string
		v        **bool
	}{{app.SettingClinicMode, clinic, &p.ClinicMode}, {app.SettingHTTP1Only, http1, &p.HTTP1Only}} {
		if raw := strings.TrimSpace(f.raw); raw != "" {
			b, err := parseBool(raw)
			if err != nil {
				return nil, invalid(f.key, err)
			}
			*f.v = &b
		}
	}
	return req, nil
}

func invalid(key string, err error) error {
	return i18n.NewError(i18n.KindInput, "packaging.policy-invalid", key).
		WithHint("packaging.policy-invalid.hint").Wrap(err)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parsePinned reads "FINGERPRINT" (pins the default inbox) or
// "CODE=FINGERPRINT;CODE=FINGERPRINT". Fingerprints keep their spaces: the
// file shows them as the clinic reads them out.
func parsePinned(s, defaultInbox string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	pins := map[string]string{}
	if !strings.Contains(s, "=") {
		if defaultInbox == "" {
			return nil, errors.New("a fingerprint without CODE= needs --default-inbox")
		}
		pins[defaultInbox] = s
		return pins, nil
	}
	for _, entry := range strings.Split(s, ";") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		code, fp, ok := strings.Cut(entry, "=")
		code, fp = strings.TrimSpace(code), strings.TrimSpace(fp)
		if !ok || code == "" || fp == "" {
			return nil, fmt.Errorf("%q is not CODE=FINGERPRINT", entry)
		}
		pins[code] = fp
	}
	return pins, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "on":
		return true, nil
	case "no", "off":
		return false, nil
	}
	return strconv.ParseBool(s)
}

// encode renders the policy as TOML with a header saying where it came from.
func (p *policyFile) encode() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Bildbote clinic policy, written by the installer (bildbote-policywriter).\n")
	buf.WriteString("# Every key present is locked for all users (proxy_default only proposes).\n# Documentation: policy.toml.example\n\n")
	if err := toml.NewEncoder(&buf).Encode(p); err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	return buf.Bytes(), nil
}

// apply writes the policy file unless nothing was given. It reports whether
// it wrote.
func (r *request) apply() (bool, error) {
	if r.policy.empty() {
		return false, nil
	}
	data, err := r.policy.encode()
	if err != nil {
		return false, err
	}
	dir := filepath.Dir(r.out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, writeError(r.out, err)
	}
	if err := protectDir(dir); err != nil {
		return false, writeError(r.out, err)
	}
	if err := writeChecked(r.out, data); err != nil {
		return false, err
	}
	return true, nil
}

// writeChecked writes data next to path, lets the app's loader judge it,
// and only then renames it over path.
func writeChecked(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".policy-*.toml")
	if err != nil {
		return writeError(path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return writeError(path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return writeError(path, err)
	}
	if err := tmp.Close(); err != nil {
		return writeError(path, err)
	}
	if _, err := app.LoadPolicy(tmp.Name()); err != nil {
		// The loader's message names the temporary file; what matters is
		// its detail, which names the key and why (no secret: proxy
		// addresses come without credentials).
		detail := err.Error()
		var ue *i18n.UserError
		if errors.As(err, &ue) {
			if ue.Key == "app.policy-malformed" && len(ue.Args) == 2 {
				detail = fmt.Sprint(ue.Args[1])
			}
			if ue.Err != nil {
				err = ue.Err
			}
		}
		return i18n.NewError(i18n.KindInput, "packaging.policy-rejected", detail).
			WithHint("packaging.policy-invalid.hint").Wrap(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return writeError(path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return writeError(path, err)
	}
	return nil
}

func writeError(path string, err error) error {
	return i18n.NewError(i18n.KindRefused, "packaging.policy-write-failed", path).
		WithHint("packaging.policy-write-failed.hint").Wrap(err)
}
