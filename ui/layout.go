package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// minHeightLayout stacks its objects and asks for at least h of height
// (a list of skipped files shows several lines, not one and a half).
type minHeightLayout struct{ h float32 }

func (l minHeightLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (l minHeightLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var m fyne.Size
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	m.Height = max(m.Height, l.h)
	return m
}

// showFileDialog shows one of Fyne's file dialogs with our own title and
// buttons (Fyne composes "Öffnen Ordner"), its places ("Home",
// "Computer", which Fyne does not translate) in the UI language, and a
// size that fits the window.
func (u *UI) showFileDialog(d *dialog.FileDialog, titleKey, confirmKey string) {
	d.SetTitleText(u.t(titleKey))
	d.SetConfirmText(u.t(confirmKey))
	d.SetDismissText(u.t("ui.cancel"))
	size := u.win.Canvas().Size()
	d.Resize(fyne.NewSize(min(900, size.Width-40), min(600, size.Height-40)))
	d.Show()
	u.translatePlaces()
}

// placeKeys translate the names of Fyne's file dialog places.
var placeKeys = map[string]string{
	"Home": "ui.place.home", "Computer": "ui.place.computer", "Documents": "ui.place.documents",
	"Downloads": "ui.place.downloads", "Desktop": "ui.place.desktop", "Music": "ui.place.music",
	"Pictures": "ui.place.pictures", "Videos": "ui.place.videos", "Movies": "ui.place.videos",
}

// translatePlaces finds the places list of the file dialog on top and
// translates its rows as they are drawn.
func (u *UI) translatePlaces() {
	overlays := u.win.Canvas().Overlays().List()
	if len(overlays) == 0 {
		return
	}
	walkObjects(overlays[len(overlays)-1], func(o fyne.CanvasObject) bool {
		l, ok := o.(*widget.List)
		if !ok || l.UpdateItem == nil {
			return true
		}
		orig := l.UpdateItem
		l.UpdateItem = func(id widget.ListItemID, item fyne.CanvasObject) {
			orig(id, item)
			walkObjects(item, func(o fyne.CanvasObject) bool {
				if lb, ok := o.(*widget.Label); ok {
					if key, ok := placeKeys[lb.Text]; ok {
						lb.SetText(u.t(key))
					}
				}
				return true
			})
		}
		l.Refresh()
		return false
	})
}

// walkObjects calls f on o and what it holds (containers, pop-ups,
// splits, scrolls, forms), depth first, while f returns true.
func walkObjects(o fyne.CanvasObject, f func(fyne.CanvasObject) bool) bool {
	if o == nil {
		return true
	}
	if !f(o) {
		return false
	}
	var kids []fyne.CanvasObject
	switch w := o.(type) {
	case *fyne.Container:
		kids = w.Objects
	case *widget.PopUp:
		kids = []fyne.CanvasObject{w.Content}
	case *container.Split:
		kids = []fyne.CanvasObject{w.Leading, w.Trailing}
	case *container.Scroll:
		kids = []fyne.CanvasObject{w.Content}
	case *widget.Form:
		for _, it := range w.Items {
			kids = append(kids, it.Widget)
		}
	}
	for _, k := range kids {
		if !walkObjects(k, f) {
			return false
		}
	}
	return true
}
