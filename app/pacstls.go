package app

import (
	"os"
	"path/filepath"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/dimse"
)

// The environment variables with DICOM TLS files (like --pacs-ca,
// --pacs-cert, --pacs-key): above the user's settings, below the
// command line and a policy.
const (
	PACSCAEnv   = "BILDBOTE_PACS_CA"
	PACSCertEnv = "BILDBOTE_PACS_CERT"
	PACSKeyEnv  = "BILDBOTE_PACS_KEY"
)

// PACSTLSFiles are the files DICOM TLS uses (a dicom:// target with
// tls=1): CA is a PEM file of certificates trusted on top of the OS
// trust store (the PACS's CA); Cert and Key our client certificate and
// its unencrypted key (PEM), for a PACS that requires one.
type PACSTLSFiles struct {
	CA, Cert, Key string
}

// SetPACSTLSFlags sets the command line's DICOM TLS files (--pacs-ca,
// --pacs-cert, --pacs-key; "" = not given). Paths must be absolute.
func (c *Core) SetPACSTLSFlags(f PACSTLSFiles) error {
	if err := checkPACSTLSPaths(f.CA, f.Cert, f.Key); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pacsTLSFlags = f
	return nil
}

// PACSTLS returns the DICOM TLS files in effect, each chosen in the order
// policy (pacs_tls_ca, pacs_tls_cert, pacs_tls_key: locked) > command line
// (SetPACSTLSFlags) > BILDBOTE_PACS_CA/_CERT/_KEY > the user's settings.
// The certificate and its key always come from the same source.
func (c *Core) PACSTLS() PACSTLSFiles {
	c.mu.Lock()
	pol := c.settings.policy.layer
	user := c.settings.effective()
	flags := c.pacsTLSFlags
	c.mu.Unlock()
	return pickPACSTLS(pol, user, flags)
}

// ResolvePACSTLS is Core.PACSTLS without opening the core: the policy
// (cfg.PolicyPath) and the settings file of cfg.StateDir are only read,
// so a connection test works while the app holds the state dir. flags
// are the command line's files (absolute paths).
func ResolvePACSTLS(cfg Config, flags PACSTLSFiles) (PACSTLSFiles, error) {
	if err := checkPACSTLSPaths(flags.CA, flags.Cert, flags.Key); err != nil {
		return PACSTLSFiles{}, err
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return PACSTLSFiles{}, err
		}
		stateDir = d
	}
	policy, err := LoadPolicy(cfg.PolicyPath)
	if err != nil {
		return PACSTLSFiles{}, err
	}
	st, err := loadSettingsStore(filepath.Join(stateDir, "settings.json"), Settings{}, settingsLayer{}, policy)
	if err != nil {
		return PACSTLSFiles{}, err
	}
	return pickPACSTLS(policy.layer, st.effective(), flags), nil
}

// pickPACSTLS chooses each file by the order of PACSTLS; user is the
// effective settings.
func pickPACSTLS(pol settingsLayer, user Settings, flags PACSTLSFiles) PACSTLSFiles {
	env := PACSTLSFiles{os.Getenv(PACSCAEnv), os.Getenv(PACSCertEnv), os.Getenv(PACSKeyEnv)}
	var out PACSTLSFiles
	switch {
	case pol.PACSTLSCA != nil:
		out.CA = *pol.PACSTLSCA
	case flags.CA != "":
		out.CA = flags.CA
	case env.CA != "":
		out.CA = env.CA
	default:
		out.CA = user.PACSTLSCA
	}
	switch {
	case pol.PACSTLSCert != nil || pol.PACSTLSKey != nil:
		out.Cert, out.Key = deref(pol.PACSTLSCert), deref(pol.PACSTLSKey)
	case flags.Cert != "" || flags.Key != "":
		out.Cert, out.Key = flags.Cert, flags.Key
	case env.Cert != "" || env.Key != "":
		out.Cert, out.Key = env.Cert, env.Key
	default:
		out.Cert, out.Key = user.PACSTLSCert, user.PACSTLSKey
	}
	return out
}

// dimseConfig is a dicom:// target's configuration with the DICOM TLS
// files in effect when it asks for TLS.
func (c *Core) dimseConfig(t PACSTarget) dimse.Config {
	cfg := *t.DIMSE
	if cfg.TLS != nil {
		f := c.PACSTLS()
		cfg.TLS = &dimse.TLSConfig{CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}
	}
	return cfg
}

// checkPACSTLSPaths: each file named is an absolute path (a setting or a
// policy must not depend on the folder a program starts in), and a
// client certificate comes with its key. Errors are *i18n.UserError of
// KindInput.
func checkPACSTLSPaths(ca, cert, key string) error {
	for _, p := range []string{ca, cert, key} {
		if p != "" && !filepath.IsAbs(p) {
			return i18n.NewError(i18n.KindInput, "app.pacs-tls.relative", p)
		}
	}
	if (cert == "") != (key == "") {
		return i18n.NewError(i18n.KindInput, "app.pacs-tls.half").WithHint("app.pacs-tls.half.hint")
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
