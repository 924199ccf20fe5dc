#!/usr/bin/env bash
# End-to-end test of the real bildbote-cli binary against the real
# bildbote-portal binary on loopback:
#   - keys init for a clinic, community add with its key;
#   - send a generated CD with a bandwidth limit (policy file), kill
#     bildbote-cli with SIGKILL mid-upload, `jobs resume` finishes the
#     SAME upload (one item in the inbox);
#   - receive it and compare every file byte for byte;
#   - redeem a code issued with `bildbote-portal code issue` (wrong date of
#     birth first: exit 3), save into a library, validate the DICOMDIR;
#   - exit codes and hints of common mistakes; no API key or code in output.
#
# Usage: BIN=<dir with built binaries> scripts/e2e/cli.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$PWD/bin}
CLI=$BIN/bildbote-cli
PORTAL=$BIN/bildbote-portal
for b in "$CLI" "$PORTAL"; do [ -x "$b" ] || { echo "cli.sh: $b missing (make build)"; exit 1; }; done
for tool in curl dciodvfy dcdirdmp cmp diff; do
	command -v "$tool" >/dev/null || { echo "cli.sh: $tool missing (scripts/deps.sh test)"; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-e2e-cli.XXXXXX")
DATA=$T/portal
SERVER_PID=
SEND_PID=
cleanup() {
	for pid in "$SEND_PID" "$SERVER_PID"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
	done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -15 "$f" >&2; }; done; exit 1; }
step() { echo "-- $*"; }

export LANG=en_US.UTF-8 BILDBOTE_POLICY= XDG_CONFIG_HOME=$T/xdg BILDBOTE_KEY_PASSPHRASE="e2e passphrase"
PRACTICE=$T/practice
CLINIC=$T/clinic

step "synthetic CD"
go run ./testdata/gencd -out "$T/cd" -files 120 -seed 5 >/dev/null
CD_BYTES=$(du -sb "$T/cd" | cut -f1)

step "clinic key and community"
"$CLI" keys init --state "$CLINIC" >"$T/keys.out" 2>"$T/keys.log" || fail "keys init"
RECIPIENT=$(grep -o 'age1[0-9a-z]*' "$T/keys.out")
FPR=$(sed -n 's/^Fingerprint: //p' "$T/keys.out")
[ -n "$RECIPIENT" ] && [ -n "$FPR" ] || fail "keys init output: $(cat "$T/keys.out")"
API_KEY=$("$PORTAL" community add --data "$DATA" --code bM1X --name "Radiologie Klinikum Saarbrücken" --recipient "$RECIPIENT" 2>>"$T/admin.log")
CODE=$("$PORTAL" code issue --data "$DATA" --dob 1958-02-14 --expires 30d "$T/cd" 2>>"$T/admin.log")

: >"$T/server.log"
"$PORTAL" serve --data "$DATA" --listen 127.0.0.1:0 2>>"$T/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
	ADDR=$(grep -o '"addr":"127.0.0.1:[0-9]*"' "$T/server.log" | head -1 | cut -d'"' -f4 || true)
	[ -n "$ADDR" ] && curl -sf "http://$ADDR/healthz" >/dev/null && break
	sleep 0.1
done
[ -n "$ADDR" ] || fail "portal did not start"
URL=http://$ADDR

step "usage errors exit 2, input errors 3 with a hint"
set +e
"$CLI" send --portal "$URL" "$T/cd" 2>"$T/err.log"; rc=$?
[ $rc -eq 2 ] || fail "send without --to: exit $rc"
"$CLI" send --portal "$URL" --to nOpE --state "$PRACTICE" "$T/cd" 2>"$T/err.log"; rc=$?
[ $rc -eq 3 ] && grep -q '^Hint: ' "$T/err.log" || fail "unknown inbox: exit $rc $(cat "$T/err.log")"
"$CLI" redeem --portal "$URL" --dob 1900-01-01 --state "$PRACTICE" "$CODE" >"$T/out.log" 2>"$T/err.log"; rc=$?
[ $rc -eq 3 ] || fail "wrong date of birth: exit $rc"
set -e

step "send with a bandwidth limit, SIGKILL mid-upload"
cat >"$T/policy.toml" <<EOF
bandwidth_limit_kbps = 40000
EOF
BILDBOTE_POLICY=$T/policy.toml "$CLI" send --json --state "$PRACTICE" --portal "$URL" --to bM1X \
	--sender "Praxis Dr. Weiß" --referrer "Dr. Öztürk" "$T/cd" >"$T/send1.out" 2>"$T/send1.log" &
SEND_PID=$!
# Wait until the upload has moved some bytes on the portal's side.
for _ in $(seq 1 300); do
	moved=$(find "$DATA/uploads" -type f ! -name '*.info' ! -name '*.lock' -size +1k 2>/dev/null | head -1)
	[ -n "$moved" ] && break
	kill -0 "$SEND_PID" 2>/dev/null || fail "send ended before the kill"
	sleep 0.1
done
[ -n "$moved" ] || fail "upload never started"
kill -KILL "$SEND_PID"; wait "$SEND_PID" 2>/dev/null || true
SEND_PID=
grep -q "$FPR" "$T/send1.log" || grep -q '"type":"progress"' "$T/send1.log" || fail "no progress on stderr"
JOB=$("$CLI" jobs --json --state "$PRACTICE" | grep -o '"id": "[0-9a-f]*"' | head -1 | cut -d'"' -f4)
"$CLI" jobs --state "$PRACTICE" | grep -q 'paused (interrupted)' || fail "killed job not listed as interrupted"

step "jobs resume $JOB"
"$CLI" jobs resume "$JOB" --state "$PRACTICE" >"$T/resume.out" 2>"$T/resume.log" || fail "resume"
grep -q '^Received by Radiologie Klinikum Saarbrücken (bM1X)' "$T/resume.out" || fail "no receipt: $(cat "$T/resume.out")"
[ -z "$(find "$PRACTICE/spool" -mindepth 1 -print -quit)" ] || fail "spool not emptied"
N=$(curl -sf -H "Authorization: Bearer $API_KEY" "$URL/api/v1/inbox/bM1X" | grep -o '"id"' | wc -l)
[ "$N" -eq 1 ] || fail "$N items in the inbox after a resumed upload, want 1"

step "the portal holds no plaintext"
if grep -rqa 'Jürgen' "$DATA/uploads" "$DATA/inbox" 2>/dev/null; then fail "patient name in the portal's uploads"; fi

step "receive and compare byte for byte"
BILDBOTE_API_KEY=$API_KEY "$CLI" receive --state "$CLINIC" --portal "$URL" --inbox bM1X --to "$T/received" >"$T/receive.out" 2>"$T/receive.log" \
	|| fail "receive"
grep -q "$API_KEY" "$T/receive.out" "$T/receive.log" && fail "API key printed"
# One folder per study, under its own patient: <to>/<patient> <dob>/<study>/files/…
[ "$(find "$T/received" -mindepth 1 -maxdepth 1 -type d | wc -l)" -ge 2 ] || fail "studies of two patients not in two patient folders"
mkdir "$T/merged"
for d in "$T"/received/*/*/files; do cp -r "$d/." "$T/merged/"; done
diff -r "$T/cd/DICOM" "$T/merged/DICOM" >/dev/null || fail "received files differ"
BILDBOTE_API_KEY=$API_KEY "$CLI" receive --state "$CLINIC" --portal "$URL" --inbox bM1X --to "$T/received" 2>&1 | grep -q 'The inbox is empty.' \
	|| fail "inbox not acknowledged"

step "redeem into a library"
"$CLI" redeem --state "$PRACTICE" --portal "$URL" --dob 14.02.1958 --out "$T/library" "$CODE" >"$T/redeem.out" 2>"$T/redeem.log" \
	|| fail "redeem"
grep -q "${CODE:0:4}" "$T/redeem.out" "$T/redeem.log" && fail "code printed"
found=0
while IFS= read -r dd; do
	dciodvfy "$dd" 2>&1 | grep -q '^Error' && fail "dciodvfy $dd"
	dcdirdmp "$dd" >/dev/null 2>&1 || fail "dcdirdmp $dd"
	found=$((found + 1))
done < <(find "$T/library" -name DICOMDIR)
[ $found -ge 1 ] || fail "no DICOMDIR in the library"
"$CLI" codes --state "$PRACTICE" | grep -q 'XXXX-XXXX-' || fail "code not listed masked"

echo "cli.sh: ok (CD $CD_BYTES bytes)"
