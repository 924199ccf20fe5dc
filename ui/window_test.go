package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// The window opens fitted to a small screen (title bar included), and
// at the size it had when it was closed the time before.
func TestWindowFitsScreenAndRemembersSize(t *testing.T) {
	t.Setenv(app.PolicyEnv, "")
	state := t.TempDir()
	open := func(screen fyne.Size) (*UI, *app.Core) {
		a := test.NewTempApp(t)
		core, err := app.Open(app.Config{StateDir: state, LibraryDir: "/library"})
		if err != nil {
			t.Fatal(err)
		}
		queue := make(chan func(), 64)
		u := New(a, Options{Core: core, Lang: i18n.DE, do: func(f func()) { queue <- f }, discs: func() []string { return nil },
			ScreenSize: func() fyne.Size { return screen }})
		// The settings screen reads the key status as it opens, on a
		// goroutine of its own: wait for it (bounded) so that it does not
		// run on into Close and the next Open of the same state folder.
		deadline := time.After(30 * time.Second)
		for !u.settings.keyChecked {
			select {
			case f := <-queue:
				f()
			case <-deadline:
				t.Fatal("the settings screen never showed the key status")
			}
		}
		return u, core
	}
	u, core := open(fyne.NewSize(1024, 600))
	if got := u.win.Canvas().Size(); got.Width > 1024 || got.Height > 600-titleBar {
		t.Errorf("on a 1024x600 screen the window opens at %v", got)
	}
	if min := u.win.Content().MinSize(); min.Width > 1024 || min.Height > 600-titleBar {
		t.Errorf("the window cannot get smaller than %v", min)
	}
	u.win.Resize(fyne.NewSize(1000, 520))
	u.win.Close()
	core.Close()

	u, core = open(fyne.NewSize(1920, 1080))
	defer core.Close()
	defer u.win.Close()
	if got := u.win.Canvas().Size(); got != fyne.NewSize(1000, 520) {
		t.Errorf("the window reopens at %v, not at the 1000x520 it was closed with", got)
	}
}
