package cli

import (
	"flag"
	"io"
	"strings"
)

// stringList is a flag that may be repeated (--study A --study B).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// newFlags returns a flag set that reports nothing itself: parse errors
// are printed by parse, translated, with the command's usage.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses flags and positional arguments in any order (Go's flag
// package stops at the first positional one) and returns the positional
// arguments; "--" ends flag parsing. ok is false after printing a usage
// error (exit code ExitUsage).
func (e *env) parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				io.WriteString(e.stdout, tr(e, "cli.usage."+e.name)+"\n")
				return nil, ExitOK, false
			}
			return nil, e.usageError("cli.bad-flag", err.Error()), false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
