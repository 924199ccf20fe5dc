package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// DropZone is the large target of the Send screen: it shows where to drop
// a CD, folder or ZIP and opens the folder chooser when tapped. The drop
// itself arrives at the window (fyne.Window.SetOnDropped) and is routed
// by the UI; the zone only highlights while a scan is running.
type DropZone struct {
	widget.BaseWidget
	OnTapped func()

	title, subtitle string
	busy            bool
	hovered         bool
}

// NewDropZone returns a drop zone with a title and a smaller line below.
func NewDropZone(title, subtitle string, tapped func()) *DropZone {
	d := &DropZone{title: title, subtitle: subtitle, OnTapped: tapped}
	d.ExtendBaseWidget(d)
	return d
}

// SetBusy marks the zone as working (a scan is running).
func (d *DropZone) SetBusy(busy bool) { d.busy = busy; d.Refresh() }

// Tapped opens the chooser.
func (d *DropZone) Tapped(*fyne.PointEvent) {
	if d.OnTapped != nil && !d.busy {
		d.OnTapped()
	}
}

// MouseIn, MouseMoved and MouseOut highlight the zone under the pointer.
func (d *DropZone) MouseIn(*fyne.PointEvent)    { d.hovered = true; d.Refresh() }
func (d *DropZone) MouseMoved(*fyne.PointEvent) {}
func (d *DropZone) MouseOut()                   { d.hovered = false; d.Refresh() }

// Cursor shows a hand: the zone is clickable.
func (d *DropZone) Cursor() desktop.Cursor { return desktop.PointerCursor }

func (d *DropZone) CreateRenderer() fyne.WidgetRenderer {
	border := canvas.NewRectangle(color.Transparent)
	border.StrokeWidth = 3
	border.CornerRadius = theme.Padding() * 3
	icon := widget.NewIcon(theme.DownloadIcon())
	title := widget.NewLabelWithStyle(d.title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	sub := widget.NewLabelWithStyle(d.subtitle, fyne.TextAlignCenter, fyne.TextStyle{})
	sub.Wrapping = fyne.TextWrapWord
	iconBox := container.NewCenter(container.NewGridWrap(fyne.NewSquareSize(64), icon))
	body := container.NewCenter(container.NewVBox(iconBox, title, sub))
	r := &dropZoneRenderer{d: d, border: border, body: body}
	r.Refresh()
	return r
}

type dropZoneRenderer struct {
	d      *DropZone
	border *canvas.Rectangle
	body   *fyne.Container
}

func (r *dropZoneRenderer) Layout(s fyne.Size) {
	r.border.Resize(s)
	r.body.Resize(s)
}

func (r *dropZoneRenderer) MinSize() fyne.Size {
	return r.body.MinSize().Add(fyne.NewSquareSize(theme.Padding() * 8))
}

func (r *dropZoneRenderer) Refresh() {
	v := fyne.CurrentApp().Settings().ThemeVariant()
	th := r.d.Theme()
	r.border.StrokeColor = th.Color(theme.ColorNameInputBorder, v)
	r.border.FillColor = th.Color(theme.ColorNameInputBackground, v)
	if r.d.hovered || r.d.busy {
		r.border.StrokeColor = th.Color(theme.ColorNamePrimary, v)
		r.border.FillColor = th.Color(theme.ColorNameHover, v)
	}
	r.border.Refresh()
	r.body.Refresh()
}

func (r *dropZoneRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.border, r.body}
}

func (r *dropZoneRenderer) Destroy() {}
