// Command bildbote-cli is the headless face of Bildbote: every flow of the
// desktop app, scriptable, with --json output.
package main

import (
	"os"

	"github.com/bildbote/bildbote/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
