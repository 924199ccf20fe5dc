// Command bildbote-portal is the reference server: DLX downloads by access
// code and community inboxes with resumable encrypted uploads.
package main

import (
	"os"

	"github.com/bildbote/bildbote/portal/admin"
)

func main() { os.Exit(admin.Main(os.Args[1:], os.Stdout, os.Stderr)) }
