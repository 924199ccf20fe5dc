#!/usr/bin/env bash
# Linux artifacts: the four binaries, Fyne's .tar.xz, and two .debs
# (bildbote: GUI + CLI + policy writer + desktop integration + /etc/bildbote;
# bildbote-portal: the reference server with a systemd unit).
#
#   packaging/linux/build.sh WORKDIR DISTDIR
#
# Expects packaging/lib/version.sh and common.sh sourced (dist.sh does it),
# BB_SRC set to the tree to build. Everything is reproducible: the same
# commit gives byte-identical binaries, tarball and .debs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/version.sh
. "$here/../lib/version.sh"
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$here/../lib/common.sh"

work=${1:?usage: build.sh WORKDIR DISTDIR}
dist=${2:?usage: build.sh WORKDIR DISTDIR}
: "${BB_SRC:?BB_SRC must name the source tree}"
# The project has no LICENSE file yet; one place to change it.
license=${BB_LICENSE:-Apache-2.0}
arch=$(dpkg --print-architecture)
maintainer="The Bildbote authors <bildbote@users.noreply.github.com>"
bin=$work/linux-$arch
mkdir -p "$bin" "$dist"

build_static() {
	CGO_ENABLED=0 gobuild "$bin/bildbote-cli" ./cmd/bildbote-cli
	CGO_ENABLED=0 gobuild "$bin/bildbote-portal" ./cmd/bildbote-portal
	CGO_ENABLED=0 gobuild "$bin/bildbote-policywriter" ./packaging/policywriter
}

# The GUI links against libGL and X11: build it as a hardened ELF (PIE,
# full RELRO, immediate binding), as Debian expects of dynamic executables.
build_gui() {
	CGO_ENABLED=1 BB_EXTRA_LDFLAGS="-extldflags=-Wl,-z,relro,-z,now" \
		gobuild "$bin/bildbote" ./cmd/bildbote -buildmode=pie
}

build_binaries() {
	log "linux: CLI, portal and policy writer (CGO_ENABLED=0)"
	timed "linux cli+portal+policy" build_static
	log "linux: desktop app (cgo)"
	timed "linux gui (cgo)" build_gui
}

# icons DIR: the hicolor theme sizes, rendered by the icon generator.
icons() {
	local root=$1 size
	(cd "$BB_SRC" && CGO_ENABLED=0 go build -o "$work/icongen" ./packaging/icon/gen.go)
	for size in 48 64 128 256 512; do
		mkdir -p "$root/usr/share/icons/hicolor/${size}x$size/apps"
		"$work/icongen" -size "$size" -out "$root/usr/share/icons/hicolor/${size}x$size/apps/org.bildbote.Bildbote.png"
	done
}

# tarball: Fyne's own packaging (layout, .desktop, icon, Makefile from
# FyneApp.toml), then our reproducible binaries and translated .desktop file
# put in and the whole re-packed reproducibly. fyne package is given a stub
# executable: it only copies it, and compressing the real 26 MB binary twice
# would cost minutes on a loaded 2-core machine. fyne package bumps Build in
# FyneApp.toml: restored after.
tarball() {
	local out=$dist/bildbote-$BB_VERSION-linux-$arch.tar.xz tmp=$work/fyne-tar
	log "linux: fyne package → $(basename "$out")"
	rm -rf "$tmp" && mkdir -p "$tmp/pkg" "$tmp/stub"
	printf '#!/bin/sh\n' >"$tmp/stub/bildbote" && chmod 0755 "$tmp/stub/bildbote"
	cp "$BB_SRC/FyneApp.toml" "$tmp/FyneApp.toml.orig"
	(cd "$BB_SRC" && go tool fyne package -os linux --release \
		--executable "$tmp/stub/bildbote" --app-version "${BB_MSI_VERSION}" --app-build "$BB_BUILD" >&2)
	cp "$tmp/FyneApp.toml.orig" "$BB_SRC/FyneApp.toml"
	mv "$BB_SRC/Bildbote.tar.xz" "$tmp/"
	tar -xJf "$tmp/Bildbote.tar.xz" -C "$tmp/pkg"
	local prefix=usr/local
	[ -d "$tmp/pkg/usr/local" ] || prefix=usr
	[ -x "$tmp/pkg/$prefix/bin/bildbote" ] || die "fyne package: no $prefix/bin/bildbote in the tarball"
	cp "$bin/bildbote" "$tmp/pkg/$prefix/bin/bildbote"
	cp "$here/org.bildbote.Bildbote.desktop" "$tmp/pkg/$prefix/share/applications/"
	cp "$bin/bildbote-cli" "$tmp/pkg/$prefix/bin/"
	# Fyne's Makefile installs the GUI only: install the CLI with it.
	# shellcheck disable=SC2016 # $(Exec) is make syntax
	sed -i -e '/install -Dm00755 usr\/.*bin\/\$(Exec) \$(DESTDIR)\$(PREFIX)/{p;s/\$(Exec)/bildbote-cli/g}' \
		-e '/-rm \$(DESTDIR)\$(PREFIX)\/bin\/\$(Exec)/{p;s/\$(Exec)/bildbote-cli/}' "$tmp/pkg/Makefile"
	grep -q 'bin/bildbote-cli' "$tmp/pkg/Makefile" || die "could not add the CLI to Fyne's Makefile"
	cp "$BB_SRC/packaging/policy/policy.toml.example" "$tmp/pkg/"
	normalize_tree "$tmp/pkg"
	reproducible_tar_xz "$out" "$tmp/pkg" Makefile policy.toml.example usr
}

# debian_doc ROOT PACKAGE: copyright and changelog, as lintian wants them.
debian_doc() {
	local root=$1 pkg=$2 doc=$1/usr/share/doc/$2
	mkdir -p "$doc"
	cat >"$doc/copyright" <<-COPYRIGHT
		Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
		Upstream-Name: bildbote
		Source: https://github.com/bildbote/bildbote

		Files: *
		Copyright: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) The Bildbote authors
		License: $license
		 The full text is in the LICENSE file of the source repository and, for
		 licenses Debian ships, under /usr/share/common-licenses/.
	COPYRIGHT
	{
		printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "$BB_DEB_VERSION"
		printf '  * Built from commit %s.\n\n' "$BB_COMMIT"
		printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
	} | gzip -9n >"$doc/changelog.gz"
}

# finish_deb ROOT CONTROL-TEMPLATE DEPENDS: control, md5sums, dpkg-deb.
finish_deb() {
	local root=$1 template=$2 depends=$3 size out
	normalize_tree "$root"
	size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
	mkdir -p "$root/DEBIAN"
	sed -e "s/@DEB_VERSION@/$BB_DEB_VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
		-e "s/@DEPENDS@/$depends/" "$template" >"$root/DEBIAN/control"
	[ -n "$depends" ] || sed -i '/^Depends: $/d' "$root/DEBIAN/control"
	(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort | xargs -r md5sum) >"$root/DEBIAN/md5sums"
	(cd "$root" && find etc -type f -printf '/%p\n' 2>/dev/null | LC_ALL=C sort) >"$root/DEBIAN/conffiles"
	[ -s "$root/DEBIAN/conffiles" ] || rm "$root/DEBIAN/conffiles"
	normalize_tree "$root/DEBIAN"
	out=$dist/$(sed -n 's/^Package: //p' "$root/DEBIAN/control")_${BB_DEB_VERSION}_$arch.deb
	log "linux: $(basename "$out")"
	# one compressor thread: multi-threaded xz output depends on the core count
	dpkg-deb --root-owner-group -Zxz --threads-max=1 --build "$root" "$out" >/dev/null
}

# shlib_depends BINARY: the Depends line dpkg-shlibdeps computes (libGL, X11...).
shlib_depends() {
	local tmp=$work/shlibdeps
	rm -rf "$tmp" && mkdir -p "$tmp/debian"
	printf 'Source: bildbote\n\nPackage: bildbote\nArchitecture: any\n' >"$tmp/debian/control"
	(cd "$tmp" && dpkg-shlibdeps -O -e"$1" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

deb_app() {
	local root=$work/deb-bildbote date
	rm -rf "$root"
	install -D -m0755 "$bin/bildbote" "$root/usr/bin/bildbote"
	install -D -m0755 "$bin/bildbote-cli" "$root/usr/bin/bildbote-cli"
	install -D -m0755 "$bin/bildbote-policywriter" "$root/usr/sbin/bildbote-policywriter"
	install -D -m0644 "$here/org.bildbote.Bildbote.desktop" "$root/usr/share/applications/org.bildbote.Bildbote.desktop"
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
	mkdir -p "$root/usr/share/metainfo"
	sed -e "s/@VERSION@/$BB_VERSION/" -e "s/@DATE@/$date/" -e "s/@LICENSE@/$license/" \
		"$here/org.bildbote.Bildbote.metainfo.xml" >"$root/usr/share/metainfo/org.bildbote.Bildbote.metainfo.xml"
	icons "$root"
	install -D -m0644 "$BB_SRC/packaging/policy/policy.toml.example" "$root/etc/bildbote/policy.toml.example"
	debian_doc "$root" bildbote
	install -D -m0644 "$here/deb/bildbote.lintian-overrides" "$root/usr/share/lintian/overrides/bildbote"
	finish_deb "$root" "$here/deb/bildbote.control" "$(shlib_depends "$bin/bildbote")"
}

deb_portal() {
	local root=$work/deb-bildbote-portal
	rm -rf "$root"
	install -D -m0755 "$bin/bildbote-portal" "$root/usr/bin/bildbote-portal"
	install -D -m0644 "$here/deb/bildbote-portal.service" "$root/lib/systemd/system/bildbote-portal.service"
	install -D -m0644 "$here/deb/bildbote-portal.default" "$root/etc/default/bildbote-portal"
	debian_doc "$root" bildbote-portal
	install -D -m0644 "$here/deb/bildbote-portal.lintian-overrides" "$root/usr/share/lintian/overrides/bildbote-portal"
	install -D -m0755 "$here/deb/bildbote-portal.postinst" "$root/DEBIAN/postinst"
	install -D -m0755 "$here/deb/bildbote-portal.postrm" "$root/DEBIAN/postrm"
	finish_deb "$root" "$here/deb/bildbote-portal.control" ""
}

debs() {
	deb_app
	deb_portal
}

# Earlier versions' artifacts would end up in SHA256SUMS: remove them.
rm -f "$dist"/bildbote-*-linux-*.tar.xz "$dist"/bildbote_*.deb "$dist"/bildbote-portal_*.deb
build_binaries
timed "linux tar.xz (fyne package)" tarball
timed "linux .debs" debs
