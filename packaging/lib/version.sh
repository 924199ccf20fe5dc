#!/usr/bin/env bash
# Sourced by the packaging scripts: derives every version string from git,
# so a build is identified by its commit alone.
#
#   BB_VERSION        semantic version: 1.2.3 on a tag v1.2.3,
#                     1.2.3+4.gabc1234 four commits after it,
#                     0.0.0-dev+5.gabc1234 with no tag at all
#   BB_DEB_VERSION    the same for dpkg (0.0.0~dev+5.gabc1234 sorts before 0.0.0)
#   BB_MSI_VERSION    MSI ProductVersion, three numbers (untagged: 0.0.<commits>)
#   BB_FILE_VERSION   Windows file version, four numbers
#   BB_BUILD          build number: commits since the start (Fyne's Build)
#   BB_COMMIT         full commit id
#   SOURCE_DATE_EPOCH commit time: every timestamp in archives and packages
#   BB_LDFLAGS        linker flags for reproducible binaries
# shellcheck shell=bash

# dist.sh computes the version once and locks it for its sub-scripts: in a
# shared tree HEAD may move while a build runs.
if [ -n "${BB_VERSION_LOCKED:-}" ]; then
	return 0
fi

BB_ROOT=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
BB_COMMIT=$(git -C "$BB_ROOT" rev-parse HEAD)
BB_BUILD=$(git -C "$BB_ROOT" rev-list --count HEAD)
bb_short=$(git -C "$BB_ROOT" rev-parse --short=7 HEAD)
SOURCE_DATE_EPOCH=$(git -C "$BB_ROOT" log -1 --format=%ct HEAD)

if bb_desc=$(git -C "$BB_ROOT" describe --tags --long --match 'v[0-9]*.[0-9]*.[0-9]*' 2>/dev/null); then
	# v1.2.3-4-gabc1234 (the tag itself may contain dashes: v1.2.3-rc1)
	bb_tag=${bb_desc%-*-g*}
	bb_rest=${bb_desc#"$bb_tag"-}
	bb_ahead=${bb_rest%%-*}
	bb_base=${bb_tag#v}
	if [ "$bb_ahead" = 0 ]; then
		BB_VERSION=$bb_base
		BB_DEB_VERSION=${bb_base//-/\~}
	else
		BB_VERSION="$bb_base+$bb_ahead.g$bb_short"
		BB_DEB_VERSION="${bb_base//-/\~}+$bb_ahead.g$bb_short"
	fi
	bb_numeric=${bb_base%%-*}
else
	BB_VERSION="0.0.0-dev+$BB_BUILD.g$bb_short"
	BB_DEB_VERSION="0.0.0~dev+$BB_BUILD.g$bb_short"
	bb_numeric=0.0.$BB_BUILD
fi
IFS=. read -r bb_major bb_minor bb_patch <<<"$bb_numeric"
BB_MSI_VERSION="$bb_major.$bb_minor.$bb_patch"
BB_FILE_VERSION="$bb_major.$bb_minor.$bb_patch.$((BB_BUILD % 65536))"

# -trimpath and -buildid= remove the build machine's paths and the random
# build id; -s -w drop symbol tables that would carry them too.
BB_LDFLAGS="-s -w -buildid= -X github.com/bildbote/bildbote/internal/version.Version=$BB_VERSION"
export BB_ROOT BB_VERSION BB_DEB_VERSION BB_MSI_VERSION BB_FILE_VERSION BB_BUILD BB_COMMIT SOURCE_DATE_EPOCH BB_LDFLAGS
unset bb_desc bb_tag bb_rest bb_ahead bb_base bb_numeric bb_short bb_major bb_minor bb_patch
