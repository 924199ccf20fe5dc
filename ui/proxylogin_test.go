package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/squid"
)

// A real squid with a Digest login between the window and the real
// portal: the inbox look-up fails with 407, the login dialog appears
// ("Der Proxy … verlangt eine Anmeldung"); Escape cancels it without a
// retry; typed again with Enter (user, then password, "Im Schlüsselbund
// speichern" checked) the look-up runs again and passes through squid as
// anna, the login is in the keyring (go-keyring's in-memory provider).
// A send started with a wrong login asks again ("abgelehnt"), and the
// right password sends it (through squid as anna).
func TestJourneyProxyLogin(t *testing.T) {
	keyring.MockInit()
	t.Setenv(app.KeyringEnv, "")
	p := startDemoPortal(t)
	sq := squid.Start(t, squid.Options{Auth: squid.Digest, Users: map[string]string{"anna": "geheim"}})
	cd := demoCD(t)
	lang := i18n.DE
	h := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir(), Proxy: sq.URL})
	s := h.u.send
	overlays := func() int { return len(h.canvas().Overlays().List()) }
	h.u.Dropped([]fyne.URI{storage.NewFileURI(cd.Dir)})
	h.waitFor("the scanned tree", func() bool { return s.result.Visible() })
	lookUp := func() {
		s.inboxCode.SetText(p.inbox)
		h.canvas().Focus(s.inboxCode)
		h.press(fyne.KeyReturn)
	}
	asks := i18n.T(lang, "ui.proxylogin.asks", sq.URL)
	lookUp()
	h.waitShown("the proxy login", func() bool { return h.showsAnywhere(asks) })
	h.mustShow(i18n.T(lang, "ui.proxylogin.save"), i18n.T(lang, "ui.proxylogin.user"), i18n.T(lang, "ui.proxylogin.password"))
	h.checkLanguage(lang, "proxy login", sq.URL)
	h.capture("proxy_login_de")
	if !strings.Contains(asks, "Der Proxy "+sq.URL+" verlangt eine Anmeldung") {
		t.Fatalf("German text: %q", asks)
	}
	h.press(fyne.KeyEscape)
	if overlays() != 0 || s.community != nil {
		t.Fatalf("Escape: %d dialogs open, community %v", overlays(), s.community)
	}
	lookUp()
	h.waitShown("the proxy login again", func() bool { return h.showsAnywhere(asks) })
	h.typeKeys("anna")
	h.press(fyne.KeyReturn) // on to the password
	h.typeKeys("geheim")
	test.Tap(h.u.proxySave)
	h.press(fyne.KeyReturn) // submits
	h.waitFor("the clinic after the login", func() bool { return s.community != nil })
	if overlays() != 0 {
		t.Fatalf("%d dialogs still open", overlays())
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "/api/v1/communities/"+p.inbox, " anna ")
	if v, err := keyring.Get(crypto.KeyringService, app.ProxyKeyringAccount); err != nil || !strings.Contains(v, `"anna"`) {
		t.Fatalf("keyring: %q, %v", v, err)
	}

	// The send refused for a wrong login: asked again, sent.
	if err := h.core.SetProxyLogin("anna", "verkehrt7", false); err != nil {
		t.Fatal(err)
	}
	s.senderName.SetText("Praxis Dr. Weber")
	s.senderMail.SetText("0201 12345")
	test.Tap(s.sendButton)
	test.Tap(s.confirmation.ok)
	refused := i18n.T(lang, "ui.proxylogin.refused", sq.URL)
	h.waitShown("the proxy login for the send", func() bool { return h.showsAnywhere(refused) })
	h.u.lastErr = nil
	h.typeKeys("geheim") // the user is filled in, the password has the focus
	h.press(fyne.KeyReturn)
	h.waitShown("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(lang, "ui.send.done", "")) })
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/204", "PATCH "+p.url+"/api/v1/uploads/", " anna ")
	if n := h.portalItems(p); n != 1 {
		t.Fatalf("%d envelopes on the portal", n)
	}
}

// Redeem through a real squid with a Digest login (English): the code's
// first step gets 407, the dialog asks, Enter runs the step again; then
// the save job fails on a login gone wrong, the dialog says it was
// refused, and the right password resumes the job until the studies are
// saved (the download in squid's log as anna).
func TestJourneyRedeemProxyLogin(t *testing.T) {
	t.Setenv(app.KeyringEnv, "off")
	p := startDemoPortal(t)
	code, staged, pat, _ := issueCode(t, p)
	sq := squid.Start(t, squid.Options{Auth: squid.Digest, Users: map[string]string{"anna": "geheim"}})
	lang := i18n.EN
	h := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir(),
		LookupTimeout: 10 * time.Second, RetryInitial: 20 * time.Millisecond, Proxy: sq.URL})
	r := h.u.redeem
	overlays := func() int { return len(h.canvas().Overlays().List()) }
	h.u.tabs.SelectIndex(1)
	h.typeCode(code.Code)
	h.press(fyne.KeyReturn)
	asks := i18n.T(lang, "ui.proxylogin.asks", sq.URL)
	h.waitShown("the proxy login", func() bool { return h.showsAnywhere(asks) })
	h.checkLanguage(lang, "proxy login", sq.URL)
	h.typeKeys("anna")
	h.press(fyne.KeyReturn)
	h.typeKeys("geheim")
	h.press(fyne.KeyReturn)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	if overlays() != 0 {
		t.Fatalf("%d dialogs open", overlays())
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "POST "+p.url+"/dlx/v1/tokentfa/", " anna ")

	if err := h.core.SetProxyLogin("anna", "verkehrt7", false); err != nil {
		t.Fatal(err)
	}
	h.press(fyne.KeySpace) // "Save all" has the focus
	refused := i18n.T(lang, "ui.proxylogin.refused", sq.URL)
	h.waitShown("the proxy login for the save", func() bool { return h.showsAnywhere(refused) })
	h.typeKeys("geheim") // the user is filled in, the password has the focus
	h.press(fyne.KeyReturn)
	h.waitShown("the saved studies", func() bool { return r.done.Visible() })
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+p.url+"/dlx/v1/download/", " anna ")
	if overlays() != 0 {
		t.Fatalf("%d dialogs open at the end", overlays())
	}
}
