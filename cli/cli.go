// Package cli is bildbote-cli: the headless face over package app, with the
// same flows as the desktop app, text or --json output, and exit codes that
// tell user errors from transient failures.
//
// Output rules (restic style): results go to stdout — translated text, or
// with --json one JSON document; progress goes to stderr — a status line
// (redrawn on a terminal, a line per change otherwise), or with --json one
// JSON object per line. Errors go to stderr as a translated message and a
// hint line (age style); with --json also as a JSON object on stdout.
// Secrets (API keys, access codes, answers) are never printed.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bildbote/bildbote/app"
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

// command is one subcommand.
type command struct {
	run func(e *env, args []string) int
}

var commands = map[string]command{
	"scan":       {runScan},
	"send":       {runSend},
	"redeem":     {runRedeem},
	"receive":    {runReceive},
	"keys":       {runKeys},
	"jobs":       {runJobs},
	"codes":      {runCodes},
	"quarantine": {runQuarantine},
	"pacs":       {runPacs},
	"proxy":      {runProxy},
	"doctor":     {runDoctor},
}

// env is what every command gets: the streams, the language and the
// context that a signal cancels.
type env struct {
	ctx    context.Context
	lang   i18n.Lang
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	name   string // the subcommand, for usage messages
}

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
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintln(stderr, i18n.T(lang, "cli.unknown-command", args[0]))
		fmt.Fprintln(stderr, i18n.T(lang, "cli.usage"))
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{ctx: ctx, lang: lang, stdin: stdin, stdout: stdout, stderr: stderr, name: args[0]}
	return cmd.run(e, args[1:])
}

// common flags of the commands that open the core.
type coreFlags struct {
	state   string
	library string
	portal  string
	json    bool
	// proxy flags, on every command that talks to a network
	proxy, proxyUser, proxyPasswordFile string
	proxyPAC                            string // --proxy-pac URL
	// TLS flags on the same commands: --ca-bundle FILE, --http1
	caBundle string
	http1    bool
}

// register adds the common flags; withPortal also --portal and the proxy
// flags (commands that talk to a portal).
func (cf *coreFlags) register(fs *flag.FlagSet, withPortal bool) {
	fs.StringVar(&cf.state, "state", "", "")
	fs.StringVar(&cf.library, "library", "", "")
	fs.BoolVar(&cf.json, "json", false, "")
	if withPortal {
		fs.StringVar(&cf.portal, "portal", "", "")
		cf.registerProxy(fs)
	}
}

// registerProxy adds --proxy URL, --proxy-pac URL (a PAC file),
// --proxy-user NAME and
// --proxy-password-file FILE (the password never on the command line;
// else BILDBOTE_PROXY_PASSWORD), --ca-bundle FILE (an extra CA bundle,
// e.g. an inspecting proxy's root CA) and --http1 (no HTTP/2).
func (cf *coreFlags) registerProxy(fs *flag.FlagSet) {
	fs.StringVar(&cf.proxy, "proxy", "", "")
	fs.StringVar(&cf.proxyPAC, "proxy-pac", "", "")
	fs.StringVar(&cf.proxyUser, "proxy-user", "", "")
	fs.StringVar(&cf.proxyPasswordFile, "proxy-password-file", "", "")
	fs.StringVar(&cf.caBundle, "ca-bundle", "", "")
	fs.BoolVar(&cf.http1, "http1", false, "")
}

// open opens the core with the flags' state and library dirs and proxy.
// The portal flag is not a setting: flows take it per call.
func (e *env) open(cf *coreFlags) (*app.Core, error) {
	cfg := app.Config{StateDir: cf.state, LibraryDir: cf.library, Proxy: cf.proxy, ProxyPAC: cf.proxyPAC, CABundle: cf.caBundle, HTTP1Only: cf.http1}
	user := cf.givenProxyUser()
	pw, err := e.secret("", "", cf.proxyPasswordFile, app.ProxyPasswordEnv, "")
	if err != nil {
		return nil, i18n.NewError(i18n.KindInput, "cli.secret.bad-file", cf.proxyPasswordFile, err)
	}
	if user == "" && (cf.proxyPasswordFile != "" || pw != "") {
		return nil, i18n.NewError(i18n.KindInput, "cli.proxy.need-user")
	}
	// No password given: the keyring's (proxy login), else a 407 asks on
	// a terminal (proxyPrompt).
	if user != "" {
		cfg.ProxyUser, cfg.ProxyPassword = user, pw
	}
	core, err := app.Open(cfg)
	if err == nil {
		e.proxyPrompt(core) // a 407 asks once on a terminal: proxylogin.go
	}
	return core, err
}

// givenProxyUser is the proxy login's user named for this run:
// --proxy-user, else BILDBOTE_PROXY_USER ("" none).
func (cf *coreFlags) givenProxyUser() string {
	if cf.proxyUser != "" {
		return cf.proxyUser
	}
	return os.Getenv(app.ProxyUserEnv)
}

// openCore is every command's start: the printer for cf's output mode
// and the core opened with cf. When opening fails, core is nil, the error
// is printed, and code is the exit code to return. The caller closes core.
func (e *env) openCore(cf *coreFlags) (core *app.Core, pr printer, code int) {
	pr = e.printer(cf.json)
	core, err := e.open(cf)
	if err != nil {
		return nil, pr, pr.Error(err)
	}
	return core, pr, ExitOK
}

// exitCode maps an error to the exit code of its kind.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if ue, ok := i18n.AsUserError(err); ok {
		switch ue.Kind {
		case i18n.KindInput:
			return ExitInput
		case i18n.KindRefused:
			return ExitRefused
		case i18n.KindTransient:
			return ExitTransient
		}
	}
	if errors.Is(err, context.Canceled) {
		return ExitTransient
	}
	return ExitFailure
}

// usageError prints a usage problem with the command's usage text.
func (e *env) usageError(key string, args ...any) int {
	fmt.Fprintln(e.stderr, "bildbote-cli "+e.name+": "+i18n.T(e.lang, key, args...))
	fmt.Fprintln(e.stderr, i18n.T(e.lang, "cli.usage."+e.name))
	return ExitUsage
}
