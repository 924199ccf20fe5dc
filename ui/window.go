// Package ui is the Fyne desktop interface over package app. It holds no
// business logic and never imports fyne.io/fyne/v2/app: cmd/bildbote
// creates the fyne.App and hands it in, so the views test without cgo.
package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/internal/i18n"
)

// NewMainWindow builds the main window of a.
func NewMainWindow(a fyne.App) fyne.Window {
	lang := i18n.Detect()
	w := a.NewWindow(i18n.T(lang, "ui.title"))
	w.SetContent(widget.NewLabel(i18n.T(lang, "ui.title")))
	w.Resize(fyne.NewSize(1024, 700))
	return w
}
