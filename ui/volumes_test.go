package ui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
)

// A CD put in while the app runs is noticed and offered; Open reads it
// on Send. Media mounted before the start are not offered.
func TestInsertedCDIsOffered(t *testing.T) {
	cd := demoCD(t)
	var mu sync.Mutex
	mounted := []string{"/media/usb-stick"}
	h := newHarnessDiscs(t, i18n.DE, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), mounted...)
	})
	h.waitShown("the first listings", func() bool { return h.u.volumesKnown != nil && h.u.volumePolls >= 2 })
	if len(h.canvas().Overlays().List()) != 0 {
		t.Fatal("a medium mounted before the start is offered")
	}
	mu.Lock()
	mounted = append(mounted, cd.Dir)
	mu.Unlock()
	h.waitShown("the offer", func() bool { return len(h.canvas().Overlays().List()) > 0 })
	if n := len(h.canvas().Overlays().List()); n != 1 {
		t.Fatalf("%d dialogs for one medium", n)
	}
	h.mustShow(i18n.T(i18n.DE, "ui.volume.question", cd.Dir), i18n.T(i18n.DE, "ui.volume.open"))
	h.u.tabs.SelectIndex(3)
	h.press("Return") // Open has the focus
	if h.u.tabs.SelectedIndex() != 0 {
		t.Error("Open does not show Send")
	}
	s := h.u.send
	h.waitFor("the scan", func() bool { return s.result.Visible() && s.stopScan == nil })
	if !strings.Contains(s.sourcePath.Text, cd.Dir) {
		t.Errorf("Send shows %q", s.sourcePath.Text)
	}
	// Two more listings with the medium still in (not a sleep: a loaded
	// machine may poll late, and the check would pass without one).
	polls := h.u.volumePolls
	h.waitShown("two more listings", func() bool { return h.u.volumePolls >= polls+2 })
	if len(h.canvas().Overlays().List()) != 0 {
		t.Error("the same medium is offered twice")
	}
}

// newHarnessDiscs is newHarness with discs as the mounted media (the
// watcher Start runs polls it).
func newHarnessDiscs(t *testing.T, lang i18n.Lang, discs func() []string) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(test.Theme())
	h := &harness{t: t, do: make(chan func(), 1024)}
	t.Setenv(app.PolicyEnv, "")
	core, err := app.Open(app.Config{StateDir: t.TempDir(), LibraryDir: "/library", ScryptWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	h.core = core
	// Polls every 20 ms: the test waits on listings, not on the clock.
	h.u = New(a, Options{Core: core, Lang: lang, do: func(f func()) { h.do <- f }, discs: discs, volumePoll: 20 * time.Millisecond})
	h.u.win.Resize(WindowSize)
	t.Cleanup(h.u.win.Close)
	h.u.Start()
	return h
}

// The parser of /proc/self/mountinfo finds optical media, with escaped
// spaces.
func TestOpticalMountsLine(t *testing.T) {
	// opticalMounts reads the real file; here: it does not fail and
	// returns only paths.
	for _, p := range opticalMounts() {
		if !strings.HasPrefix(p, "/") {
			t.Errorf("mount point %q", p)
		}
	}
}

// syntheticIndex is a medium of n images: 4 patients, 5 studies each,
// series of 100 images.
func syntheticIndex(n int) *dicomscan.Index {
	ix := &dicomscan.Index{Files: n}
	per := n / 20
	for p := 0; p < 4; p++ {
		pa := &dicomscan.Patient{Name: fmt.Sprintf("Muster^Patient%d", p), ID: fmt.Sprint(p), BirthDate: "19580214"}
		for s := 0; s < 5; s++ {
			st := &dicomscan.Study{InstanceUID: fmt.Sprintf("1.2.%d.%d", p, s), Date: "20251013", Description: "CT Thorax", Modalities: []string{"CT"}}
			for r := 0; r < per/100; r++ {
				se := &dicomscan.Series{InstanceUID: fmt.Sprintf("1.2.%d.%d.%d", p, s, r), Number: r + 1, Modality: "CT", Description: "Thorax"}
				for i := 0; i < 100; i++ {
					se.Instances = append(se.Instances, &dicomscan.Instance{SOPInstanceUID: fmt.Sprintf("1.2.%d.%d.%d.%d", p, s, r, i), Size: 500_000})
				}
				se.Bytes = 50_000_000
				st.Series = append(st.Series, se)
				st.Files += 100
				st.Bytes += se.Bytes
			}
			pa.Studies = append(pa.Studies, st)
		}
		ix.Patients = append(ix.Patients, pa)
	}
	return ix
}

// BenchmarkStudyTree20000 shows a 20,000-image medium in the tree and
// draws it: the tree is virtualised (only the rows on screen are built),
// so this stays in milliseconds however many images there are.
func BenchmarkStudyTree20000(b *testing.B) {
	a := test.NewTempApp(b)
	_ = a
	u := &UI{lang: i18n.DE}
	ix := syntheticIndex(20000)
	st := newStudyTree(u, nil)
	w := test.NewWindow(st.tree)
	defer w.Close()
	w.Resize(WindowSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.SetIndex(ix)
		w.Canvas().Refresh(st.tree)
		test.WidgetRenderer(st.tree).Layout(st.tree.Size())
		st.tree.ScrollToBottom()
		test.WidgetRenderer(st.tree).Layout(st.tree.Size())
	}
}
