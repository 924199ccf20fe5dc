// Package admin is the command line of bildbote-portal: serve, and the
// admin commands (code, community, demo) that work on the same data dir
// while the server runs.
//
// Admin commands reach the data dir through portal.OpenAdmin: over the
// running server's admin socket (DIR/admin.sock) when a server runs,
// otherwise by opening the database themselves. Files (a code's DICOM and
// PDFs, code sheets) are written into the data dir by the command itself;
// only the database goes through the server.
package admin

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/version"
	"github.com/bildbote/bildbote/portal"
)

// Exit codes, as bildbote-cli: 0 ok, 1 failure, 2 usage, 3 input, 4 refused, 5 transient.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitInput     = 3
	exitRefused   = 4
	exitTransient = 5
)

// env is what every command gets.
type env struct {
	stdout, stderr io.Writer
	lang           i18n.Lang
}

// Main runs the portal's command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, lang: i18n.Detect()}
	if len(args) == 0 {
		fmt.Fprintln(stderr, i18n.T(e.lang, "portal.usage"))
		return exitUsage
	}
	var err error
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "bildbote-portal", version.Version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, i18n.T(e.lang, "portal.usage"))
		return exitOK
	case "serve":
		err = e.serve(args[1:])
	case "code":
		err = e.sub(args[1:], map[string]func([]string) error{
			"issue": e.codeIssue, "list": e.codeList, "extend": e.codeExtend, "revoke": e.codeRevoke,
		})
	case "community":
		err = e.sub(args[1:], map[string]func([]string) error{
			"add": e.communityAdd, "list": e.communityList,
		})
	case "demo":
		err = e.demo(args[1:])
	default:
		fmt.Fprintln(stderr, i18n.T(e.lang, "portal.usage.unknown", args[0]))
		fmt.Fprintln(stderr, i18n.T(e.lang, "portal.usage"))
		return exitUsage
	}
	return e.exit(err)
}

// errUsage is a mistake on the command line; its text is already printed.
var errUsage = errors.New("usage")

func (e *env) sub(args []string, cmds map[string]func([]string) error) error {
	if len(args) == 0 || cmds[args[0]] == nil {
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.usage"))
		return errUsage
	}
	return cmds[args[0]](args[1:])
}

func (e *env) exit(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return exitUsage
	}
	if errors.Is(err, portal.ErrLocked) {
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.err.locked"))
		return exitTransient
	}
	msg, hint := i18n.Localize(e.lang, err)
	fmt.Fprintln(e.stderr, msg)
	if hint != "" {
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "common.hint", hint))
	}
	if ue, ok := i18n.AsUserError(err); ok {
		switch ue.Kind {
		case i18n.KindInput:
			return exitInput
		case i18n.KindRefused:
			return exitRefused
		case i18n.KindTransient:
			return exitTransient
		}
	}
	return exitFailure
}

// flags is a FlagSet that accepts flags after positional arguments too
// (`code extend REF --expires 30d`).
type flags struct {
	*flag.FlagSet
	e *env
}

func (e *env) newFlags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return &flags{FlagSet: fs, e: e}
}

// parse parses args, collecting positional arguments between flags.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, errUsage
		}
		rest := f.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// dataDir registers the mandatory --data flag.
func (f *flags) dataDir() *string { return f.String("data", "", "data directory") }

// parseData parses args (see parse) of a command that works on the data
// directory and requires --data.
func (f *flags) parseData(args []string, data *string) ([]string, error) {
	pos, err := f.parse(args)
	if err != nil {
		return nil, err
	}
	if err := f.require("data", *data); err != nil {
		return nil, err
	}
	return pos, nil
}

// parseOneRef is parseData for a command on exactly one code (a record ID
// or the code itself), which it returns.
func (f *flags) parseOneRef(args []string, data *string) (string, error) {
	refs, err := f.parseData(args, data)
	if err != nil {
		return "", err
	}
	if len(refs) != 1 {
		fmt.Fprintln(f.e.stderr, i18n.T(f.e.lang, "portal.usage.one_ref", f.Name()))
		return "", errUsage
	}
	return refs[0], nil
}

func (f *flags) require(name, value string) error {
	if strings.TrimSpace(value) == "" {
		fmt.Fprintln(f.e.stderr, i18n.T(f.e.lang, "portal.usage.required", f.Name(), name))
		return errUsage
	}
	return nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// parseDuration reads durations with day (d) and week (w) units besides
// Go's (90d, 2w, 36h).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for unit, d := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			var v int
			if _, err := fmt.Sscanf(n, "%d", &v); err != nil || v <= 0 || fmt.Sprint(v) != n {
				return 0, i18n.NewError(i18n.KindInput, "portal.err.duration", s)
			}
			return time.Duration(v) * d, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, i18n.NewError(i18n.KindInput, "portal.err.duration", s)
	}
	return d, nil
}

// durationFlag is a flag.Value for parseDuration.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// printJSON writes v to stdout as indented JSON (the --json output).
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
