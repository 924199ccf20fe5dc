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

# snapshot_source DIR: the tree to build. BB_SOURCE=head (default) builds
# the committed HEAD (git archive), so the artifacts match the version
# string; BB_SOURCE=worktree builds the working tree as it is.
snapshot_source() {
	local dir=$1
	case "${BB_SOURCE:-head}" in
	head)
		rm -rf "$dir" && mkdir -p "$dir"
		git -C "$BB_ROOT" archive --format=tar HEAD | tar -x -C "$dir"
		BB_SRC=$dir
		;;
	worktree)
		BB_SRC=$BB_ROOT
		if [ -n "$(git -C "$BB_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
			log "warning: building a working tree with uncommitted changes as $BB_VERSION"
		fi
		;;
	*) die "BB_SOURCE must be head or worktree, not ${BB_SOURCE}" ;;
	esac
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
