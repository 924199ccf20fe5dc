// Package packaging holds the installers (scripts, templates, see
// README.md) and the one asset the program itself needs at run time: the
// application icon, for the window and taskbar.
package packaging

import _ "embed"

// IconPNG is the application icon, a 512x512 RGBA PNG: the same file the
// installers put into the .desktop entry, the Windows .ico and the macOS
// .icns. It is drawn by packaging/icon/gen.go; CI checks that the
// committed file is what the generator draws.
//
//go:embed icon.png
var IconPNG []byte
