package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"

	"github.com/bildbote/bildbote/internal/fileutil"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// Settings are the effective settings: defaults, overridden by the user's
// settings file, overridden by the clinic policy. The JSON names are the
// policy file's TOML keys; Sender* and Referrer exist only for the user.
type Settings struct {
	PortalURL          string            `json:"portal_url"`
	AllowedPortals     []string          `json:"allowed_portals,omitempty"`
	DefaultInbox       string            `json:"default_inbox,omitempty"`
	PACSStowURL        string            `json:"pacs_stow_url,omitempty"`
	LibraryDir         string            `json:"library_dir"`
	BandwidthLimitKbps int               `json:"bandwidth_limit_kbps,omitempty"`
	ClinicMode         bool              `json:"clinic_mode,omitempty"`
	PinnedKeys         map[string]string `json:"pinned_keys,omitempty"`
	// RequiredSenderFields are the send form's fields a person must fill
	// in (SenderField*); nil: DefaultRequiredSender. Set by the policy
	// only (an empty list requires none).
	RequiredSenderFields []string `json:"required_sender_fields,omitempty"`
	// DeidentifyInboxes are the inbox codes every send to must be
	// de-identified ("*": every inbox). Set by the policy only.
	DeidentifyInboxes []string `json:"deidentify_inboxes,omitempty"`
	// MaxNetworkWaitMinutes: how long a transfer keeps trying while the
	// network or the server is away, without progress, before the job
	// fails (resumable); 0: DefaultNetworkWait (4 h). MaxBusyWaitMinutes:
	// the total a busy server (503) may make one download wait; 0:
	// DefaultBusyWait (4 h). Each single wait a server asks for is capped
	// at MaxBusyWaitEach (15 min) whatever it says.
	MaxNetworkWaitMinutes int `json:"max_network_wait_minutes,omitempty"`
	MaxBusyWaitMinutes    int `json:"max_busy_wait_minutes,omitempty"`
	// Proxy is an explicit proxy (http://host:port, no credentials) for
	// every request, loopback included; "": the policy's proxy_default,
	// else HTTPS_PROXY/HTTP_PROXY/NO_PROXY. Core.Proxy tells which one
	// is in use and why (--proxy and BILDBOTE_PROXY rank above it).
	Proxy string `json:"proxy,omitempty"`
	// ProxyPAC is a PAC file's address (file:// or http(s)://) for the
	// requests no explicit proxy takes; see Core.Proxy.
	ProxyPAC string `json:"proxy_pac,omitempty"`
	// ProxyUser is the proxy login's user name (DOMAIN\name for NTLM),
	// a policy may preset it; the password is never a setting (the OS
	// keyring, see app.Core.SetProxyLogin).
	ProxyUser string `json:"proxy_user,omitempty"`
	// CABundle is an extra CA bundle (an absolute path to PEM
	// certificates: a TLS-inspecting proxy's root CA) trusted besides
	// the OS trust store for every HTTPS request; HTTP1Only turns HTTP/2
	// off for proxies that break it. Core.TLS tells which values are in
	// use and why (--ca-bundle, BILDBOTE_CA_BUNDLE, --http1 rank above).
	CABundle  string `json:"ca_bundle,omitempty"`
	HTTP1Only bool   `json:"http1_only,omitempty"`
	// PACSTLSCA, PACSTLSCert and PACSTLSKey are the files DICOM TLS
	// (a dicom:// target with tls=1) uses: a PEM CA file trusted on top
	// of the OS trust store, and our client certificate and its key for a
	// PACS that requires one (see PACSTLS for --pacs-ca… and
	// BILDBOTE_PACS_CA…, which rank above the user's setting).
	PACSTLSCA   string `json:"pacs_tls_ca,omitempty"`
	PACSTLSCert string `json:"pacs_tls_cert,omitempty"`
	PACSTLSKey  string `json:"pacs_tls_key,omitempty"`

	// Remembered between sessions (send form); never locked.
	SenderName    string `json:"sender_name,omitempty"`
	SenderContact string `json:"sender_contact,omitempty"`
	Referrer      string `json:"referrer,omitempty"`
	// Language is "de", "en" or "" for the environment's.
	Language string `json:"language,omitempty"`
	// WindowWidth and WindowHeight are the main window's size when it was
	// last closed (Fyne units); 0: not known yet.
	WindowWidth  int `json:"window_width,omitempty"`
	WindowHeight int `json:"window_height,omitempty"`
}

// Setting names, as in the policy file. Every one the policy sets is locked.
const (
	SettingPortalURL          = "portal_url"
	SettingAllowedPortals     = "allowed_portals"
	SettingDefaultInbox       = "default_inbox"
	SettingPACSStowURL        = "pacs_stow_url"
	SettingLibraryDir         = "library_dir"
	SettingBandwidthLimitKbps = "bandwidth_limit_kbps"
	SettingClinicMode         = "clinic_mode"
	SettingPinnedKeys         = "pinned_keys"
	SettingRequiredSender     = "required_sender_fields"
	SettingDeidentifyInboxes  = "deidentify_inboxes"
	SettingMaxNetworkWait     = "max_network_wait_minutes"
	SettingMaxBusyWait        = "max_busy_wait_minutes"
	SettingProxy              = "proxy"
	SettingProxyPAC           = "proxy_pac"
	SettingProxyUser          = "proxy_user"
	SettingPACSTLSCA          = "pacs_tls_ca"
	SettingPACSTLSCert        = "pacs_tls_cert"
	SettingPACSTLSKey         = "pacs_tls_key"
	// SettingProxyDefault is a policy key that locks nothing: the proxy
	// when neither the user nor --proxy/BILDBOTE_PROXY names one.
	SettingProxyDefault = "proxy_default"
	SettingCABundle     = "ca_bundle"
	SettingHTTP1Only    = "http1_only"
)

// The send form's sender fields, as named in required_sender_fields.
const (
	SenderFieldName     = "sender_name"
	SenderFieldContact  = "sender_contact"
	SenderFieldReferrer = "referrer"
)

// DefaultRequiredSender is what a send needs without a policy saying
// otherwise: who sends, and how to reach them.
var DefaultRequiredSender = []string{SenderFieldName, SenderFieldContact}

// RequiredSender lists the sender fields a send needs (SenderField*).
func (s Settings) RequiredSender() []string {
	if s.RequiredSenderFields == nil {
		return append([]string(nil), DefaultRequiredSender...)
	}
	return append([]string(nil), s.RequiredSenderFields...)
}

// settingsLayer is one source of settings; nil means "not set here". The
// policy file decodes into it with the TOML tags, the user file with JSON.
type settingsLayer struct {
	PortalURL          *string           `toml:"portal_url" json:"portal_url,omitempty"`
	AllowedPortals     []string          `toml:"allowed_portals" json:"allowed_portals,omitempty"`
	DefaultInbox       *string           `toml:"default_inbox" json:"default_inbox,omitempty"`
	PACSStowURL        *string           `toml:"pacs_stow_url" json:"pacs_stow_url,omitempty"`
	LibraryDir         *string           `toml:"library_dir" json:"library_dir,omitempty"`
	BandwidthLimitKbps *int              `toml:"bandwidth_limit_kbps" json:"bandwidth_limit_kbps,omitempty"`
	ClinicMode         *bool             `toml:"clinic_mode" json:"clinic_mode,omitempty"`
	PinnedKeys         map[string]string `toml:"pinned_keys" json:"pinned_keys,omitempty"`
	// Policy only: layerFrom never records it for the user.
	RequiredSenderFields []string `toml:"required_sender_fields" json:"required_sender_fields,omitempty"`
	DeidentifyInboxes    []string `toml:"deidentify_inboxes" json:"-"`
	MaxNetworkWait       *int     `toml:"max_network_wait_minutes" json:"max_network_wait_minutes,omitempty"`
	MaxBusyWait          *int     `toml:"max_busy_wait_minutes" json:"max_busy_wait_minutes,omitempty"`
	Proxy                *string  `toml:"proxy" json:"proxy,omitempty"`
	ProxyPAC             *string  `toml:"proxy_pac" json:"proxy_pac,omitempty"`
	ProxyUser            *string  `toml:"proxy_user" json:"proxy_user,omitempty"`
	PACSTLSCA            *string  `toml:"pacs_tls_ca" json:"pacs_tls_ca,omitempty"`
	PACSTLSCert          *string  `toml:"pacs_tls_cert" json:"pacs_tls_cert,omitempty"`
	PACSTLSKey           *string  `toml:"pacs_tls_key" json:"pacs_tls_key,omitempty"`
	// Policy only, and never locks: see SettingProxyDefault.
	ProxyDefault *string `toml:"proxy_default" json:"-"`
	CABundle     *string `toml:"ca_bundle" json:"ca_bundle,omitempty"`
	HTTP1Only    *bool   `toml:"http1_only" json:"http1_only,omitempty"`

	// User-only keys: the policy decoder rejects them as unknown.
	SenderName    *string `toml:"-" json:"sender_name,omitempty"`
	SenderContact *string `toml:"-" json:"sender_contact,omitempty"`
	Referrer      *string `toml:"-" json:"referrer,omitempty"`
	Language      *string `toml:"-" json:"language,omitempty"`
	WindowWidth   *int    `toml:"-" json:"window_width,omitempty"`
	WindowHeight  *int    `toml:"-" json:"window_height,omitempty"`
}

// keys lists the policy-able names this layer sets.
func (l *settingsLayer) keys() []string {
	var k []string
	add := func(set bool, name string) {
		if set {
			k = append(k, name)
		}
	}
	add(l.PortalURL != nil, SettingPortalURL)
	add(l.AllowedPortals != nil, SettingAllowedPortals)
	add(l.DefaultInbox != nil, SettingDefaultInbox)
	add(l.PACSStowURL != nil, SettingPACSStowURL)
	add(l.LibraryDir != nil, SettingLibraryDir)
	add(l.BandwidthLimitKbps != nil, SettingBandwidthLimitKbps)
	add(l.ClinicMode != nil, SettingClinicMode)
	add(l.PinnedKeys != nil, SettingPinnedKeys)
	add(l.RequiredSenderFields != nil, SettingRequiredSender)
	add(l.DeidentifyInboxes != nil, SettingDeidentifyInboxes)
	add(l.MaxNetworkWait != nil, SettingMaxNetworkWait)
	add(l.MaxBusyWait != nil, SettingMaxBusyWait)
	add(l.Proxy != nil, SettingProxy)
	add(l.ProxyPAC != nil, SettingProxyPAC)
	add(l.ProxyUser != nil, SettingProxyUser)
	add(l.CABundle != nil, SettingCABundle)
	add(l.HTTP1Only != nil, SettingHTTP1Only)
	add(l.PACSTLSCA != nil, SettingPACSTLSCA)
	add(l.PACSTLSCert != nil, SettingPACSTLSCert)
	add(l.PACSTLSKey != nil, SettingPACSTLSKey)
	sort.Strings(k)
	return k
}

// clear unsets the policy-able setting name.
func (l *settingsLayer) clear(name string) {
	switch name {
	case SettingPortalURL:
		l.PortalURL = nil
	case SettingAllowedPortals:
		l.AllowedPortals = nil
	case SettingDefaultInbox:
		l.DefaultInbox = nil
	case SettingPACSStowURL:
		l.PACSStowURL = nil
	case SettingLibraryDir:
		l.LibraryDir = nil
	case SettingBandwidthLimitKbps:
		l.BandwidthLimitKbps = nil
	case SettingClinicMode:
		l.ClinicMode = nil
	case SettingPinnedKeys:
		l.PinnedKeys = nil
	case SettingRequiredSender:
		l.RequiredSenderFields = nil
	case SettingDeidentifyInboxes:
		l.DeidentifyInboxes = nil
	case SettingMaxNetworkWait:
		l.MaxNetworkWait = nil
	case SettingMaxBusyWait:
		l.MaxBusyWait = nil
	case SettingProxy:
		l.Proxy = nil
	case SettingProxyPAC:
		l.ProxyPAC = nil
	case SettingProxyUser:
		l.ProxyUser = nil
	case SettingCABundle:
		l.CABundle = nil
	case SettingHTTP1Only:
		l.HTTP1Only = nil
	case SettingPACSTLSCA:
		l.PACSTLSCA = nil
	case SettingPACSTLSCert:
		l.PACSTLSCert = nil
	case SettingPACSTLSKey:
		l.PACSTLSKey = nil
	}
}

// apply overrides s with everything the layer sets.
func (l *settingsLayer) apply(s *Settings) {
	setStr := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setStr(&s.PortalURL, l.PortalURL)
	if l.AllowedPortals != nil {
		s.AllowedPortals = append([]string(nil), l.AllowedPortals...)
	}
	setStr(&s.DefaultInbox, l.DefaultInbox)
	setStr(&s.PACSStowURL, l.PACSStowURL)
	setStr(&s.LibraryDir, l.LibraryDir)
	if l.BandwidthLimitKbps != nil {
		s.BandwidthLimitKbps = *l.BandwidthLimitKbps
	}
	if l.ClinicMode != nil {
		s.ClinicMode = *l.ClinicMode
	}
	if l.PinnedKeys != nil {
		s.PinnedKeys = map[string]string{}
		for k, v := range l.PinnedKeys {
			s.PinnedKeys[k] = v
		}
	}
	if l.RequiredSenderFields != nil {
		s.RequiredSenderFields = append([]string{}, l.RequiredSenderFields...)
	}
	if l.DeidentifyInboxes != nil {
		s.DeidentifyInboxes = append([]string{}, l.DeidentifyInboxes...)
	}
	if l.MaxNetworkWait != nil {
		s.MaxNetworkWaitMinutes = *l.MaxNetworkWait
	}
	if l.MaxBusyWait != nil {
		s.MaxBusyWaitMinutes = *l.MaxBusyWait
	}
	setStr(&s.Proxy, l.Proxy)
	setStr(&s.ProxyPAC, l.ProxyPAC)
	setStr(&s.ProxyUser, l.ProxyUser)
	setStr(&s.CABundle, l.CABundle)
	if l.HTTP1Only != nil {
		s.HTTP1Only = *l.HTTP1Only
	}
	setStr(&s.PACSTLSCA, l.PACSTLSCA)
	setStr(&s.PACSTLSCert, l.PACSTLSCert)
	setStr(&s.PACSTLSKey, l.PACSTLSKey)
	setStr(&s.SenderName, l.SenderName)
	setStr(&s.SenderContact, l.SenderContact)
	setStr(&s.Referrer, l.Referrer)
	setStr(&s.Language, l.Language)
	if l.WindowWidth != nil && l.WindowHeight != nil {
		s.WindowWidth, s.WindowHeight = *l.WindowWidth, *l.WindowHeight
	}
}

// layerFrom records every value of s as a user layer.
func layerFrom(s Settings) settingsLayer {
	str := func(v string) *string { return &v }
	l := settingsLayer{
		PortalURL:          str(s.PortalURL),
		DefaultInbox:       str(s.DefaultInbox),
		PACSStowURL:        str(s.PACSStowURL),
		LibraryDir:         str(s.LibraryDir),
		BandwidthLimitKbps: &s.BandwidthLimitKbps,
		ClinicMode:         &s.ClinicMode,
		SenderName:         str(s.SenderName),
		SenderContact:      str(s.SenderContact),
		Referrer:           str(s.Referrer),
		Language:           str(s.Language),
	}
	if s.Proxy != "" {
		l.Proxy = str(s.Proxy)
	}
	if s.ProxyPAC != "" {
		l.ProxyPAC = str(s.ProxyPAC)
	}
	if s.ProxyUser != "" {
		l.ProxyUser = str(s.ProxyUser)
	}
	if s.CABundle != "" {
		l.CABundle = str(s.CABundle)
	}
	if s.HTTP1Only {
		l.HTTP1Only = &s.HTTP1Only
	}
	for dst, v := range map[**string]string{&l.PACSTLSCA: s.PACSTLSCA, &l.PACSTLSCert: s.PACSTLSCert, &l.PACSTLSKey: s.PACSTLSKey} {
		if v != "" {
			*dst = str(v)
		}
	}
	if s.WindowWidth > 0 && s.WindowHeight > 0 {
		w, h := s.WindowWidth, s.WindowHeight
		l.WindowWidth, l.WindowHeight = &w, &h
	}
	if s.AllowedPortals != nil {
		l.AllowedPortals = append([]string(nil), s.AllowedPortals...)
	}
	if s.MaxNetworkWaitMinutes != 0 {
		n := s.MaxNetworkWaitMinutes
		l.MaxNetworkWait = &n
	}
	if s.MaxBusyWaitMinutes != 0 {
		n := s.MaxBusyWaitMinutes
		l.MaxBusyWait = &n
	}
	if s.PinnedKeys != nil {
		l.PinnedKeys = map[string]string{}
		for k, v := range s.PinnedKeys {
			l.PinnedKeys[k] = v
		}
	}
	return l
}

// ErrLocked is wrapped by the error of changing a setting the policy locks.
var ErrLocked = errors.New("setting locked by policy")

// LockedError says which setting the policy locks. It is returned wrapped
// in an *i18n.UserError of KindRefused; errors.Is(err, ErrLocked) holds.
type LockedError struct {
	Setting string
	Policy  string // the policy file's path
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by the policy %s", e.Setting, e.Policy)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// fieldOf returns the effective value of a policy-able setting, for
// comparing a requested change against the locked value.
func fieldOf(s Settings, name string) any {
	switch name {
	case SettingPortalURL:
		return s.PortalURL
	case SettingAllowedPortals:
		return s.AllowedPortals
	case SettingDefaultInbox:
		return s.DefaultInbox
	case SettingPACSStowURL:
		return s.PACSStowURL
	case SettingLibraryDir:
		return s.LibraryDir
	case SettingBandwidthLimitKbps:
		return s.BandwidthLimitKbps
	case SettingClinicMode:
		return s.ClinicMode
	case SettingPinnedKeys:
		return s.PinnedKeys
	case SettingRequiredSender:
		return s.RequiredSenderFields
	case SettingDeidentifyInboxes:
		return s.DeidentifyInboxes
	case SettingMaxNetworkWait:
		return s.MaxNetworkWaitMinutes
	case SettingMaxBusyWait:
		return s.MaxBusyWaitMinutes
	case SettingProxy:
		return s.Proxy
	case SettingProxyPAC:
		return s.ProxyPAC
	case SettingProxyUser:
		return s.ProxyUser
	case SettingCABundle:
		return s.CABundle
	case SettingHTTP1Only:
		return s.HTTP1Only
	case SettingPACSTLSCA:
		return s.PACSTLSCA
	case SettingPACSTLSCert:
		return s.PACSTLSCert
	case SettingPACSTLSKey:
		return s.PACSTLSKey
	}
	return nil
}

func sameValue(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() == reflect.Slice || va.Kind() == reflect.Map {
		if va.Len() == 0 && vb.Len() == 0 {
			return true
		}
	}
	return reflect.DeepEqual(a, b)
}

// settingsStore keeps the user's settings file (settings.json in the state
// dir) and merges it with the defaults and the policy.
type settingsStore struct {
	path     string
	defaults Settings
	override settingsLayer // from Config: above the user file, below the policy
	user     settingsLayer
	policy   *Policy
}

func loadSettingsStore(path string, defaults Settings, override settingsLayer, policy *Policy) (*settingsStore, error) {
	st := &settingsStore{path: path, defaults: defaults, override: override, policy: policy}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read settings %s: %w", path, err)
	default:
		if err := json.Unmarshal(data, &st.user); err != nil {
			return nil, i18n.NewError(i18n.KindInput, "app.settings-malformed", path).
				WithHint("app.settings-malformed.hint").Wrap(err)
		}
	}
	return st, nil
}

// effective merges default < user < config < policy.
func (st *settingsStore) effective() Settings {
	s := st.defaults
	st.user.apply(&s)
	st.override.apply(&s)
	st.policy.layer.apply(&s)
	return s
}

// save stores s as the user's settings after checking that it changes no
// locked value.
func (st *settingsStore) save(s Settings) error {
	cur := st.effective()
	for _, name := range st.policy.Keys() {
		if !sameValue(fieldOf(cur, name), fieldOf(s, name)) {
			return i18n.NewError(i18n.KindRefused, "app.setting-locked", name).
				WithHint("app.setting-locked.hint").
				Wrap(&LockedError{Setting: name, Policy: st.policy.Path})
		}
	}
	if s.Proxy != cur.Proxy && s.Proxy != "" {
		// no credentials in the settings file, and an address that works
		if _, err := httpclient.ParseProxy(s.Proxy); err != nil {
			return proxyBad(ProxyInfo{Source: ProxyFromSetting}, err)
		}
	}
	if s.ProxyUser != cur.ProxyUser && !validProxyUser(s.ProxyUser) { // proxylogin.go
		return i18n.NewError(i18n.KindInput, "app.proxylogin.bad-user")
	}
	if s.ProxyPAC != cur.ProxyPAC && s.ProxyPAC != "" {
		if _, err := pacChoice(s.ProxyPAC, ProxyFromSetting, ""); err != nil {
			return err
		}
	}
	if s.PACSTLSCA != cur.PACSTLSCA || s.PACSTLSCert != cur.PACSTLSCert || s.PACSTLSKey != cur.PACSTLSKey {
		if err := checkPACSTLSPaths(s.PACSTLSCA, s.PACSTLSCert, s.PACSTLSKey); err != nil {
			return err
		}
	}
	if s.CABundle != cur.CABundle && s.CABundle != "" {
		if err := checkCABundle(s.CABundle); err != nil { // absolute, and it loads
			return err
		}
	}
	if s.PACSStowURL != cur.PACSStowURL {
		// dicom://CALLED@host:port or http(s)://…/dicom-web
		if err := CheckPACSTarget(s.PACSStowURL); err != nil {
			return err
		}
	}
	layer := layerFrom(s)
	for _, name := range st.policy.Keys() {
		layer.clear(name) // the policy's value is not the user's choice
	}
	data, err := json.MarshalIndent(layer, "", "  ")
	if err != nil {
		return err
	}
	if err := fileutil.WriteFile(st.path, data, 0o600); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	st.user = layer
	return nil
}
