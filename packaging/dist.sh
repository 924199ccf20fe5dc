#!/usr/bin/env bash
# Builds Bildbote's installers and packages into dist/ (what `make dist` runs).
#
#   packaging/dist.sh [linux] [windows]      default: both
#
# Environment:
#   BB_SOURCE=head|worktree  build the committed HEAD (default; a snapshot via
#                            git archive, so artifacts match their version)
#                            or the working tree as it is
#   DIST_DIR, DIST_WORK      output (dist/) and scratch (build/dist/) dirs
#   SIGN_CERT, SIGN_KEY      PEM code-signing certificate and key for the
#                            Windows files; without them a throwaway
#                            self-signed certificate is made (CI)
#
# macOS (.app, .dmg, notarization) runs on a Mac: packaging/macos/build.sh.
# The Flatpak bundle is built on a connected machine: packaging/flatpak/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib/version.sh
. "$here/lib/version.sh"
# shellcheck source=SCRIPTDIR/lib/common.sh
. "$here/lib/common.sh"
export BB_VERSION_LOCKED=1

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux windows)
DIST_DIR=${DIST_DIR:-$BB_ROOT/dist}
DIST_WORK=${DIST_WORK:-$BB_ROOT/build/dist}
export DIST_TIMES=$DIST_WORK/times.txt
mkdir -p "$DIST_DIR" "$DIST_WORK"
: >"$DIST_TIMES"
# What this run is named, for checks that run later (HEAD may move meanwhile).
declare -p BB_ROOT BB_VERSION BB_DEB_VERSION BB_MSI_VERSION BB_FILE_VERSION BB_BUILD BB_COMMIT \
	SOURCE_DATE_EPOCH BB_LDFLAGS >"$DIST_WORK/version.env"

log "version $BB_VERSION (deb $BB_DEB_VERSION, msi $BB_MSI_VERSION, build $BB_BUILD), source ${BB_SOURCE:-head}"
timed "source snapshot" snapshot_source "$DIST_WORK/src"

for t in "${targets[@]}"; do
	case "$t" in
	linux) "$here/linux/build.sh" "$DIST_WORK" "$DIST_DIR" ;;
	windows) "$here/windows/build.sh" "$DIST_WORK" "$DIST_DIR" ;;
	*) die "unknown target $t (linux, windows)" ;;
	esac
done

sums=$(cd "$DIST_DIR" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -r sha256sum)
printf '%s\n' "$sums" >"$DIST_DIR/SHA256SUMS"
log "done: $DIST_DIR"
find "$DIST_DIR" -maxdepth 1 -type f -printf '%12s  %f\n' | LC_ALL=C sort -k2 >&2
log "durations:"
cat "$DIST_TIMES" >&2
