#!/usr/bin/env bash
# Sourced by the packaging scripts: logging, timing, the reproducible Go
# build and the source snapshot.
# shellcheck shell=bash

# log prints a step with the seconds since the script started.
log() { printf '[dist %4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'dist: %s\n' "$*" >&2; exit 1; }

# timed NAME CMD...: runs CMD and records "NAME seconds" in $DIST_TIMES.
timed() {
	local name=$1 start=$SECONDS
	shift
	"$@"
	printf '%-28s %4ds\n' "$name" $((SECONDS - start)) >>"${DIST_TIMES:-/dev/null}"
}

# gobuild OUT PKG [extra go build args...]: a reproducible build. The
# environment decides GOOS/GOARCH/CGO_ENABLED/CC; everything that could
# differ between two machines or two runs is pinned here.
gobuild() {
	local out=$1 pkg=$2
	shift 2
	(cd "$BB_SRC" && GOFLAGS='-buildvcs=false -mod=readonly' GOTOOLCHAIN=local \
		go build -trimpath -ldflags "$BB_LDFLAGS ${BB_EXTRA_LDFLAGS:-}" "$@" -o "$out" "$pkg")
}

# snapshot_source DIR: a private copy of the tree to build, so packaging
# never writes into the shared working tree (fyne package rewrites
# FyneApp.toml, the Windows build drops .syso files into cmd/). BB_SOURCE:
#   head      (default) the commit the version was computed from
#             (BB_COMMIT, HEAD at the start) via git archive: artifacts match
#             the version string
#   worktree  the working tree's files as they are (tracked and untracked,
#             not ignored): what `make e2e` tests
#   /a/path   a copy of that directory (the reproducibility check builds
#             one snapshot twice, from two places)
snapshot_source() {
	local dir=$1
	rm -rf "$dir" && mkdir -p "$dir"
	case "${BB_SOURCE:-head}" in
	head)
		git -C "$BB_ROOT" archive --format=tar "$BB_COMMIT" | tar -x -C "$dir"
		;;
	worktree)
		if [ -n "$(git -C "$BB_ROOT" status --porcelain 2>/dev/null)" ]; then
			log "note: the working tree differs from HEAD; artifacts are still named $BB_VERSION"
		fi
		# files deleted but not yet committed are listed too: skip them
		(cd "$BB_ROOT" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar --null -cf - -T -) | tar -x -C "$dir"
		;;
	/*)
		[ -f "$BB_SOURCE/go.mod" ] || die "BB_SOURCE=$BB_SOURCE is not a source tree"
		cp -a "$BB_SOURCE/." "$dir/"
		;;
	*) die "BB_SOURCE must be head, worktree or an absolute path, not ${BB_SOURCE}" ;;
	esac
	BB_SRC=$dir
	export BB_SRC
}

# normalize_tree DIR: fixed permissions and mtimes (SOURCE_DATE_EPOCH), so
# archives do not depend on the umask or the time of the build.
normalize_tree() {
	local dir=$1
	find "$dir" -type d -exec chmod 0755 {} +
	find "$dir" -type f ! -perm -u+x -exec chmod 0644 {} +
	find "$dir" -type f -perm -u+x -exec chmod 0755 {} +
	find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# reproducible_tar_xz OUT DIR PATHS...: tar sorted by name, owner root,
# mtimes clamped to SOURCE_DATE_EPOCH, single-threaded xz.
reproducible_tar_xz() {
	local out=$1 dir=$2
	shift 2
	tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
		--owner=0 --group=0 --numeric-owner --format=gnu \
		-C "$dir" -cf - "$@" | xz -9 -T1 >"$out"
}
