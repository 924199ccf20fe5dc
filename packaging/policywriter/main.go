// Command bildbote-policywriter writes the clinic policy file from installer
// properties. The Windows MSI runs it as a deferred custom action with the
// public properties PORTALURL, DEFAULTINBOX, PINNEDKEY, PACSURL, ... as
// arguments; on Linux and macOS an admin or a configuration-management tool
// may run it the same way.
//
// With --check FILE it only loads FILE as the app would and lists the keys
// it locks (exit 2 when the app would refuse to start with it).
//
// Guarantees:
//   - Empty values are ignored (msiexec passes every property, set or not);
//     when no value at all is given, nothing is written and an existing
//     policy file stays as it is.
//   - The file is only replaced when the new content passes the same checks
//     as the app's own loader (app.LoadPolicy); a rejected value leaves the
//     old file untouched and exits non-zero, which fails the installation.
//   - The file is replaced atomically. On Windows the Bildbote folder under
//     %ProgramData% gets an ACL that lets only SYSTEM and Administrators
//     write, so users cannot unlock what the policy locks.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	lang := i18n.Detect()
	req, err := parseArgs(args, stderr)
	if err != nil {
		return report(stderr, lang, err)
	}
	if req.check != "" {
		return check(req.check, stdout, stderr, lang)
	}
	written, err := req.apply()
	if err != nil {
		return report(stderr, lang, err)
	}
	if written {
		fmt.Fprintln(stdout, i18n.T(lang, "packaging.policy-written", req.out))
	} else {
		fmt.Fprintln(stdout, i18n.T(lang, "packaging.policy-nothing", req.out))
	}
	return 0
}

// check loads path with the app's own policy loader and lists the keys it
// locks: what clinic IT runs before rolling a hand-written file out.
func check(path string, stdout, stderr io.Writer, lang i18n.Lang) int {
	p, err := app.LoadPolicy(path)
	if err != nil {
		return report(stderr, lang, err)
	}
	fmt.Fprintln(stdout, i18n.T(lang, "packaging.policy-valid", path, strings.Join(p.Keys(), ", ")))
	return 0
}

func report(stderr io.Writer, lang i18n.Lang, err error) int {
	if ue, ok := err.(*i18n.UserError); ok {
		fmt.Fprintln(stderr, ue.Message(lang))
		if h := ue.Hint(lang); h != "" {
			fmt.Fprintln(stderr, h)
		}
		if ue.Err != nil {
			fmt.Fprintln(stderr, ue.Err)
		}
		return 2
	}
	fmt.Fprintln(stderr, i18n.T(lang, "common.unexpected", err))
	return 1
}
