package ui

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// capture writes what the window shows to $UI_SHOTS/name.png when set, so
// a person can look at the screens the tests drive.
func (h *harness) capture(name string) {
	dir := os.Getenv("UI_SHOTS")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, name+".png"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, h.canvas().Capture()); err != nil {
		h.t.Fatal(err)
	}
}

// The three kinds of rows a person meets: a running send with speed and
// ETA, a failed save with message and hint, a finished send with receipt.
func TestTransfersRows(t *testing.T) {
	at := time.Date(2026, 3, 4, 10, 30, 0, 0, time.Local)
	jobs := []*app.Job{
		{ID: "a1", Kind: app.KindSend, State: app.StateRunning, Title: "bM1X · 2 studies",
			Created: at, Updated: at, BytesDone: 40_000_000, BytesTotal: 160_000_000, Speed: 2_000_000, ETA: 60 * time.Second},
		{ID: "b2", Kind: app.KindSave, State: app.StateFailed, Title: "XXXX-XXXX-7K2M",
			Created: at, Updated: at, BytesDone: 1_000_000, BytesTotal: 9_000_000,
			Error: &app.JobError{Kind: i18n.KindTransient, Key: "common.unexpected", Args: []any{"connection reset"}, HintKey: "common.cancelled"}},
		{ID: "c3", Kind: app.KindSend, State: app.StateDone, Title: "bM1X · 1 study",
			Created: at, Updated: at, BytesDone: 5_000_000, BytesTotal: 5_000_000,
			Receipt: &app.Receipt{Upload: &app.UploadReceipt{ID: "u1", Community: "bM1X", CommunityName: "Radiologie Am Dom",
				Size: 5_000_000, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", ReceivedAt: at}}},
		{ID: "d4", Kind: app.KindImport, State: app.StatePaused, Interrupted: true, Title: "bM1X · envelopes: 3",
			TitleKey: "app.job.title.import", TitleArgs: []string{"bM1X", "3"},
			Created: at, Updated: at, BytesDone: 3_000_000, BytesTotal: 9_000_000},
	}
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		for _, j := range jobs {
			h.u.transfers.show(j)
		}
		h.u.tabs.SelectIndex(2)
		h.capture("transfers_" + string(lang))
		test.AssertRendersToMarkup(t, "transfers_jobs_"+string(lang)+".xml", h.canvas())
		r := h.u.transfers.rows["a1"]
		if !r.pause.Visible() || r.resume.Visible() || !r.cancel.Visible() {
			t.Error("running job: want pause and cancel only")
		}
		r = h.u.transfers.rows["d4"]
		if r.pause.Visible() || !r.resume.Visible() || r.state.Text != i18n.T(lang, "ui.state.interrupted") {
			t.Errorf("interrupted job: resume hidden or state %q", r.state.Text)
		}
		if want := i18n.T(lang, "app.job.title.import", "bM1X", "3"); !strings.HasSuffix(r.title.Text, want) {
			t.Errorf("job title %q not translated, want …%q", r.title.Text, want)
		}
		if r := h.u.transfers.rows["b2"]; !r.problem.Visible() {
			t.Error("failed job shows no error")
		}
	}
}
