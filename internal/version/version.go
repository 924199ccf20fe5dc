// Package version carries the build's version, set by the linker from git.
package version

// Version is "dev" in plain `go build`s; release builds set it with
// -ldflags "-X github.com/bildbote/bildbote/internal/version.Version=v1.2.3".
var Version = "dev"
