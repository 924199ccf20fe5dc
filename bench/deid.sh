#!/usr/bin/env bash
# De-identified sending (issue 19, deliverable 4): `bildbote-cli send
# --deidentify` of the 2000-file CD against a plain `bildbote-cli send` of
# the same CD to the same local portal, end to end (scan, seal, tus upload,
# receipt), alternating, best of RUNS each. The de-identified send rewrites
# every file through one deid.Session, lays the copies out as an IHE PDI
# file-set with a new DICOMDIR and seals that. Target: at least 0.8x the
# plain send's speed, i.e. at most 1.25x its time.
#
#   bench/deid.sh                    # FILES=2000 RUNS=3
#   FILES=20 RUNS=1 bench/deid.sh    # smoke (scripts/e2e/bench.sh)
#   STRICT=1 bench/deid.sh           # exit 1 when the target is missed
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
FILES=${FILES:-2000}
RUNS=${RUNS:-3}
OUT=${OUT:-build/bench}
for tool in age-keygen curl bc; do
	command -v "$tool" >/dev/null || { echo "bench/deid.sh: $tool missing (scripts/deps.sh test)" >&2; exit 2; }
done
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./cmd/bildbote-cli ./cmd/bildbote-portal
BIN=$OUT/bin
T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-bench-deid.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export LANG=en_US.UTF-8 BILDBOTE_POLICY= XDG_CONFIG_HOME=$T/xdg

CD=$OUT/cd-$FILES
if [ ! -f "$CD.generated" ]; then
	rm -rf "$CD"; go run ./testdata/gencd -out "$CD" -files "$FILES" >/dev/null; touch "$CD.generated"
fi
find "$CD" -type f -exec cat {} + >/dev/null # warm the page cache
CD_BYTES=$(du -sbL "$CD" | cut -f1)

age-keygen -o "$T/key.txt" 2>/dev/null
DATA=$T/portal
"$BIN/bildbote-portal" community add --data "$DATA" --code bM1X --name Bench --recipient "$(age-keygen -y "$T/key.txt")" >/dev/null 2>&1
: >"$T/portal.log"
"$BIN/bildbote-portal" serve --data "$DATA" --listen 127.0.0.1:0 2>>"$T/portal.log" &
PIDS+=($!)
bench_wait_portal "$T/portal.log"

# one_send STATE [FLAGS...]: wall seconds in $SECS
one_send() {
	local state=$1 t0 t1
	shift
	rm -rf "$state"
	t0=$(date +%s.%N)
	"$BIN/bildbote-cli" send --state "$state" --portal "$URL" --to bM1X --sender Bench "$@" "$CD" \
		>"$T/send.out" 2>"$T/send.err" || { cat "$T/send.err" >&2; exit 1; }
	t1=$(date +%s.%N)
	SECS=$(echo "$t1 - $t0" | bc -l)
}

best_plain=0 best_deid=0
for run in $(seq 1 "$RUNS"); do
	one_send "$T/state-plain"
	p=$SECS
	one_send "$T/state-deid" --deidentify --pseudonym Bench-0001
	d=$SECS
	grep -q 'De-identified as Bench-0001' "$T/send.out" || { echo "bench/deid.sh: the send was not de-identified" >&2; cat "$T/send.out" >&2; exit 1; }
	[ "$(find "$T/state-deid/deid" -name '*-Bench-0001.json' | wc -l)" = 1 ] || { echo "bench/deid.sh: no mapping file" >&2; exit 1; }
	printf 'run %d: plain %.2f s, de-identified %.2f s\n' "$run" "$p" "$d"
	if [ "$best_plain" = 0 ] || (($(echo "$p < $best_plain" | bc -l))); then best_plain=$p; fi
	if [ "$best_deid" = 0 ] || (($(echo "$d < $best_deid" | bc -l))); then best_deid=$d; fi
done
printf 'CD %d MB, %d files: plain send %.2f s, de-identified send %.2f s (best of %d)\n' \
	$((CD_BYTES / 1000000)) "$FILES" "$best_plain" "$best_deid" "$RUNS"
bench_ratio "deid-send-$FILES" "$best_deid" "$best_plain" s "plain send" 1.25
bench_exit
