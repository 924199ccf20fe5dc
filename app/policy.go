package app

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/proxy"
)

// PolicyEnv names the environment variable that overrides the policy file's
// path (tests, and admins who keep it elsewhere).
const PolicyEnv = "BILDBOTE_POLICY"

// DefaultPolicyPath is where clinic IT puts the policy file on this OS.
func DefaultPolicyPath() string {
	switch runtime.GOOS {
	case "windows":
		dir := os.Getenv("ProgramData")
		if dir == "" {
			dir = `C:\ProgramData`
		}
		return filepath.Join(dir, "Bildbote", "policy.toml")
	case "darwin":
		return "/Library/Application Support/Bildbote/policy.toml"
	default:
		if os.Getenv("FLATPAK_ID") != "" {
			// Inside the Flatpak sandbox the host's /etc is mounted here
			// (--filesystem=host-etc:ro in the manifest).
			return "/run/host/etc/bildbote/policy.toml"
		}
		return "/etc/bildbote/policy.toml"
	}
}

// policyPath returns the path to read: explicit, then BILDBOTE_POLICY, then
// the OS default. explicitNamed says whether a missing file is an error
// (a named file that does not exist is a typo worth reporting).
func policyPath(explicit string) (path string, explicitNamed bool) {
	if explicit != "" {
		return explicit, true
	}
	if env := os.Getenv(PolicyEnv); env != "" {
		return env, true
	}
	return DefaultPolicyPath(), false
}

// Policy is the clinic's policy file as read: which keys it sets. Every key
// present is locked: user settings never override it — except
// proxy_default, a proposal below the user's own proxy setting.
type Policy struct {
	// Path is the file the policy came from; empty when there is none.
	Path  string
	layer settingsLayer
}

// Keys lists the setting names the policy locks, sorted.
func (p *Policy) Keys() []string {
	if p == nil {
		return nil
	}
	return p.layer.keys()
}

// Locks reports whether the policy locks the setting name (a TOML key such
// as "portal_url").
func (p *Policy) Locks(name string) bool {
	if p == nil {
		return false
	}
	for _, k := range p.layer.keys() {
		if k == name {
			return true
		}
	}
	return false
}

// LoadPolicy reads the policy file at path ("" = BILDBOTE_POLICY or the OS
// default). A missing default file means no policy; a file that exists but
// is malformed — bad TOML, an unknown key, a wrong type, an invalid value —
// is an *i18n.UserError wrapping ErrPolicy, never a silent default.
func LoadPolicy(path string) (*Policy, error) {
	p, named := policyPath(path)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) && !named {
		return &Policy{}, nil
	}
	if err != nil {
		return nil, policyError(p, err.Error())
	}
	var layer settingsLayer
	md, err := toml.Decode(string(data), &layer)
	if err != nil {
		return nil, policyError(p, err.Error())
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		names := make([]string, len(undecoded))
		for i, k := range undecoded {
			names[i] = k.String()
		}
		sort.Strings(names)
		return nil, policyError(p, "unknown key(s): "+strings.Join(names, ", "))
	}
	if err := layer.validate(); err != nil {
		return nil, policyError(p, err.Error())
	}
	return &Policy{Path: p, layer: layer}, nil
}

// ErrPolicy is wrapped by every malformed-policy error.
var ErrPolicy = errors.New("malformed policy file")

func policyError(path, detail string) error {
	return i18n.NewError(i18n.KindInput, "app.policy-malformed", path, detail).
		WithHint("app.policy-malformed.hint").
		Wrap(ErrPolicy)
}

// validate checks values a TOML decoder accepts but Bildbote cannot use.
func (l *settingsLayer) validate() error {
	if l.PortalURL != nil {
		if err := checkHTTPURL("portal_url", *l.PortalURL); err != nil {
			return err
		}
	}
	for _, u := range l.AllowedPortals {
		if err := checkHTTPURL("allowed_portals", u); err != nil {
			return err
		}
	}
	if l.PortalURL != nil && l.AllowedPortals != nil && !portalAllowed(*l.PortalURL, l.AllowedPortals) {
		return fmt.Errorf("portal_url %q is not among allowed_portals", *l.PortalURL)
	}
	if l.PACSStowURL != nil && *l.PACSStowURL != "" {
		// The PACS target in either notation: dicom://… or http(s)://….
		if err := CheckPACSTarget(*l.PACSStowURL); err != nil {
			return fmt.Errorf("pacs_stow_url: %w", err)
		}
	}
	if err := checkPACSTLSPaths(deref(l.PACSTLSCA), deref(l.PACSTLSCert), deref(l.PACSTLSKey)); err != nil {
		return err
	}
	if l.LibraryDir != nil && !filepath.IsAbs(*l.LibraryDir) {
		return fmt.Errorf("library_dir %q must be an absolute path", *l.LibraryDir)
	}
	if l.BandwidthLimitKbps != nil && *l.BandwidthLimitKbps < 0 {
		return fmt.Errorf("bandwidth_limit_kbps must not be negative, is %d", *l.BandwidthLimitKbps)
	}
	for name, v := range map[string]*int{SettingMaxNetworkWait: l.MaxNetworkWait, SettingMaxBusyWait: l.MaxBusyWait} {
		if v != nil && (*v < 1 || *v > 7*24*60) {
			return fmt.Errorf("%s must be between 1 and 10080 (a week), is %d", name, *v)
		}
	}
	if l.DefaultInbox != nil && !validInboxCode(*l.DefaultInbox) {
		return fmt.Errorf("default_inbox %q is not an inbox code", *l.DefaultInbox)
	}
	for _, c := range l.DeidentifyInboxes {
		if c != "*" && !validInboxCode(c) {
			return fmt.Errorf("%s: %q is not an inbox code (or \"*\" for every inbox)", SettingDeidentifyInboxes, c)
		}
	}
	for _, f := range l.RequiredSenderFields {
		if f != SenderFieldName && f != SenderFieldContact && f != SenderFieldReferrer {
			return fmt.Errorf("required_sender_fields: %q is none of %s, %s, %s", f, SenderFieldName, SenderFieldContact, SenderFieldReferrer)
		}
	}
	if l.ProxyPAC != nil && *l.ProxyPAC != "" {
		if err := proxy.CheckPACURL(*l.ProxyPAC); err != nil {
			return fmt.Errorf("%s: %w", SettingProxyPAC, err)
		}
	}
	for name, v := range map[string]*string{SettingProxy: l.Proxy, SettingProxyDefault: l.ProxyDefault} {
		if v != nil && *v != "" {
			if _, err := httpclient.ParseProxy(*v); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if l.CABundle != nil && *l.CABundle != "" && !filepath.IsAbs(*l.CABundle) {
		return fmt.Errorf("ca_bundle %q must be an absolute path", *l.CABundle)
	}
	for inbox, fp := range l.PinnedKeys {
		if !validInboxCode(inbox) {
			return fmt.Errorf("pinned_keys: %q is not an inbox code", inbox)
		}
		if NormalizeFingerprint(fp) == "" {
			return fmt.Errorf("pinned_keys.%s: %q is not a key fingerprint", inbox, fp)
		}
	}
	return nil
}

func checkHTTPURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s %q is not an http(s) URL", key, raw)
	}
	return nil
}

// validInboxCode accepts the short community codes (letters and digits).
func validInboxCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// NormalizeFingerprint strips spaces and upper-cases a fingerprint as a
// person types it; "" when what is left is not base32.
func NormalizeFingerprint(fp string) string {
	var b strings.Builder
	for _, r := range fp {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '2' && r <= '7':
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() < 16 {
		return ""
	}
	return b.String()
}

// portalAllowed compares portal roots without a trailing slash.
func portalAllowed(portal string, allowed []string) bool {
	p := strings.TrimRight(portal, "/")
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimRight(a, "/"), p) {
			return true
		}
	}
	return false
}
