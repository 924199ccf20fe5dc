#!/usr/bin/env bash
# End-to-end check of the installers and packages (packaging/).
#
#   BIN=bin scripts/e2e/packaging.sh          Linux part (always)
#   PACKAGE=1 BIN=bin scripts/e2e/packaging.sh   + Windows (exe, MSI, signatures)
#
# Linux: builds the tarball and .debs from the working tree twice, from two
# source copies in different directories, and compares every binary and
# package byte for byte (plus the CLI and portal once more with an empty Go
# build cache); checks the .debs with dpkg-deb, lintian, and a real dpkg
# install/remove/purge into a scratch root; validates the desktop entry and
# AppStream metadata; runs the installed policy writer; lints the Flatpak
# manifest and builds the GUI with -tags flatpak; shellchecks the scripts.
# Windows (PACKAGE=1; ~6 min cold because of the cgo GUI): builds the
# signed .exe files and the MSI and checks them statically (wine cannot run
# Go >= 1.22 programs): PE subsystem, resources, Authenticode signatures
# (and that a tampered file fails), the MSI's tables.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
"$root/scripts/deps.sh" dist

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-e2e-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL packaging: $*" >&2; exit 1; }
step() { printf '== packaging [%4ds] %s\n' "$SECONDS" "$*"; }
times=()
mark() { times+=("$(printf '%-34s %4ds' "$1" $((SECONDS - $2)))"); }

# shellcheck source=packaging/lib/version.sh
. "$root/packaging/lib/version.sh"
arch=$(dpkg --print-architecture)

step "shellcheck"
t=$SECONDS
mapfile -t scripts < <(git ls-files -co --exclude-standard 'packaging/*.sh' 'packaging/**/*.sh' | sort -u)
shellcheck -x "${scripts[@]}" scripts/e2e/packaging.sh packaging/linux/deb/bildbote-portal.postinst packaging/linux/deb/bildbote-portal.postrm
mark "shellcheck" "$t"

step "icon"
(cd "$root" && CGO_ENABLED=0 go run ./packaging/icon/gen.go -out "$tmp/icon.png")
cmp -s "$tmp/icon.png" "$root/packaging/icon.png" || fail "packaging/icon.png is not what packaging/icon/gen.go draws"
/usr/bin/python3 - "$root/packaging/icon.png" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
w, h, depth, ctype = struct.unpack('>IIBB', d[16:26])
assert (w, h) == (512, 512), f'icon is {w}x{h}, want 512x512'
assert ctype == 6 and depth == 8, 'icon must be 8-bit RGBA'
PY

# --- Linux: two builds from two source copies -----------------------------
step "linux build A (dist.sh linux, working tree)"
t=$SECONDS
BB_SOURCE=worktree DIST_WORK=$tmp/a DIST_DIR=$tmp/a/dist "$root/packaging/dist.sh" linux
mark "linux build A" "$t"
# Build A's version, commit time and linker flags, locked for everything
# after it: in a shared tree HEAD may move while this runs.
# shellcheck disable=SC1091
. "$tmp/a/version.env"
export BB_VERSION_LOCKED=1
step "linux build B (the same snapshot copied elsewhere, same cache)"
t=$SECONDS
# A copy of A's snapshot, not a new one: the working tree may change meanwhile.
cp -a "$tmp/a/src" "$tmp/src-b"
BB_SOURCE=$tmp/src-b DIST_WORK=$tmp/b DIST_DIR=$tmp/b/dist "$root/packaging/dist.sh" linux >"$tmp/b.log" 2>&1 ||
	{ cat "$tmp/b.log" >&2; fail "build B failed"; }
mark "linux build B" "$t"

step "reproducibility: binaries, tarball, .debs"
for f in "$tmp/a/linux-$arch"/* "$tmp/a/dist"/*; do
	g=$tmp/b/${f#"$tmp/a/"}
	[ -f "$g" ] || fail "build B lacks $(basename "$f")"
	a=$(sha256sum <"$f") b=$(sha256sum <"$g")
	[ "$a" = "$b" ] || fail "not reproducible: ${f#"$tmp/a/"} differs between two builds"
	echo "  same sha256: ${f#"$tmp/a/"} ${a%% *}"
done

step "reproducibility: CLI and portal with an empty build cache"
t=$SECONDS
(
	# shellcheck source=packaging/lib/common.sh
	. "$root/packaging/lib/common.sh"
	export BB_SRC=$tmp/b/src GOCACHE=$tmp/gocache-cold
	CGO_ENABLED=0 gobuild "$tmp/cold/bildbote-cli" ./cmd/bildbote-cli
	CGO_ENABLED=0 gobuild "$tmp/cold/bildbote-portal" ./cmd/bildbote-portal
)
for n in bildbote-cli bildbote-portal; do
	cmp -s "$tmp/a/linux-$arch/$n" "$tmp/cold/$n" || fail "not reproducible: $n differs with a cold build cache"
	echo "  same bytes with a cold cache: $n"
done
rm -rf "$tmp/gocache-cold"
mark "cold-cache CLI+portal build" "$t"

dist=$tmp/a/dist
tarball=$dist/bildbote-$BB_VERSION-linux-$arch.tar.xz
deb=$dist/bildbote_${BB_DEB_VERSION}_$arch.deb
pdeb=$dist/bildbote-portal_${BB_DEB_VERSION}_$arch.deb
for f in "$tarball" "$deb" "$pdeb"; do [ -s "$f" ] || fail "missing $(basename "$f")"; done

step "tarball contents"
listing=$(tar -tvJf "$tarball")
printf '  %s\n' "${listing//$'\n'/$'\n'  }"
for p in Makefile policy.toml.example usr/local/bin/bildbote usr/local/bin/bildbote-cli \
	usr/local/share/applications/org.bildbote.Bildbote.desktop usr/local/share/pixmaps/org.bildbote.Bildbote.png; do
	echo "$listing" | grep -q " $p\$" || fail "tarball lacks $p"
done
echo "$listing" | awk '{print $2}' | grep -Eqv '^(0/0|root/root)$' && fail "tarball has files not owned by root (0/0)"
mkdir -p "$tmp/tar" && tar -xJf "$tarball" -C "$tmp/tar"
desktop-file-validate "$tmp/tar/usr/local/share/applications/org.bildbote.Bildbote.desktop"
grep -q 'bin/bildbote-cli' "$tmp/tar/Makefile" || fail "the tarball's Makefile does not install the CLI"
make -s -C "$tmp/tar" install DESTDIR="$tmp/tar-install" PREFIX=/usr >/dev/null
[ -x "$tmp/tar-install/usr/bin/bildbote-cli" ] || fail "make install of the tarball did not install the CLI"

step ".deb metadata and contents"
dpkg-deb -I "$deb" | sed 's/^/  /'
contents=$(dpkg-deb -c "$deb")
for p in ./usr/bin/bildbote ./usr/bin/bildbote-cli ./usr/sbin/bildbote-policywriter \
	./usr/share/applications/org.bildbote.Bildbote.desktop \
	./usr/share/metainfo/org.bildbote.Bildbote.metainfo.xml \
	./usr/share/icons/hicolor/48x48/apps/org.bildbote.Bildbote.png \
	./usr/share/icons/hicolor/512x512/apps/org.bildbote.Bildbote.png \
	./etc/bildbote/policy.toml.example ./usr/share/doc/bildbote/copyright; do
	echo "$contents" | grep -q " $p\$" || fail "bildbote.deb lacks $p"
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libgl1 libx11-6; do
	[[ $depends == *"$lib"* ]] || fail "bildbote.deb Depends lacks $lib: $depends"
done
[ "$(dpkg-deb -f "$deb" Version)" = "$BB_DEB_VERSION" ] || fail "bildbote.deb has the wrong version"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/bildbote/policy.toml.example ||
	fail "the policy example is not a conffile"
pcontents=$(dpkg-deb -c "$pdeb")
for p in ./usr/bin/bildbote-portal ./lib/systemd/system/bildbote-portal.service ./etc/default/bildbote-portal; do
	echo "$pcontents" | grep -q " $p\$" || fail "bildbote-portal.deb lacks $p"
done
echo "$contents" "$pcontents" | awk '{print $2}' | grep -qv '^root/root$' && fail ".deb has files not owned by root/root"

step "desktop entry and AppStream metadata (from the .deb)"
mkdir -p "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x"
desktop-file-validate "$tmp/x/usr/share/applications/org.bildbote.Bildbote.desktop"
appstreamcli validate --no-net "$tmp/x/usr/share/metainfo/org.bildbote.Bildbote.metainfo.xml"
grep -q "<release version=\"$BB_VERSION\"" "$tmp/x/usr/share/metainfo/org.bildbote.Bildbote.metainfo.xml" ||
	fail "metainfo does not carry the release $BB_VERSION"

step "lintian"
t=$SECONDS
lintian --fail-on error,warning --tag-display-limit 0 --display-info "$deb" "$pdeb"
mark "lintian" "$t"

step "dpkg install / policy / remove / purge in a scratch root"
r=$tmp/root
mkdir -p "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/info"
touch "$r/var/lib/dpkg/status" "$r/var/lib/dpkg/available"
dpkgr=(dpkg --root="$r" --force-script-chrootless --force-depends --force-not-root --log=/dev/null)
# --force-depends: the scratch root has no libc6/libgl1; dpkg says so on stderr.
"${dpkgr[@]}" -i "$deb" "$pdeb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i failed"; }
for p in bildbote bildbote-portal; do
	[ "$("${dpkgr[@]}" -s "$p" | sed -n 's/^Status: //p')" = "install ok installed" ] || fail "$p not installed"
done
"${dpkgr[@]}" --verify bildbote bildbote-portal || fail "dpkg --verify: installed files differ from the md5sums"
"$r/usr/bin/bildbote-cli" version | grep -qF "$BB_VERSION" || fail "installed bildbote-cli does not report $BB_VERSION"
"$r/usr/bin/bildbote-portal" version | grep -qF "$BB_VERSION" || fail "installed bildbote-portal does not report $BB_VERSION"
"$r/usr/sbin/bildbote-policywriter" --check "$r/etc/bildbote/policy.toml.example" >/dev/null ||
	fail "the shipped policy example is rejected"
"$r/usr/sbin/bildbote-policywriter" --out "$r/etc/bildbote/policy.toml" --portal-url https://portal.example \
	--default-inbox bM1X --pinned-key "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567" --clinic-mode 1 \
	--proxy-pac http://wpad.klinik.local/proxy.pac --http1-only 1 --proxy-default ""
"$r/usr/sbin/bildbote-policywriter" --check "$r/etc/bildbote/policy.toml" | tee "$tmp/check.txt"
grep -q 'clinic_mode, default_inbox, http1_only, pinned_keys, portal_url, proxy_pac' "$tmp/check.txt" ||
	fail "written policy locks the wrong keys"
if "$r/usr/sbin/bildbote-policywriter" --out "$r/etc/bildbote/policy.toml" --portal-url not-a-url 2>/dev/null; then
	fail "the policy writer accepted an invalid portal URL"
fi
if "$r/usr/sbin/bildbote-policywriter" --out "$r/etc/bildbote/policy.toml" --proxy http://anna:Geheim42@proxy.klinik.local:3128 2>"$tmp/pw.err"; then
	fail "the policy writer accepted a proxy address with a password"
fi
grep -q 'proxy' "$tmp/pw.err" || fail "the refused proxy is not named"
if grep -q Geheim42 "$tmp/pw.err"; then fail "the policy writer echoed a proxy password"; fi
grep -q 'portal_url = "https://portal.example"' "$r/etc/bildbote/policy.toml" || fail "a rejected value replaced the policy"
"${dpkgr[@]}" -r bildbote >>"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -r failed"; }
[ ! -e "$r/usr/bin/bildbote" ] || fail "remove left /usr/bin/bildbote"
[ -e "$r/etc/bildbote/policy.toml.example" ] || fail "remove deleted the conffile (only purge may)"
[ -e "$r/etc/bildbote/policy.toml" ] || fail "remove deleted the clinic's policy"
"${dpkgr[@]}" -P bildbote bildbote-portal >>"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -P failed"; }
[ ! -e "$r/etc/bildbote/policy.toml.example" ] || fail "purge left the conffile"
[ -e "$r/etc/bildbote/policy.toml" ] || fail "purge deleted the clinic's own policy.toml"

step "flatpak manifest"
t=$SECONDS
manifest=packaging/flatpak/org.bildbote.Bildbote.yml
/usr/bin/python3 - "$manifest" <<'PY'
import sys, yaml
m = yaml.safe_load(open(sys.argv[1]))
for k in ('app-id', 'runtime', 'runtime-version', 'sdk', 'command', 'finish-args', 'modules'):
    assert k in m, f'manifest lacks {k}'
assert m['app-id'] == 'org.bildbote.Bildbote'
assert m['command'] == 'bildbote'
mod = m['modules'][0]
cmds = ' '.join(mod['build-commands'])
assert '-tags flatpak' in cmds, 'the GUI must be built with -tags flatpak'
assert 'org.bildbote.Bildbote.metainfo.xml' in cmds and '.desktop' in cmds
for a in ('--share=network', '--socket=x11', '--device=dri'):
    assert a in m['finish-args'], f'finish-args lacks {a}'
PY
if command -v flatpak-builder >/dev/null; then
	flatpak-builder --show-manifest "$manifest" >/dev/null
fi
(
	# shellcheck source=packaging/lib/common.sh
	. "$root/packaging/lib/common.sh"
	export BB_SRC=$tmp/a/src
	# PIE like the manifest and the .deb's GUI: the same build mode shares
	# the build cache with build A (without it every cgo package of Fyne is
	# compiled again, 3 of a cold run's 30 minutes).
	CGO_ENABLED=1 gobuild "$tmp/bildbote-flatpak" ./cmd/bildbote -buildmode=pie -tags flatpak
)
[ -x "$tmp/bildbote-flatpak" ] || fail "no flatpak-tagged GUI binary"
mark "flatpak lint + -tags flatpak build" "$t"

# --- Windows ---------------------------------------------------------------
if [ "${PACKAGE:-0}" = 1 ]; then
	step "windows build (dist.sh windows)"
	t=$SECONDS
	DIST_WORK=$tmp/a DIST_DIR=$tmp/a/dist BB_SOURCE=worktree "$root/packaging/dist.sh" windows
	mark "windows build + sign + msi" "$t"
	"$root/packaging/windows/check.sh" "$tmp/a" "$tmp/a/dist/bildbote-$BB_VERSION-windows-amd64.msi"
else
	echo "== packaging: Windows part skipped (PACKAGE=1 runs it; ~6 min with a cold cache)"
fi

step "done"
printf '%s\n' "${times[@]}"
