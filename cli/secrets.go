package cli

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// Secrets (the inbox password, the answers to a code's questions, the
// access code itself) come from a prompt, a file or the environment.
// Flags that take them on the command line still work, for scripts, but
// print a warning: the process list shows them to every user of the
// computer.

// Environment variables for the secrets.
const (
	EnvInboxPassword = "BILDBOTE_INBOX_PASSWORD"
	EnvDOB           = "BILDBOTE_DOB"
	EnvCode          = "BILDBOTE_CODE"
)

// warnArgv says that flag's value is visible to others, and what to use
// instead (a catalog key). It goes to stderr in every mode, --json
// included.
func (e *env) warnArgv(flag, insteadKey string) {
	fmt.Fprintln(e.stderr, tr(e, "cli.secret.argv", flag, tr(e, insteadKey)))
}

// readSecretFile returns the first line of path ("-": stdin), without
// its line end.
func (e *env) readSecretFile(path string) (string, error) {
	var data []byte
	var err error
	if path == "-" {
		line, rerr := e.readLine("")
		return line, rerr
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// secret picks a secret: the command-line value (with a warning), else
// the file, else the environment variable; "" when none is given.
func (e *env) secret(argv, flag, file, envVar, insteadKey string) (string, error) {
	switch {
	case argv != "":
		e.warnArgv(flag, insteadKey)
		return argv, nil
	case file != "":
		return e.readSecretFile(file)
	}
	return os.Getenv(envVar), nil
}

// readHidden prompts on the terminal without echo; ok is false when
// stdin is not a terminal.
func (e *env) readHidden(prompt string) (string, bool, error) {
	f, isFile := e.stdin.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return "", false, nil
	}
	fmt.Fprint(e.stderr, prompt)
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	return strings.TrimSpace(string(p)), true, err
}

// looksLikeFile: a code argument that names an existing file is a QR
// picture, not a secret.
func looksLikeFile(arg string) bool {
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}
