package ui

import (
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/internal/i18n"
)

// describe is err as a person reads it: the translated message and what
// to do next. An error without a translation (a defect, or something the
// core did not foresee) reads as a translated "something went wrong"
// with a hint: Go's own error text never reaches the window.
func (u *UI) describe(err error) (msg, hint string) {
	if ue, ok := i18n.AsUserError(err); ok {
		return ue.Message(u.lang), ue.Hint(u.lang)
	}
	return u.t("ui.error.unexpected"), u.t("ui.error.unexpected.hint")
}

// openers are the programs tried, in order, when the toolkit cannot open
// a folder or file itself (a Linux desktop without xdg-open).
var openers = func() [][]string {
	switch runtime.GOOS {
	case "windows":
		return [][]string{{"explorer"}}
	case "darwin":
		return [][]string{{"open"}}
	}
	return [][]string{{"xdg-open"}, {"gio", "open"}, {"kde-open5"}, {"kde-open"}, {"exo-open"}, {"gnome-open"}}
}

// lookPath finds a program (replaced in tests).
var lookPath = exec.LookPath

// openPath shows p (a folder or a file) in the system's file manager or
// default program. When neither the toolkit nor any known opener can (an
// opener that exits with an error within a few seconds, as gio does when
// no file manager is set up, counts as failed), a dialog says so,
// translated, with the path and a button to copy it.
func (u *UI) openPath(p string) {
	if p == "" {
		return
	}
	uri := &url.URL{Scheme: "file", Path: filepath.ToSlash(p)}
	if runtime.GOOS != "linux" {
		if err := u.app.OpenURL(uri); err == nil {
			return
		}
	}
	go func() {
		for _, cmd := range openers() {
			bin, err := lookPath(cmd[0])
			if err != nil {
				continue
			}
			if runOpener(exec.Command(bin, append(cmd[1:], p)...)) {
				return
			}
		}
		u.do(func() { u.cannotOpen(p) })
	}()
}

// runOpener starts c and reports success unless it fails to start or
// exits with an error within openerGrace (a file manager that keeps
// running counts as opened).
func runOpener(c *exec.Cmd) bool {
	if c.Start() != nil {
		return false
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(openerGrace):
		return true
	}
}

const openerGrace = 3 * time.Second

// cannotOpen explains that p cannot be opened here and offers to copy it.
func (u *UI) cannotOpen(p string) {
	u.lastErr = errCannotOpen
	text := widget.NewLabel(u.t("ui.open.failed", p))
	text.Wrapping = fyne.TextWrapWord
	hint := widget.NewLabel(u.t("ui.open.failed.hint"))
	hint.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(text, hint)
	// Enter copies the path, Escape closes (like every dialog of ours).
	u.showModal(u.t("ui.open.title"), body, u.t("ui.redeem.copyPath"), u.t("ui.ok"),
		func() { u.app.Clipboard().SetContent(p) }, nil)
}

type cannotOpenError struct{}

func (cannotOpenError) Error() string { return "no program to open files with" }

var errCannotOpen error = cannotOpenError{}
