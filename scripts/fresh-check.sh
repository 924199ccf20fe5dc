#!/usr/bin/env bash
# Proof that the README's test command works on a brand-new Debian 12
# machine: builds a minimal Debian root (mmdebstrap, minbase) from the
# host's own apt sources, copies in Go, the host's CA certificates and a
# clean clone of the committed HEAD, and runs there exactly what the README
# tells a newcomer to run — the one install line for make and git, then
# `make test` with CI=true (so a missing tool fails instead of skipping).
#
#   sudo scripts/fresh-check.sh            # prints the suite's output and its wall time
#   KEEP=1 sudo scripts/fresh-check.sh     # keep the root (its path is printed)
#   CMD='make run' ...                     # another command instead of make test
#
# Not part of CI (about 30–40 min on 2 cores: every Debian package and Go
# module is fetched and every build is cold). Needs root, mmdebstrap and
# util-linux's unshare; nothing on the host is changed but the scratch root
# under ${TMPDIR:-/var/tmp}.
#
# The root runs in its own mount namespace. / inside it is a bind mount of
# the root onto itself, made private: without that `ip netns add` and
# `unshare -m --propagation private` fail inside with "mount --make-rslave /:
# Invalid argument", and the Orthanc, STOW and full-disk tests cannot run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=${SUITE:-bookworm}
cmd=${CMD:-make test}

die() { echo "fresh-check: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, chroot, mounts)"
command -v mmdebstrap >/dev/null || die "mmdebstrap missing: apt-get install mmdebstrap"
command -v unshare >/dev/null || die "unshare missing (util-linux)"
goroot=$(go env GOROOT 2>/dev/null) || die "Go is not installed on the host"
git -C "$here" rev-parse --verify -q HEAD >/dev/null || die "$here is not a git checkout"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/bildbote-fresh.XXXXXX")
root=$work/root
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		echo "fresh-check: root kept at $root" >&2
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT

# The host's apt sources (no mirror names in this repository): every
# enabled sources file, pasted into the root as it is.
sources=()
[ -s /etc/apt/sources.list ] && sources+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -e "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || die "no apt sources on the host"
aptopts=()
# A host that reads snapshots turns off the Valid-Until check; do the same.
if apt-config dump | grep -q '^Acquire::Check-Valid-Until "false"'; then
	aptopts+=(--aptopt='Acquire::Check-Valid-Until "false"')
fi

t0=$SECONDS
echo "== fresh-check: mmdebstrap --variant=minbase $suite (host sources: ${sources[*]})"
mmdebstrap --quiet --variant=minbase "${aptopts[@]}" "$suite" "$root" "${sources[@]}"
echo "== fresh-check: root ready in $((SECONDS - t0)) s ($(du -sh "$root" | cut -f1))"

# What a new machine with "Go installed" has: Go under /usr/local/go on PATH,
# working DNS and the host's CA certificates (a network that inspects TLS
# has its root CA there, also for apt's and Go's downloads).
cp -a "$goroot" "$root/usr/local/go"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
# A clean clone of the committed HEAD: nothing of this session's state.
git clone -q --no-local --no-hardlinks "$here" "$root/src/bildbote"
echo "== fresh-check: clone of $(git -C "$root/src/bildbote" rev-parse --short HEAD)"

cat >"$root/fresh-check-inner.sh" <<EOF
#!/bin/bash
set -euo pipefail
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 CI=true DEBIAN_FRONTEND=noninteractive
cd /src/bildbote
# The README's one prerequisite line (Go is already there).
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends make git >/dev/null
t=\$SECONDS
set +e
$cmd
rc=\$?
set -e
echo "== fresh-check: '$cmd' exited \$rc after \$((SECONDS - t)) s"
exit \$rc
EOF
chmod +x "$root/fresh-check-inner.sh"

# New mount and PID namespaces: the mounts below vanish with the run.
set +e
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --pid --fork --propagation private /bin/bash -euc '
	root=$1
	mount --bind "$root" "$root"
	mount --make-private "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --make-rslave "$root/sys"
	mount --rbind /dev "$root/dev"
	mount --make-rslave "$root/dev"
	mount -t tmpfs -o mode=755 tmpfs "$root/run"
	exec chroot "$root" /fresh-check-inner.sh
' fresh-check "$root"
rc=$?
set -e
echo "== fresh-check: exit $rc, wall time $((SECONDS - t0)) s in all (root included)"
exit $rc
