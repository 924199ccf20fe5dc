#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing.
# Idempotent and silent when everything is present.
#   scripts/deps.sh build   cgo build of the desktop app (X11/GL headers)
#   scripts/deps.sh run     build + what `make run` uses at run time
#   scripts/deps.sh test    everything the test suite starts or validates with
#   scripts/deps.sh dist    cross-compilers, packagers and signing tools
set -euo pipefail

build=(gcc libc6-dev pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev
	libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev)
run=("${build[@]}" libgl1-mesa-dri dcmtk curl)
test=("${build[@]}" xvfb xauth libgl1-mesa-dri xdotool imagemagick
	dcmtk dicom3tools python3-pydicom libgdcm-tools orthanc orthanc-dicomweb
	poppler-utils curl unzip zstd age iproute2 xorriso)
dist=("${build[@]}" gcc-mingw-w64-x86-64 msitools wixl osslsigncode openssl lintian
	dpkg-dev fakeroot xz-utils shellcheck appstream desktop-file-utils python3-yaml flatpak-builder)

case "${1:-}" in
build) want=("${build[@]}") ;;
run) want=("${run[@]}") ;;
test) want=("${test[@]}") ;;
dist) want=("${dist[@]}") ;;
*) echo "usage: $0 build|run|test|dist" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
# policy-rc.d keeps Debian's orthanc package from starting a system service:
# the tests start their own instance in a private network namespace.
if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
