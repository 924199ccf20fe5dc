#!/usr/bin/env bash
# Windows artifacts, cross-compiled on Linux: bildbote.exe (GUI, cgo with
# mingw-w64, no console), bildbote-cli.exe and bildbote-policywriter.exe,
# each with icon, manifest and version resource; Authenticode-signed; packed
# into a signed MSI (wixl) whose public properties write the policy file.
#
#   packaging/windows/build.sh WORKDIR DISTDIR
#
# BB_SRC must be a private copy of the source (dist.sh makes one): the
# resource objects are dropped into its cmd/ folders as .syso files.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/version.sh
. "$here/../lib/version.sh"
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$here/../lib/common.sh"

work=${1:?usage: build.sh WORKDIR DISTDIR}
dist=${2:?usage: build.sh WORKDIR DISTDIR}
: "${BB_SRC:?BB_SRC must name a private copy of the source tree}"
[ "$BB_SRC" != "$BB_ROOT" ] || die "windows: refusing to write .syso files into the shared working tree"
out=$work/windows-amd64
res=$work/windows-res
rm -rf "$out" "$res" && mkdir -p "$out" "$res" "$dist"
export GOOS=windows GOARCH=amd64

# resource PKGDIR NAME DESCRIPTION: icon, manifest and version info as a
# COFF object Go links from the package folder (named for windows/amd64
# only, so the Linux build of the same tree ignores it).
resource() {
	local pkgdir=$1 name=$2 desc=$3 dir=$res/$2
	mkdir -p "$dir"
	cp "$res/bildbote.ico" "$dir/"
	sed -e "s/@FILEVERSION@/$BB_FILE_VERSION/" -e "s/@NAME@/$name/" -e "s/@DESCRIPTION@/$desc/" \
		"$here/app.manifest.in" >"$dir/app.manifest"
	sed -e "s/@FILEVERSION_COMMAS@/${BB_FILE_VERSION//./,}/" -e "s/@VERSION@/$BB_VERSION/" \
		-e "s/@NAME@/$name/" -e "s/@DESCRIPTION@/$desc/" "$here/resource.rc.in" >"$dir/resource.rc"
	(cd "$dir" && x86_64-w64-mingw32-windres -i resource.rc -O coff -o "$BB_SRC/$pkgdir/zz_bildbote_windows_amd64.syso")
}

resources() {
	(cd "$BB_SRC" && CGO_ENABLED=0 env -u GOOS -u GOARCH go run ./packaging/icon/gen.go -out "$res/icon.png" -ico "$res/bildbote.ico")
	resource cmd/bildbote bildbote "Bildbote"
	resource cmd/bildbote-cli bildbote-cli "Bildbote command line"
	resource packaging/policywriter bildbote-policywriter "Bildbote policy writer"
}

build_console() {
	CGO_ENABLED=0 gobuild "$out/bildbote-cli.exe" ./cmd/bildbote-cli
	CGO_ENABLED=0 gobuild "$out/bildbote-policywriter.exe" ./packaging/policywriter
}

# The GUI links externally (cgo): --no-insert-timestamp keeps the PE header
# free of the build time; -H=windowsgui makes it a GUI-subsystem program
# (no console window).
build_gui() {
	CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc \
		BB_EXTRA_LDFLAGS="-H=windowsgui -extldflags=-Wl,--no-insert-timestamp" \
		gobuild "$out/bildbote.exe" ./cmd/bildbote
}

sign() { "$here/sign.sh" "$work" "$@"; }

msi() {
	local stage=$work/msi msi=$dist/bildbote-$BB_VERSION-windows-amd64.msi secure
	rm -rf "$stage" && mkdir -p "$stage"
	cp "$out"/*.exe "$res/bildbote.ico" "$BB_SRC/packaging/policy/policy.toml.example" "$here/bildbote.wxs" "$stage/"
	log "windows: wixl → $(basename "$msi")"
	(cd "$stage" && wixl -a x64 -D "MsiVersion=$BB_MSI_VERSION" -D "Version=$BB_VERSION" \
		-o bildbote.msi bildbote.wxs 2> >(grep -v '^$' >&2))
	# wixl's MajorUpgrade writes SecureCustomProperties itself and wixl has
	# no Secure="yes": add the policy properties to the same row.
	secure="WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;PORTALURL;ALLOWEDPORTALS;DEFAULTINBOX;PINNEDKEY;PACSURL;LIBRARYDIR;BANDWIDTHLIMITKBPS;CLINICMODE"
	secure+=";PACSTLSCA;PACSTLSCERT;PACSTLSKEY;MAXNETWORKWAITMINUTES;MAXBUSYWAITMINUTES;REQUIREDSENDERFIELDS"
	secure+=";PROXY;PROXYDEFAULT;PROXYPAC;PROXYUSER;CABUNDLE;HTTP1ONLY;DEIDENTIFYINBOXES"
	msibuild "$stage/bildbote.msi" -q "UPDATE Property SET Value='$secure' WHERE Property='SecureCustomProperties'"
	sign "$stage/bildbote.msi"
	cp "$stage/bildbote.msi" "$msi"
}

# Earlier versions' artifacts would end up in SHA256SUMS: remove them.
rm -f "$dist"/bildbote-*-windows-*.msi
log "windows: resources (icon, manifest, version $BB_FILE_VERSION)"
timed "windows resources" resources
log "windows: bildbote-cli.exe, bildbote-policywriter.exe"
timed "windows cli+policy" build_console
log "windows: bildbote.exe (cgo, mingw-w64)"
timed "windows gui (cgo)" build_gui
log "windows: signing the executables"
timed "windows sign exes" sign "$out/bildbote.exe" "$out/bildbote-cli.exe" "$out/bildbote-policywriter.exe"
timed "windows msi + sign" msi
