package main

import (
	"fyne.io/fyne/v2"
	"github.com/go-gl/glfw/v3.3/glfw"
)

// screenSize is the work area of the primary monitor (without panels and
// docks) in Fyne units. Call it on the main goroutine after the first
// window exists (Fyne has initialised GLFW then) and before Run; zero
// when GLFW knows no monitor.
func screenSize() fyne.Size {
	m := glfw.GetPrimaryMonitor()
	if m == nil {
		return fyne.Size{}
	}
	_, _, w, h := m.GetWorkarea()
	if w <= 0 || h <= 0 {
		if vm := m.GetVideoMode(); vm != nil {
			w, h = vm.Width, vm.Height
		}
	}
	sx, sy := m.GetContentScale()
	if sx <= 0 || sy <= 0 {
		sx, sy = 1, 1
	}
	return fyne.NewSize(float32(w)/sx, float32(h)/sy)
}
