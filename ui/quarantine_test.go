package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// Quarantine (clinic mode): an envelope sealed to another key arrives in
// the inbox; importing it fails once with the reason, the inbox screen
// then lists it under "could not be opened" with its reason, the portal's
// inbox is empty, and Delete (after the confirmation) removes it.
func TestFlowQuarantine(t *testing.T) {
	keyring.MockInit()
	p := startDemoPortal(t) // bM1X is sealed to a key this clinic does not have
	cd := demoCD(t)
	h := newHarnessWith(t, i18n.EN, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir()})
	if _, err := h.core.InitClinicKey(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sender, err := app.Open(app.Config{StateDir: t.TempDir(), PortalURL: p.url})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	ix, err := sender.Scan(ctx, []string{cd.Dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	job, err := sender.StartSend(ctx, app.SendRequest{Inbox: p.inbox, Index: ix, Sender: app.Sender{Name: "Praxis Dr. Weber"}, AcceptNewKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := sender.Wait(ctx, job.ID); err != nil || j.State != app.StateDone {
		t.Fatalf("send: %+v, %v", j, err)
	}

	h.u.showInboxTab(true)
	h.u.tabs.SelectIndex(2)
	s := h.u.inbox
	q := s.quarantine
	h.drain()
	if q.content.Visible() {
		t.Fatal("the quarantine shows while it is empty")
	}
	s.code.SetText(p.inbox)
	test.Type(s.apiKey, p.apiKey)
	test.Tap(s.refresh)
	h.waitFor("the envelope in the list", func() bool { return len(s.checks) == 1 })
	test.Tap(s.importB)
	h.waitFor("the quarantined envelope", func() bool { return q.content.Visible() && len(q.items) == 1 })
	reason := i18n.T(i18n.EN, "app.quarantine.reason.not-for-us")
	if !h.shows(reason) || !h.shows(i18n.T(i18n.EN, "ui.quarantine.title")) {
		t.Errorf("the screen does not show the quarantine with its reason %q:\n%s", reason, strings.Join(h.texts(), "\n"))
	}
	if !strings.Contains(s.status.Text, i18n.T(i18n.EN, "app.quarantined.not-for-us.hint")) {
		t.Errorf("status %q lacks what to do", s.status.Text)
	}
	if items, err := h.core.InboxList(ctx, "", p.inbox, p.apiKey); err != nil || len(items) != 0 {
		t.Errorf("portal inbox after the import: %v %v, want empty", items, err)
	}

	before := len(h.canvas().Overlays().List())
	q.confirmDelete(q.items[0])
	if len(h.canvas().Overlays().List()) != before+1 || !h.shows(i18n.T(i18n.EN, "ui.quarantine.deleteTitle")) {
		t.Fatal("Delete does not ask first")
	}
	h.canvas().Overlays().Top().Hide()
	q.remove(q.items[0].ID)
	h.waitFor("the emptied quarantine", func() bool { return !q.content.Visible() })
	if left, _ := h.core.Quarantine(); len(left) != 0 {
		t.Errorf("quarantine after delete: %v", left)
	}
}
