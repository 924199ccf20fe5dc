#!/usr/bin/env bash
# Static checks of the Windows build (wine cannot start Go >= 1.22 programs):
#
#   packaging/windows/check.sh WORKDIR MSI
#
# WORKDIR is dist.sh's work dir (holds windows-amd64/*.exe and the signing
# certificate when a throwaway one was used). Checks: PE subsystem (GUI
# without console, console CLI), version/icon/manifest resources,
# Authenticode signatures of every .exe and of the MSI (and that a tampered
# copy fails), the files inside the MSI are the signed ones, and the MSI's
# tables: files, shortcut, policy properties, the custom action.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/version.sh
. "$here/../lib/version.sh"
work=${1:?usage: check.sh WORKDIR MSI}
msi=${2:?usage: check.sh WORKDIR MSI}
# the version the build was made as (dist.sh records it)
# shellcheck disable=SC1091
[ ! -f "$work/version.env" ] || . "$work/version.env"
exes=$work/windows-amd64
fail() { echo "FAIL windows: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cert=${SIGN_CERT:-$work/throwaway-codesign.crt}

echo "== windows: PE headers and resources"
subsystem() { x86_64-w64-mingw32-objdump -p "$1" | awk '/^Subsystem/ {print $2}'; }
[ "$(subsystem "$exes/bildbote.exe")" = 00000002 ] || fail "bildbote.exe is not a GUI-subsystem program (it would open a console)"
[ "$(subsystem "$exes/bildbote-cli.exe")" = 00000003 ] || fail "bildbote-cli.exe is not a console program"
[ "$(subsystem "$exes/bildbote-policywriter.exe")" = 00000003 ] || fail "bildbote-policywriter.exe is not a console program"
for exe in bildbote bildbote-cli bildbote-policywriter; do
	/usr/bin/python3 - "$exes/$exe.exe" "$exe" "$BB_VERSION" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
name, version = sys.argv[2], sys.argv[3]
u16 = lambda s: s.encode('utf-16-le')
checks = {
    'version resource': u16('ProductVersion') in data and u16(version) in data,
    'original file name': u16(name + '.exe') in data,
    'icon (PNG entries)': data.count(b'\x89PNG\r\n\x1a\n') >= 6,
    'manifest': b'PerMonitorV2' in data and b'asInvoker' in data,
}
bad = [k for k, ok in checks.items() if not ok]
if bad:
    sys.exit(f'{name}.exe lacks: ' + ', '.join(bad))
print(f'  {name}.exe: ' + ', '.join(checks))
PY
done

echo "== windows: Authenticode signatures"
verify() { osslsigncode verify -CAfile "$cert" -in "$1" >"$tmp/verify.txt" 2>&1; }
for f in "$exes"/*.exe "$msi"; do
	verify "$f" || { cat "$tmp/verify.txt" >&2; fail "signature of $(basename "$f") does not verify"; }
	grep -q 'Signature verification: ok' "$tmp/verify.txt" || fail "no verified signature on $(basename "$f")"
	echo "  signed and verified: $(basename "$f")"
done
cp "$exes/bildbote-cli.exe" "$tmp/tampered.exe"
printf 'X' | dd of="$tmp/tampered.exe" bs=1 seek=4096 conv=notrunc status=none
if verify "$tmp/tampered.exe"; then fail "a tampered executable still verifies"; fi
echo "  a tampered copy fails verification"

echo "== windows: MSI tables"
table() { msiinfo export "$msi" "$1" | tr -d '\r'; } # msiinfo writes CRLF
msiinfo tables "$msi" >"$tmp/tables"
for t in File Component Shortcut Property CustomAction InstallExecuteSequence Upgrade Icon; do
	grep -qx "$t" "$tmp/tables" || fail "MSI lacks the $t table"
done
msiinfo suminfo "$msi" | grep -q 'Template: x64;1033' || fail "MSI is not an x64 package"
table File >"$tmp/File"
for f in bildbote.exe bildbote-cli.exe bildbote-policywriter.exe policy.toml.example; do
	grep -q "	$f	" "$tmp/File" || fail "MSI does not install $f"
done
table Shortcut | grep -q '^BildboteShortcut	ProgramMenuFolder	Bildbote	.*\[INSTALLDIR\]bildbote.exe' ||
	fail "no Start-menu shortcut to bildbote.exe"
table Property >"$tmp/Property"
grep -q "^ProductVersion	$BB_MSI_VERSION\$" "$tmp/Property" || fail "ProductVersion is not $BB_MSI_VERSION"
table CustomAction >"$tmp/CA"
# 3090 = 18 (exe from an installed file) + 1024 (deferred) + 2048 (no impersonation: SYSTEM)
grep -q '^WritePolicy	3090	bildbote_policywriter.exe	' "$tmp/CA" || fail "WritePolicy is not a deferred SYSTEM exe custom action"
# Every value flag of the policy writer (its source, so a key added there
# and forgotten here fails) is an MSI property of the same name in upper
# case without dashes (--pacs-tls-ca: PACSTLSCA): passed by WritePolicy
# as --flag "[PROPERTY]", and secure, so it reaches the elevated sequence.
flags=$(grep -o 'fs\.StringVar([^,]*, "[a-z0-9-]*"' "$here/../policywriter/policy.go" | sed 's/.*"\(.*\)"/\1/' | grep -vx 'out\|check')
[ "$(echo "$flags" | wc -l)" -ge 20 ] || fail "found only $(echo "$flags" | wc -l) policy writer flags in policywriter/policy.go"
for f in $flags; do
	p=$(echo "$f" | tr -d - | tr '[:lower:]' '[:upper:]')
	grep -Eq "^SecureCustomProperties	(.*;)?$p(;.*)?\$" "$tmp/Property" || fail "$p is not in SecureCustomProperties"
	grep -q -- "--$f \"\[$p\]\"" "$tmp/CA" || fail "WritePolicy does not pass --$f \"[$p]\""
done
echo "  WritePolicy passes $(echo "$flags" | wc -l) properties, all secure"
grep -q '\[CommonAppDataFolder\]Bildbote\\policy.toml' "$tmp/CA" || fail "WritePolicy does not write %ProgramData%\\Bildbote\\policy.toml"
table InstallExecuteSequence >"$tmp/IES"
ca_seq=$(awk -F'\t' '$1=="WritePolicy" {print $3}' "$tmp/IES")
files_seq=$(awk -F'\t' '$1=="InstallFiles" {print $3}' "$tmp/IES")
if [ -z "$ca_seq" ] || [ "$ca_seq" -le "$files_seq" ]; then fail "WritePolicy does not run after InstallFiles"; fi
grep -q '^WritePolicy	NOT REMOVE	' "$tmp/IES" || fail "WritePolicy would run on uninstall"
msidump -d "$tmp/dump" -t "$msi" >/dev/null 2>&1 || true

echo "== windows: the MSI carries the signed executables"
msiextract -C "$tmp/extract" "$msi" >/dev/null
for exe in bildbote.exe bildbote-cli.exe bildbote-policywriter.exe; do
	f=$(find "$tmp/extract" -name "$exe" | head -1)
	[ -n "$f" ] || fail "msiextract found no $exe"
	cmp -s "$f" "$exes/$exe" || fail "$exe in the MSI is not the signed build"
done
echo "  windows checks passed: $(basename "$msi") ($(stat -c %s "$msi") bytes)"
