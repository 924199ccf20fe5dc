#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing, and
# (for test) checks that every tool the suite calls really runs.
# Idempotent and silent when everything is present.
#   scripts/deps.sh build   cgo build of the desktop app (X11/GL headers)
#   scripts/deps.sh run     build + what `make run` uses at run time
#   scripts/deps.sh test    everything the test suite, `make bench` and
#                           `make dist` start or validate with, then verify
#   scripts/deps.sh dist    cross-compilers, packagers and signing tools
#   scripts/deps.sh verify  only the verification step of `test`
#
# Go itself is not installed here (Debian 12's golang-go is too old for
# go.mod): the README's prerequisites are Go, make and git.
#
# Every package, with the commands or files of it that are used and by whom
# (found by going through every exec.Command, exec.LookPath, corpus.Tool,
# Python import and shell command in the tests, scripts and benchmarks):
#
#   make, git            the README's two commands; git describe (Makefile),
#                        git archive / ls-files (packaging/, e2e/packaging.sh)
#   ca-certificates      Go module downloads over TLS
#   gcc libc6-dev pkg-config lib*-dev
#                        cgo build of cmd/bildbote (Fyne: GL, X11); gcc and
#                        libx11-dev also build the XDND drag source (gui.sh)
#   libgl1-mesa-dri      software GL for the app under Xvfb (make run, gui.sh)
#   dcmtk                dcmmkdir (gencd's DICOMDIR, demo CD, pdi tests, bench),
#                        dcmdump (validate), storescu (bench/stow.sh)
#   curl                 e2e scripts, bench scripts, orthanc readiness probe
#   xvfb xauth           Xvfb (gui.sh), xvfb-run
#   xdotool              clicks, keys and window search (gui.sh)
#   imagemagick          import/convert/compare (gui.sh), convert (dlx QR tests)
#   dicom3tools          dciodvfy, dcdirdmp, dcentvfy (validate, e2e, deid), examples
#   python3-pydicom      /usr/bin/python3: pydicom (validate, pdi, gencd, stow,
#                        dicomscan and deid tests, bench/scan.sh), its test files
#   python3-numpy        pydicom's pixel read-back (gencd tests)
#   python3-pil          pydicom's JPEG decoding (Pillow): dicomscan/pixel's
#                        comparison with pydicom's pixel_array
#   libgdcm-tools        gdcmscanner (bench/scan.sh); libgdcm3.0's example
#   orthanc orthanc-dicomweb
#                        the real PACS (app, stow tests, bench/stow.sh)
#   poppler-utils        pdftotext, pdftoppm, pdfinfo (codesheet, app tests)
#   unzip                safezip and portal tests, e2e/portal.sh, bench/redeem.sh
#   zstd age             envelope test vector and bench/send.sh (the peers)
#   iproute2             ip netns (Orthanc in a private namespace)
#   mount                mount/umount of a tmpfs (full-disk tests)
#   util-linux           unshare (full-disk tests; essential, listed for verify)
#   xorriso              ISO images (dicomscan tests)
#   bc time              bench/*.sh arithmetic, /usr/bin/time for peak RSS
#   squid-openssl        the real HTTP proxy (internal/testkit/squid: app and
#                        cli proxy tests), its basic_ncsa_auth, digest_file_auth
#                        and ntlm_fake_auth helpers for the proxy-login tests,
#                        and ssl_bump with security_file_certgen for the TLS
#                        inspection tests (Debian's plain squid is the GnuTLS
#                        build without ssl_bump); openssl passwd writes htpasswd
#   nginx-light          the real body-limiting reverse proxy
#                        (client_max_body_size 1m) in front of the portal:
#                        transfer/tus chunk-size adaptation tests; with
#                        haproxy also the TLS-terminating proxies in front of
#                        the portal (portal/admin proxy tests: public URLs
#                        derived from trusted Forwarded / X-Forwarded-*)
#   libglib2.0-bin gsettings-desktop-schemas
#                        gsettings and GNOME's org.gnome.system.proxy schema:
#                        the OS proxy settings read as on a GNOME desktop
#                        (transfer/proxy, app; keyfile backend, no dconf)
#   gnome-keyring dbus-daemon dbus-bin
#                        a real Secret Service on a private session bus
#                        (internal/testkit/secretservice: the proxy login and
#                        the clinic key in the OS keyring)
#   krb5-kdc krb5-admin-server krb5-user
#                        a real MIT KDC on loopback (internal/testkit/kdc) for
#                        the proxy's Negotiate (Kerberos) login through squid's
#                        negotiate_kerberos_auth; kinit for the ticket cache
#   dist: gcc-mingw-w64-x86-64 (Windows cgo), msitools wixl (MSI),
#         osslsigncode openssl (signing), lintian dpkg-dev fakeroot xz-utils
#         (.deb, .tar.xz), shellcheck, appstream desktop-file-utils,
#         python3-yaml flatpak-builder (Flatpak manifest lint)
set -euo pipefail

base=(make git ca-certificates)
build=("${base[@]}" gcc libc6-dev pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev
	libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev)
run=("${build[@]}" libgl1-mesa-dri dcmtk curl)
dist=("${build[@]}" gcc-mingw-w64-x86-64 msitools wixl osslsigncode openssl lintian
	dpkg-dev fakeroot xz-utils shellcheck appstream desktop-file-utils python3-yaml
	flatpak-builder)
# make test runs the packaging e2e (which needs dist) and the benchmarks'
# smoke runs, so test is a superset of dist.
test=("${dist[@]}" xvfb xauth libgl1-mesa-dri xdotool imagemagick
	dcmtk dicom3tools python3-pydicom python3-numpy python3-pil libgdcm-tools orthanc orthanc-dicomweb
	poppler-utils curl unzip zstd age iproute2 mount util-linux xorriso bc time squid-openssl
	nginx-light haproxy libglib2.0-bin gsettings-desktop-schemas gnome-keyring dbus-daemon dbus-bin
	krb5-kdc krb5-admin-server krb5-user)

# verify runs every tool the suite calls and imports every Python module it
# uses; it names each that is missing and fails. A test that needs one of
# them fails under CI=true instead of skipping (internal/testkit/corpus).
verify() {
	local bad=()
	check() { # check WHAT COMMAND...
		local what=$1
		shift
		"$@" >/dev/null 2>&1 || bad+=("$what")
	}
	has() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || bad+=("$c"); done; }
	check "go (https://go.dev/dl, version in go.mod)" go version
	check "python3-pydicom + python3-numpy: /usr/bin/python3 -c 'import pydicom, numpy'" \
		/usr/bin/python3 -c 'import pydicom, numpy, pydicom.fileset'
	check "python3-yaml" /usr/bin/python3 -c 'import yaml'
	check "python3-pil (pydicom's JPEG handler)" /usr/bin/python3 -c 'import PIL.Image'
	check "pydicom test files" test -d /usr/lib/python3/dist-packages/pydicom/data/test_files/dicomdirtests
	check "pydicom charset files" test -d /usr/lib/python3/dist-packages/pydicom/data/charset_files
	check "dicom3tools example" test -f /usr/share/doc/dicom3tools/examples/0051.dcm
	check "libgdcm example" test -f /usr/share/doc/libgdcm3.0/examples/00191113.dcm
	check "Orthanc DICOMweb plugin" test -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so
	for t in storescu dcmdump dcmmkdir Orthanc gdcmscanner; do check "$t" "$t" --version; done
	check "dciodvfy" dciodvfy /usr/share/doc/dicom3tools/examples/0051.dcm
	check "dcentvfy" dcentvfy /usr/share/doc/dicom3tools/examples/0051.dcm
	has dcdirdmp msibuild
	check xvfb-run xvfb-run --help
	check Xvfb Xvfb -help
	check xdotool xdotool --version
	for t in convert compare import; do check "$t" "$t" -version; done
	for t in pdftotext pdftoppm pdfinfo; do check "$t" "$t" -v; done
	check unzip unzip -v
	check xorriso xorriso -version
	check ip ip -V
	for t in zstd age age-keygen curl bc /usr/bin/time unshare mount umount shellcheck \
		lintian wixl msiinfo msidump msiextract osslsigncode x86_64-w64-mingw32-gcc \
		appstreamcli flatpak-builder fakeroot xz dpkg-shlibdeps pkg-config gcc make git; do
		check "$t" "$t" --version
	done
	check openssl openssl version
	check squid squid -v
	check "squid's basic_ncsa_auth" test -x /usr/lib/squid/basic_ncsa_auth
	check "squid-openssl (ssl_bump): security_file_certgen" test -x /usr/lib/squid/security_file_certgen
	for h in digest_file_auth ntlm_fake_auth negotiate_kerberos_auth; do
		check "squid's $h" test -x "/usr/lib/squid/$h"
	done
	has gnome-keyring-daemon dbus-daemon dbus-send krb5kdc kdb5_util kadmin.local kinit
	check "gsettings with org.gnome.system.proxy (libglib2.0-bin, gsettings-desktop-schemas)" \
		gsettings list-keys org.gnome.system.proxy
	check nginx /usr/sbin/nginx -v
	check haproxy /usr/sbin/haproxy -v
	check desktop-file-validate desktop-file-validate --help
	if [ ${#bad[@]} -gt 0 ]; then
		echo "deps: missing or not working after install:" >&2
		printf '  - %s\n' "${bad[@]}" >&2
		echo "deps: install them (scripts/deps.sh test as root) and run again" >&2
		return 1
	fi
}

case "${1:-}" in
build) want=("${build[@]}") ;;
run) want=("${run[@]}") ;;
test) want=("${test[@]}") ;;
dist) want=("${dist[@]}") ;;
verify) verify; exit ;;
*) echo "usage: $0 build|run|test|dist|verify" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq >/dev/null
	# policy-rc.d keeps Debian's orthanc and squid packages from starting a system
	# service: the tests start their own instances (Orthanc in a private
	# namespace, squid on a free loopback port).
	if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$1" = test ] && verify
exit 0
