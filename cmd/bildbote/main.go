// Command bildbote is the desktop app.
//
//	bildbote [-portal URL] [-state DIR] [-library DIR] [-inbox CODE] [-clinic]
//	         [PATH | CODE-LINK ...]
//
// Paths (a folder, ZIP, ISO, or a picture of a code sheet) and access-code
// links given here take the same path as items dropped on the window.
// -inbox and -clinic are stored in the settings (the policy wins).
// BILDBOTE_STATE and BILDBOTE_POLICY work as for bildbote-cli;
// BILDBOTE_INBOX_KEY pre-fills the clinic inbox's API key (kept in memory,
// never on the command line where other users could read it).
package main

import (
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/lang"

	core "github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/packaging"
	"github.com/bildbote/bildbote/ui"
)

func main() {
	crashToFile()
	portal := flag.String("portal", "", "portal `URL` (overrides the setting, never the policy)")
	state := flag.String("state", "", "state `dir` (default $BILDBOTE_STATE or the user config dir)")
	library := flag.String("library", "", "library `dir` where saved studies go")
	inbox := flag.String("inbox", "", "default inbox `code` to send to")
	clinic := flag.Bool("clinic", false, "clinic mode: show the inbox of received studies")
	flag.Parse()

	// Windows and macOS keep the user's language outside LANG.
	i18n.SetSystemLocale(func() string { return lang.SystemLocale().String() })
	a := app.NewWithID("org.bildbote.Bildbote")
	a.SetIcon(fyne.NewStaticResource("bildbote.png", packaging.IconPNG))
	var u *ui.UI // asks for the clinic key's passphrase once it exists
	cfg := core.Config{StateDir: *state, PortalURL: *portal, LibraryDir: *library}
	cfg.Passphrase.Prompt = func() (string, error) { return u.AskPassphrase() }
	c, err := core.Open(cfg)
	if err != nil {
		ui.StartupError(a, err).ShowAndRun()
		os.Exit(1)
	}
	defer c.Close()
	if *inbox != "" || *clinic {
		_ = c.UpdateSettings(func(s *core.Settings) {
			if *inbox != "" {
				s.DefaultInbox = *inbox
			}
			s.ClinicMode = s.ClinicMode || *clinic
		})
	}
	a.Settings().SetTheme(ui.NewTheme())
	u = ui.New(a, ui.Options{Core: c, InboxKey: os.Getenv("BILDBOTE_INBOX_KEY"), ScreenSize: screenSize})
	u.Start()
	u.Open(flag.Args())
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
