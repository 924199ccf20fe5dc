// Package cli is bildbote-cli: the headless face over package app, with the
// same flows as the desktop app, text or --json output, and exit codes that
// tell user errors from transient failures.
package cli

import (
	"fmt"
	"io"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/version"
)

// Exit codes: 0 success, 1 unexpected failure, 2 usage, then one per
// i18n.Kind so scripts can tell "fix your input" from "try later".
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitUsage     = 2
	ExitInput     = 3
	ExitRefused   = 4
	ExitTransient = 5
)

// Main runs the command line args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	lang := i18n.Detect()
	if len(args) == 0 {
		fmt.Fprintln(stderr, i18n.T(lang, "cli.usage"))
		return ExitUsage
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "bildbote-cli", version.Version)
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, i18n.T(lang, "cli.usage"))
		return ExitOK
	}
	fmt.Fprintln(stderr, i18n.T(lang, "cli.unknown-command", args[0]))
	fmt.Fprintln(stderr, i18n.T(lang, "cli.usage"))
	return ExitUsage
}
