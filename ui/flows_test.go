package ui

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

// demoPortal is the real reference portal on loopback with one clinic
// inbox, like `bildbote-portal demo` seeds it.
type demoPortal struct {
	dir    string
	url    string
	inbox  string
	name   string
	apiKey string
	admin  *portal.Session
}

func startDemoPortal(t *testing.T) *demoPortal {
	t.Helper()
	dir := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	if err := srv.ListenAdmin(); err != nil {
		t.Fatal(err)
	}
	admin, err := portal.OpenAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	id, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	p := &demoPortal{dir: dir, url: ts.URL, inbox: "bM1X", name: "Radiologie Am Dom", admin: admin}
	res, err := admin.AddCommunity(context.Background(), portal.AddCommunityRequest{
		Code: p.inbox, Name: p.name, Recipients: []string{id.Recipient().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.apiKey = res.APIKey
	return p
}

// newFlowHarness is a UI whose core talks to p.
func newFlowHarness(t *testing.T, lang i18n.Lang, p *demoPortal) *harness {
	t.Helper()
	return newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir()})
}

func demoCD(t *testing.T) *gencd.Result {
	t.Helper()
	cd, err := gencd.Generate(filepath.Join(t.TempDir(), "cd"), gencd.Options{Files: gencd.MinFiles + 4, PixelSize: 16, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return cd
}

// waitFor runs queued UI updates until cond holds (the flows run on the
// core's goroutines against the real portal).
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h.drain()
		if cond() {
			return
		}
		if err := h.u.lastErr; err != nil {
			h.t.Fatalf("waiting for %s: the UI showed an error: %v", what, err)
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("waiting for %s: gave up; the screen shows:\n%s", what, strings.Join(h.texts(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// texts is every text a person can see on the window, dialogs included.
func (h *harness) texts() []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
		case *widget.Check:
			out = append(out, w.Text)
		case *widget.Button:
			out = append(out, w.Text)
		}
		switch w := o.(type) {
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(w).Objects() {
				walk(c)
			}
		}
	}
	walk(h.canvas().Content())
	for _, o := range h.canvas().Overlays().List() {
		walk(o)
	}
	return out
}

// shows reports whether some visible text contains s.
func (h *harness) shows(s string) bool {
	for _, t := range h.texts() {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// Scan: dropping a CD shows live progress, then the patient → study →
// series tree with counts, the several-patients warning and the patient
// fields pre-filled; studies can be unchecked.
func TestFlowScan(t *testing.T) {
	cd := demoCD(t)
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		s := h.u.send
		h.u.Dropped([]fyne.URI{storage.NewFileURI(cd.Dir)})
		if !s.progressBox.Visible() {
			t.Error("no progress while scanning")
		}
		h.waitFor("the scanned tree", func() bool { return s.result.Visible() })
		h.capture("send_scanned_" + string(lang))
		if !h.shows(h.u.summaryText(len(cd.Patients), cd.Files, cd.Bytes)) {
			t.Errorf("summary not shown; screen:\n%s", strings.Join(h.texts(), "\n"))
		}
		if len(cd.Patients) > 1 && !s.warning.Visible() {
			t.Error("no warning for a medium with several patients")
		}
		if got, want := s.patientName.Text, dicomscan.FormatName(cd.Patients[0].Name); got != want {
			t.Errorf("patient field = %q, want %q from DICOM", got, want)
		}
		all := len(s.tree.SelectedStudies())
		s.tree.setChecked("0", false)
		if got, want := s.patientName.Text, dicomscan.FormatName(cd.Patients[1].Name); got != want {
			t.Errorf("patient field after unchecking the first = %q, want %q", got, want)
		}
		s.tree.setChecked("0", true)
		s.tree.setChecked("1", false)
		if got, want := len(s.tree.SelectedStudies()), len(cd.Patients[0].Studies); got != want || all <= want {
			t.Errorf("after unchecking patient 2: %d studies selected, want %d (of %d)", got, want, all)
		}
		test.Tap(s.rescan)
		if s.result.Visible() || !s.drop.Visible() {
			t.Error("Other medium does not bring the drop zone back")
		}
	}
}
