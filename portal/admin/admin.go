// Package admin is the command line of bildbote-portal: serve, and the
// admin commands (code, community, demo) that work on the same data dir
// while the server runs.
package admin

import (
	"fmt"
	"io"

	"github.com/bildbote/bildbote/internal/version"
)

const usage = `usage: bildbote-portal COMMAND [OPTIONS]

commands:
  serve       run the portal
  code        issue|list|extend|revoke access codes
  community   add|list community inboxes
  demo        seed a data dir with a demo inbox and a demo code
  version     print the version`

// Main runs the portal's command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "bildbote-portal", version.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s\n", args[0], usage)
	return 2
}
