package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
)

// bildbote-cli keys init|show [--json] [--passphrase-file FILE]
// bildbote-cli keys import [--force] [--json] [--passphrase-file FILE] FILE
func runKeys(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("keys")
	cf.register(fs, false)
	passFile := fs.String("passphrase-file", "", "")
	force := fs.Bool("force", false, "")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	valid := len(pos) == 1 && (pos[0] == "init" || pos[0] == "show") || len(pos) == 2 && pos[0] == "import"
	if !valid {
		return e.usageError("cli.keys.which")
	}
	pr := e.printer(cf.json)
	creates := pos[0] != "show"
	core, err := app.Open(app.Config{StateDir: cf.state, LibraryDir: cf.library,
		Passphrase: crypto.Passphrase{File: *passFile, Prompt: e.passphrasePrompt(creates)}})
	if err != nil {
		return pr.Error(err)
	}
	defer core.Close()
	var info *app.KeyInfo
	switch pos[0] {
	case "init":
		info, err = core.InitClinicKey()
	case "import":
		info, err = core.ImportClinicKey(pos[1], *force)
	default:
		info, err = core.ClinicKey()
	}
	if err != nil {
		return pr.Error(err)
	}
	pr.Result(info, func(w io.Writer) {
		switch {
		case info.Created && pos[0] == "import":
			fmt.Fprintln(w, tr(e, "cli.keys.imported"))
		case info.Created:
			fmt.Fprintln(w, tr(e, "cli.keys.created"))
		}
		fmt.Fprintln(w, tr(e, "cli.keys.recipient", info.Recipient))
		fmt.Fprintln(w, tr(e, "cli.keys.fingerprint", info.Fingerprint))
		if info.Backend == "file" {
			fmt.Fprintln(w, tr(e, "cli.keys.in-file", info.Path))
		} else {
			fmt.Fprintln(w, tr(e, "cli.keys.in-keyring"))
		}
	})
	return ExitOK
}

// passphrasePrompt asks on the terminal; nil when stdin is not one (the
// passphrase must then come from BILDBOTE_KEY_PASSPHRASE or a file).
func (e *env) passphrasePrompt(confirm bool) func() (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func() (string, error) {
		fmt.Fprint(e.stderr, tr(e, "cli.keys.passphrase"))
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil || !confirm {
			return string(p), err
		}
		fmt.Fprint(e.stderr, tr(e, "cli.keys.passphrase-again"))
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(p) != string(p2) {
			return "", fmt.Errorf("%s", tr(e, "cli.keys.passphrase-mismatch"))
		}
		return string(p), nil
	}
}

// isTTY reports whether stdin is a terminal (for prompts).
func (e *env) isTTY() bool {
	f, ok := e.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readLine prompts and reads one line from stdin.
func (e *env) readLine(prompt string) (string, error) {
	fmt.Fprint(e.stderr, prompt)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimSpace(line), nil
}
