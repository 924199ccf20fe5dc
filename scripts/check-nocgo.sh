#!/usr/bin/env bash
# Everything but the GUI's main package must build without cgo, and only
# cmd/* may import fyne.io/fyne/v2/app (it needs cgo and X11/GL headers).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t pkgs < <(go list ./... | grep -v '/cmd/bildbote$')
CGO_ENABLED=0 go build "${pkgs[@]}"
CGO_ENABLED=0 go vet "${pkgs[@]}"
# ./... skips testdata/: the CD generator command is built and vetted by name.
CGO_ENABLED=0 go vet ./testdata/gencd
bad=$(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | grep -v '^github.com/bildbote/bildbote/cmd/' | grep -w 'fyne.io/fyne/v2/app' | cut -d' ' -f1 || true)
if [ -n "$bad" ]; then echo "only cmd/* may import fyne.io/fyne/v2/app: $bad" >&2; exit 1; fi
core=$(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./app/... ./transfer/... ./dicomscan/... ./crypto/... ./portal/... | grep 'fyne.io/' | cut -d' ' -f1 || true)
if [ -n "$core" ]; then echo "the core must not import Fyne: $core" >&2; exit 1; fi
