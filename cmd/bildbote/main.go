// Command bildbote is the desktop app.
package main

import (
	"fyne.io/fyne/v2/app"

	"github.com/bildbote/bildbote/ui"
)

func main() {
	a := app.NewWithID("org.bildbote.Bildbote")
	ui.NewMainWindow(a).ShowAndRun()
}
