package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/internal/testkit/tlscert"
	"github.com/bildbote/bildbote/transfer/dimse"
)

// Settings' "Verbindung testen" on a dicom://…?tls=1 PACS (dcmtk storescp
// +tls in a private netns) says what is wrong with TLS in the reader's
// words, as `pacs test` does: a certificate from a CA this computer does
// not trust (with its subject and issuer, and what clinic IT does), a
// plain DICOM port under tls=1, a TLS port without it; with the clinic's
// CA file (here BILDBOTE_PACS_CA; the settings key pacs_tls_ca works the
// same) the C-ECHO passes; a PACS wanting a client certificate says so.
func TestSettingsPACSTestTLS(t *testing.T) { runInPrivateNet(t, "TestSettingsPACSTestTLSInside") }

func TestSettingsPACSTestTLSInside(t *testing.T) {
	insidePrivateNet(t)
	for _, v := range []string{app.PACSCAEnv, app.PACSCertEnv, app.PACSKeyEnv} {
		t.Setenv(v, "")
	}
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs.klinik.test", Names: []string{"127.0.0.1"}})
	secure := dicompeer.FreePort(t)
	dicompeer.Storescp(t, t.TempDir(), secure, "+tls", srv.KeyFile, srv.CertFile, "-ic")
	strict := dicompeer.FreePort(t)
	dicompeer.Storescp(t, t.TempDir(), strict, "+tls", srv.KeyFile, srv.CertFile, "-rc", "+cf", ca.CertFile)
	plain := dicompeer.FreePort(t)
	dicompeer.Storescp(t, t.TempDir(), plain)
	tlsTarget := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?tls=1", secure)
	for _, lang := range i18n.Langs {
		t.Setenv(app.PACSCAEnv, "")
		h := newHarness(t, lang)
		s := h.u.settings
		s.pacsTimeout = 2 * time.Second
		h.u.selectTab(len(h.u.tabs.Items) - 1)
		try := func(target string) string {
			t.Helper()
			s.pacs.SetText(target)
			test.Tap(s.pacsTest)
			h.waitShown("the answer for "+target, func() bool {
				return !s.pacsTest.Disabled() && s.status.Text != i18n.T(lang, "ui.settings.pacsTesting")
			})
			h.checkLanguage(lang, "the PACS test of "+target, target)
			t.Logf("%s: %s → %s", lang, target, s.status.Text)
			return s.status.Text
		}
		addr := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
		subject, issuer := srv.Cert.Subject.String(), srv.Cert.Issuer.String()
		for target, want := range map[string][]string{
			tlsTarget: {i18n.T(lang, "dimse.tls.untrusted", addr(secure), subject, issuer, dimse.Fingerprint256(srv.Cert)), i18n.T(lang, "dimse.tls.untrusted.hint")},
			fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?tls=1", plain): {i18n.T(lang, "dimse.tls.plain_port", addr(plain)), i18n.T(lang, "dimse.tls.plain_port.hint")},
			fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", secure):      {i18n.T(lang, "dimse.tls.tls_port", addr(secure)), i18n.T(lang, "dimse.tls.tls_port.hint")},
		} {
			got := try(target)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s: testing %s shows %q, want %q in it", lang, target, got, w)
				}
			}
		}
		t.Setenv(app.PACSCAEnv, ca.CertFile)
		if got := try(tlsTarget); got != i18n.T(lang, "ui.settings.pacsEchoOK") {
			t.Errorf("%s: with the clinic's CA file: %q", lang, got)
		}
		if got := try(fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?tls=1", strict)); !strings.Contains(got, i18n.T(lang, "dimse.tls.client_cert_required", addr(strict))) {
			t.Errorf("%s: a PACS wanting a client certificate: %q", lang, got)
		}
	}
}
