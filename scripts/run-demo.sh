#!/usr/bin/env bash
# `make run`: opens the desktop app. Grows with the project: starts a local
# reference portal with demo data and points the app at it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./bin/bildbote "$@"
