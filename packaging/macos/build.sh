#!/usr/bin/env bash
# macOS: universal Bildbote.app (arm64 + x86_64) with the CLI inside,
# signed with the hardened runtime, in a signed .dmg, notarized and stapled.
# Optionally a signed .pkg that installs a clinic policy file (for MDM).
#
# RUNS ON A MAC ONLY (Xcode command line tools, Go, a Developer ID
# certificate in the keychain). It cannot run on the Linux CI; shellcheck
# checks it there.
#
#   packaging/macos/build.sh [--policy FILE]
#
# Environment:
#   MAC_SIGN_IDENTITY      "Developer ID Application: Name (TEAMID)"; unset or
#                          "-" signs ad hoc (local testing, no notarization)
#   MAC_INSTALLER_IDENTITY "Developer ID Installer: Name (TEAMID)" for the .pkg
#   MAC_NOTARY_PROFILE     a notarytool keychain profile, created once with
#                          xcrun notarytool store-credentials; unset skips
#                          notarization
#   DIST_DIR               output (dist/)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/version.sh
. "$here/../lib/version.sh"
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$here/../lib/common.sh"

[ "$(uname -s)" = Darwin ] || die "macos/build.sh runs on macOS only (codesign, hdiutil, notarytool)"

policy=""
while [ $# -gt 0 ]; do
	case "$1" in
	--policy) policy=${2:?--policy needs a file}; shift 2 ;;
	*) die "usage: $0 [--policy FILE]" ;;
	esac
done

identity=${MAC_SIGN_IDENTITY:--}
DIST_DIR=${DIST_DIR:-$BB_ROOT/dist}
work=$BB_ROOT/build/dist-macos
mkdir -p "$DIST_DIR"
snapshot_source "$work/src"
bin=$work/bin
mkdir -p "$bin"
export CGO_CFLAGS="-mmacosx-version-min=11.0" CGO_LDFLAGS="-mmacosx-version-min=11.0"
export MACOSX_DEPLOYMENT_TARGET=11.0

# universal NAME PKG CGO: builds both architectures and merges them.
universal() {
	local name=$1 pkg=$2 cgo=$3 arch
	for arch in arm64 amd64; do
		CGO_ENABLED=$cgo GOOS=darwin GOARCH=$arch gobuild "$bin/$name-$arch" "$pkg"
	done
	lipo -create -output "$bin/$name" "$bin/$name-arm64" "$bin/$name-amd64"
}

log "macos: universal binaries"
universal bildbote ./cmd/bildbote 1
universal bildbote-cli ./cmd/bildbote-cli 0
universal bildbote-policywriter ./packaging/policywriter 0

log "macos: Bildbote.app (fyne package)"
app=$work/Bildbote.app
rm -rf "$app"
(cd "$BB_SRC" && go tool fyne package -os darwin --release --executable "$bin/bildbote" \
	--name Bildbote --app-id org.bildbote.Bildbote --icon packaging/icon.png \
	--app-version "$BB_MSI_VERSION" --app-build "$BB_BUILD")
mv "$BB_SRC/Bildbote.app" "$app"
cp "$bin/bildbote-cli" "$bin/bildbote-policywriter" "$app/Contents/MacOS/"
# fyne writes LSMinimumSystemVersion 10.11; the binaries need 11.0.
/usr/libexec/PlistBuddy -c "Set :LSMinimumSystemVersion 11.0" "$app/Contents/Info.plist"
/usr/libexec/PlistBuddy -c "Set :CFBundleShortVersionString $BB_MSI_VERSION" "$app/Contents/Info.plist"
/usr/libexec/PlistBuddy -c "Set :CFBundleVersion $BB_BUILD" "$app/Contents/Info.plist"

log "macos: codesign (hardened runtime) as $identity"
sign() {
	codesign --force --options runtime --timestamp --entitlements "$here/entitlements.plist" \
		--sign "$identity" "$@"
}
[ "$identity" != - ] || sign() { codesign --force --options runtime --entitlements "$here/entitlements.plist" --sign - "$@"; }
# Inside out: the helpers first, then the bundle (no --deep: it hides errors).
sign "$app/Contents/MacOS/bildbote-cli" "$app/Contents/MacOS/bildbote-policywriter"
sign "$app"
codesign --verify --strict --verbose=2 "$app"

log "macos: .dmg"
dmg=$DIST_DIR/Bildbote-$BB_VERSION-macos-universal.dmg
stage=$work/dmg
rm -rf "$stage" && mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
hdiutil create -volname Bildbote -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"
[ "$identity" = - ] || codesign --force --timestamp --sign "$identity" "$dmg"

if [ -n "$policy" ]; then
	log "macos: policy .pkg from $policy"
	proot=$work/policy-root
	rm -rf "$proot" && mkdir -p "$proot/Library/Application Support/Bildbote"
	# The app's own loader judges the file before it is packaged.
	"$app/Contents/MacOS/bildbote-policywriter" --check "$policy" || die "Bildbote rejects $policy"
	install -m 0644 "$policy" "$proot/Library/Application Support/Bildbote/policy.toml"
	pkg=$DIST_DIR/Bildbote-policy-$BB_VERSION.pkg
	pkgargs=(--root "$proot" --identifier org.bildbote.Bildbote.policy --version "$BB_MSI_VERSION" --install-location /)
	[ -z "${MAC_INSTALLER_IDENTITY:-}" ] || pkgargs+=(--sign "$MAC_INSTALLER_IDENTITY" --timestamp)
	pkgbuild "${pkgargs[@]}" "$pkg"
fi

if [ -n "${MAC_NOTARY_PROFILE:-}" ] && [ "$identity" != - ]; then
	for f in "$dmg" ${pkg:+"$pkg"}; do
		log "macos: notarizing $(basename "$f") (notarytool, waits for Apple)"
		xcrun notarytool submit "$f" --keychain-profile "$MAC_NOTARY_PROFILE" --wait
		xcrun stapler staple "$f"
		xcrun stapler validate "$f"
	done
	spctl --assess --type open --context context:primary-signature --verbose=2 "$dmg"
	spctl --assess --type execute --verbose=2 "$app"
else
	log "macos: not notarized (set MAC_SIGN_IDENTITY and MAC_NOTARY_PROFILE)"
fi
log "macos: done: $dmg"
