package app

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// TestPACSTLSPrecedence: each DICOM TLS file comes from the policy
// (locked), else the command line, else BILDBOTE_PACS_*, else the user's
// settings; certificate and key always from one source; relative paths
// and a certificate without its key are refused in settings, policy and
// flags; a dicom:// target with tls=1 gets the files, one without gets no
// TLS.
func TestPACSTLSPrecedence(t *testing.T) {
	dir := t.TempDir()
	abs := func(n string) string { return filepath.Join(dir, n) }
	for _, v := range []string{PACSCAEnv, PACSCertEnv, PACSKeyEnv} {
		t.Setenv(v, "")
	}
	c, err := Open(Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.UpdateSettings(func(s *Settings) {
		s.PACSTLSCA, s.PACSTLSCert, s.PACSTLSKey = abs("user-ca.pem"), abs("user.pem"), abs("user.key")
	}); err != nil {
		t.Fatal(err)
	}
	if got := c.PACSTLS(); got != (PACSTLSFiles{abs("user-ca.pem"), abs("user.pem"), abs("user.key")}) {
		t.Errorf("from the settings: %+v", got)
	}
	t.Setenv(PACSCAEnv, abs("env-ca.pem"))
	t.Setenv(PACSKeyEnv, abs("env.key"))
	t.Setenv(PACSCertEnv, abs("env.pem"))
	if got := c.PACSTLS(); got != (PACSTLSFiles{abs("env-ca.pem"), abs("env.pem"), abs("env.key")}) {
		t.Errorf("from the environment: %+v", got)
	}
	if err := c.SetPACSTLSFlags(PACSTLSFiles{CA: abs("flag-ca.pem")}); err != nil {
		t.Fatal(err)
	}
	if got := c.PACSTLS(); got != (PACSTLSFiles{abs("flag-ca.pem"), abs("env.pem"), abs("env.key")}) {
		t.Errorf("CA from the flag, the pair from the environment: %+v", got)
	}
	// Read without opening the core (a test while the app runs): the same.
	if got, err := ResolvePACSTLS(Config{StateDir: c.stateDir, PolicyPath: writePolicy(t, "")}, PACSTLSFiles{CA: abs("flag-ca.pem")}); err != nil || got != c.PACSTLS() {
		t.Errorf("ResolvePACSTLS: %+v, %v; the core says %+v", got, err, c.PACSTLS())
	}
	tg, _ := ParsePACSTarget("dicom://PACS@pacs.klinik:2762?tls=1")
	if cfg := c.dimseConfig(tg); cfg.TLS == nil || cfg.TLS.CAFile != abs("flag-ca.pem") || cfg.TLS.CertFile != abs("env.pem") || cfg.TLS.KeyFile != abs("env.key") {
		t.Errorf("dimse config %+v", cfg.TLS)
	}
	tg, _ = ParsePACSTarget("dicom://PACS@pacs.klinik:104")
	if cfg := c.dimseConfig(tg); cfg.TLS != nil {
		t.Errorf("TLS %+v without tls=1", cfg.TLS)
	}

	for _, bad := range []PACSTLSFiles{{CA: "ca.pem"}, {Cert: abs("c.pem")}, {Key: abs("k.pem")}} {
		ue, ok := i18n.AsUserError(c.SetPACSTLSFlags(bad))
		if !ok || ue.Kind != i18n.KindInput || ue.Message(i18n.DE) == ue.Message(i18n.EN) {
			t.Errorf("flags %+v: %v", bad, ue)
		}
		err := c.UpdateSettings(func(s *Settings) { s.PACSTLSCA, s.PACSTLSCert, s.PACSTLSKey = bad.CA, bad.Cert, bad.Key })
		if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindInput {
			t.Errorf("settings %+v: %v", bad, err)
		}
	}

	pol := writePolicy(t, "pacs_tls_ca = \""+abs("policy-ca.pem")+"\"\npacs_tls_cert = \""+abs("policy.pem")+"\"\npacs_tls_key = \""+abs("policy.key")+"\"\n")
	c2, err := Open(Config{StateDir: t.TempDir(), PolicyPath: pol})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetPACSTLSFlags(PACSTLSFiles{CA: abs("flag-ca.pem"), Cert: abs("flag.pem"), Key: abs("flag.key")})
	if got := c2.PACSTLS(); got != (PACSTLSFiles{abs("policy-ca.pem"), abs("policy.pem"), abs("policy.key")}) {
		t.Errorf("policy: %+v", got)
	}
	if got, err := ResolvePACSTLS(Config{StateDir: c2.stateDir, PolicyPath: pol}, PACSTLSFiles{CA: abs("flag-ca.pem")}); err != nil || got != c2.PACSTLS() {
		t.Errorf("ResolvePACSTLS under the policy: %+v, %v", got, err)
	}
	if _, err := ResolvePACSTLS(Config{StateDir: c2.stateDir, PolicyPath: pol}, PACSTLSFiles{Cert: abs("c.pem")}); err == nil {
		t.Error("ResolvePACSTLS takes a certificate without its key")
	}
	for _, k := range []string{SettingPACSTLSCA, SettingPACSTLSCert, SettingPACSTLSKey} {
		if !c2.Locked(k) {
			t.Errorf("%s not locked by the policy", k)
		}
	}
	if err := c2.UpdateSettings(func(s *Settings) { s.PACSTLSCA = abs("mine.pem") }); !errors.Is(err, ErrLocked) {
		t.Errorf("changing the policy's CA file: %v, want ErrLocked", err)
	}
	for _, body := range []string{"pacs_tls_ca = \"ca.pem\"\n", "pacs_tls_cert = \"" + abs("c.pem") + "\"\n"} {
		if _, err := Open(Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, body)}); !errors.Is(err, ErrPolicy) {
			t.Errorf("policy %q: %v, want ErrPolicy", body, err)
		}
	}
}
