// Command bildbote is the desktop app.
//
//	bildbote [PATH | CODE-LINK ...]
//
// Paths (a folder, ZIP, ISO, or a picture of a code sheet) and access-code
// links given here take the same path as items dropped on the window.
package main

import (
	"os"
	"path/filepath"
	"runtime/debug"

	"fyne.io/fyne/v2/app"

	"github.com/bildbote/bildbote/ui"
)

func main() {
	crashToFile()
	a := app.NewWithID("org.bildbote.Bildbote")
	u := ui.New(a, ui.Options{})
	u.Open(os.Args[1:])
	u.Window().ShowAndRun()
}

// crashToFile keeps the output of a crash (a panic's stack) in the user's
// cache folder, where a person can find it and send it in.
func crashToFile() {
	dir, err := os.UserCacheDir()
	if err != nil {
		return
	}
	dir = filepath.Join(dir, "bildbote")
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "crash.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	_ = debug.SetCrashOutput(f, debug.CrashOptions{})
}
