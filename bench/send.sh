#!/usr/bin/env bash
# Send benchmarks (issues 5 and 16), against the named peers in the same run,
# alternating, best of RUNS each:
#
#  1. loopback: `bildbote-cli send` of the 2000-file CD to a local portal,
#     end to end (scan, seal, tus upload, receipt), against
#     `tar | zstd -1 | age -r KEY > file` + sha256sum + curl (tus POST +
#     PATCH) to the same portal; target <= 0.5x; peak RSS of bildbote-cli
#     < 100 MB.
#     1b. sealing alone on the same CD: BenchmarkSeal (envelope.Seal
#     against tar | zstd -1 -T2 | age > file), best of SEAL_COUNT runs.
#  2. an emulated 50 Mbit/s link (bench/sendproxy) on a ~100 MB CD:
#     bildbote-cli send against curl uploading the raw files' bytes (a tar,
#     hashed beforehand) through the same link; target <= 0.45x.
#
# One summary line per figure (bench/lib.sh): send-loopback-N,
# send-cpu-N (CPU seconds, no target), send-rss-N, send-50mbit-N (and seal-N with SEAL_COUNT > 0).
#
#   bench/send.sh                       # FILES=2000 LINK_FILES=200 RUNS=3
#   FILES=20 LINK_FILES=10 RUNS=1 SEAL_COUNT=1 bench/send.sh   # smoke
#   SEAL_COUNT=0 bench/send.sh          # skip the seal-only comparison (1b)
#   STRICT=1 bench/send.sh              # exit 1 when a target is missed
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
RUNS=${RUNS:-3}
FILES=${FILES:-2000}
LINK_FILES=${LINK_FILES:-200}
MBIT=${MBIT:-50}
OUT=${OUT:-build/bench}
for tool in curl age age-keygen zstd tar sha256sum /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench/send.sh: $tool missing" >&2; exit 2; }
done
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./cmd/bildbote-cli ./cmd/bildbote-portal ./bench/sendproxy
BIN=$OUT/bin
T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-bench-send.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export LANG=en_US.UTF-8 BILDBOTE_POLICY= XDG_CONFIG_HOME=$T/xdg

generate() { # dir files
	if [ ! -f "$1.generated" ]; then
		rm -rf "$1"; go run ./testdata/gencd -out "$1" -files "$2" >/dev/null; touch "$1.generated"
	fi
}
now() { date +%s.%N; }
b64() { printf %s "$1" | base64 -w0; }

# start_portal DATA [PUBLIC_URL_FROM_PROXY]: sets URL, ADDR
start_portal() {
	: >"$T/portal.log"
	"$BIN/bildbote-portal" serve --data "$1" --listen 127.0.0.1:0 ${2:+--public-url "$2"} 2>>"$T/portal.log" &
	PIDS+=($!)
	bench_wait_portal "$T/portal.log"
}

# tus_upload BASE FILE SHA: POST create + PATCH the whole file with curl.
tus_upload() {
	local size hdrs loc secret
	size=$(stat -c %s "$2")
	hdrs=$(curl -sS -D - -o /dev/null -X POST -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $size" \
		-H "Upload-Metadata: community $(b64 bM1X),sha256 $(b64 "$3"),filename $(b64 envelope.age)" \
		"$1/api/v1/uploads/")
	loc=$(printf '%s\n' "$hdrs" | grep -i '^location:' | cut -d' ' -f2 | tr -d '\r')
	secret=$(printf '%s\n' "$hdrs" | grep -i '^bildbote-upload-secret:' | cut -d' ' -f2 | tr -d '\r')
	case $loc in /*) loc=$1$loc ;; esac
	curl -sS -o /dev/null -w '%{http_code}' -X PATCH -H 'Tus-Resumable: 1.0.0' -H "Bildbote-Upload-Secret: $secret" -H 'Upload-Offset: 0' \
		-H 'Content-Type: application/offset+octet-stream' -T "$2" "$loc"
}

age-keygen -o "$T/key.txt" 2>/dev/null
RECIPIENT=$(age-keygen -y "$T/key.txt")

# bildbote_send STATE PORTAL CD: wall seconds in $SECS, peak RSS KB in $RSS,
# CPU seconds (user + system) in $CPU
bildbote_send() {
	rm -rf "$1"
	local t0 t1
	t0=$(now)
	/usr/bin/time -f '%M %U %S' -o "$T/rss" "$BIN/bildbote-cli" send --state "$1" --portal "$2" --to bM1X \
		--sender "Bench" "$3" >"$T/send.out" 2>"$T/send.err" || { cat "$T/send.err" >&2; exit 1; }
	t1=$(now)
	SECS=$(echo "$t1 - $t0" | bc -l)
	read -r RSS CPU_U CPU_S < <(tail -1 "$T/rss")
	CPU=$(echo "$CPU_U + $CPU_S" | bc -l)
}

# best A B: the smaller of two numbers (A empty: B).
best() { if [ -z "$1" ] || (($(echo "$2 < $1" | bc -l))); then echo "$2"; else echo "$1"; fi; }

echo "== 1. loopback, $FILES files, best of $RUNS"
CD=$OUT/cd-$FILES
generate "$CD" "$FILES"
find "$CD" -type f -exec cat {} + >/dev/null
CD_BYTES=$(du -sbL "$CD" | cut -f1)
DATA=$T/portal1
"$BIN/bildbote-portal" community add --data "$DATA" --code bM1X --name Bench --recipient "$RECIPIENT" >/dev/null 2>&1
start_portal "$DATA"
A= B= A_RSS=0 A_CPU= B_CPU=
for run in $(seq 1 "$RUNS"); do
	bildbote_send "$T/state1" "$URL" "$CD"
	A=$(best "$A" "$SECS")
	[ "$RSS" -gt "$A_RSS" ] && A_RSS=$RSS
	A_CPU=$(best "$A_CPU" "$CPU")
	t0=$(now)
	# The peer in one shell, so its CPU seconds are counted like ours.
	# shellcheck disable=SC2016 # $1..$3 expand in the inner shell
	/usr/bin/time -f '%U %S' -o "$T/peer.cpu" bash -c '
		tar -C "$1" -cf - . | zstd -1 -q -c | age -r "$2" >"$3"
		sha256sum "$3" | cut -d" " -f1 >"$3.sha"' peer "$CD" "$RECIPIENT" "$T/peer.age"
	code=$(tus_upload "$URL" "$T/peer.age" "$(cat "$T/peer.age.sha")")
	t1=$(now)
	read -r CPU_U CPU_S < <(tail -1 "$T/peer.cpu")
	B_CPU=$(best "$B_CPU" "$(echo "$CPU_U + $CPU_S" | bc -l)")
	[ "$code" = 204 ] || { echo "peer upload: HTTP $code" >&2; exit 1; }
	rm -f "$T/peer.age"
	S=$(echo "$t1 - $t0" | bc -l)
	printf 'run %d: bildbote-cli send %.2f s, tar|zstd -1|age + curl tus %.2f s\n' "$run" "$SECS" "$S"
	B=$(best "$B" "$S")
done
printf 'CD %d MB: bildbote-cli send %.2f s (peak RSS %d MB), tar|zstd -1|age + curl tus %.2f s, ratio %.2f (best of %d)\n' \
	$((CD_BYTES / 1000000)) "$A" $((A_RSS / 1024)) "$B" "$(echo "$A / $B" | bc -l)" "$RUNS"
bench_ratio "send-loopback-$FILES" "$A" "$B" s "tar/zstd -1/age + curl" 0.5
# CPU seconds, the figure a busy machine disturbs least (curl's own few
# are not counted; the portal's are the same work for both).
bench_ratio "send-cpu-$FILES" "$A_CPU" "$B_CPU" "CPU s" "tar/zstd -1/age + sha256sum" -
bench_abs "send-rss-$FILES" "$(echo "$A_RSS / 1024" | bc -l)" MB 100
if [ "${SEAL_COUNT:-3}" -gt 0 ]; then
	# Sealing alone, where most of the send's CPU goes: envelope.Seal against
	# tar | zstd -1 -T2 | age > file on the same CD, alternating, best of N.
	echo "== 1b. seal only, $FILES files (BenchmarkSeal, count ${SEAL_COUNT:-3})"
	BILDBOTE_BENCH_CD=$(cd "$CD" && pwd -P) go test -run '^$' -bench '^BenchmarkSeal$' -benchtime 1x \
		-count "${SEAL_COUNT:-3}" ./transfer/envelope >"$T/seal.out"
	grep 'ns/op' "$T/seal.out" |
		awk '{s=$3/1e9; if (!($1 in best) || s < best[$1]) best[$1]=s} END {for (k in best) printf "%s best %.2f s\n", k, best[k]}' | sort | tee "$T/seal.best"
	SA=$(awk '$1 ~ /Seal\/bildbote/ {print $3}' "$T/seal.best")
	SB=$(awk '$1 ~ /Seal\/tar\|zstd-1\|age/ {print $3}' "$T/seal.best")
	[ -n "$SA" ] && [ -n "$SB" ] || { cat "$T/seal.out" >&2; echo "BenchmarkSeal printed no figures" >&2; exit 1; }
	bench_ratio "seal-$FILES" "$SA" "$SB" s "tar/zstd -1 -T2/age" -
fi

echo "== 2. emulated $MBIT Mbit/s link, $LINK_FILES files, best of $RUNS"
CD2=$OUT/cd-$LINK_FILES
generate "$CD2" "$LINK_FILES"
CD2_BYTES=$(du -sb "$CD2" | cut -f1)
DATA2=$T/portal2
"$BIN/bildbote-portal" community add --data "$DATA2" --code bM1X --name Bench --recipient "$RECIPIENT" >/dev/null 2>&1
# The portal must hand out upload URLs through the link: its public URL is
# the proxy's address, so start the proxy first on a port the portal gets.
start_portal "$DATA2"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
PORTAL_ADDR=$ADDR
"$BIN/sendproxy" -target "$PORTAL_ADDR" -mbit "$MBIT" >"$T/proxy.addr" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$T/proxy.addr" ] && break; sleep 0.1; done
PROXY=http://$(head -1 "$T/proxy.addr")
: >"$T/portal.log"
"$BIN/bildbote-portal" serve --data "$DATA2" --listen "$PORTAL_ADDR" --public-url "$PROXY" 2>>"$T/portal.log" &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "$PROXY/healthz" >/dev/null && break; sleep 0.1; done
tar -C "$CD2" -cf "$T/raw.tar" .
SHA2=$(sha256sum "$T/raw.tar" | cut -d' ' -f1)
A2= B2=
for run in $(seq 1 "$RUNS"); do
	bildbote_send "$T/state2" "$PROXY" "$CD2"
	A2=$(best "$A2" "$SECS")
	t0=$(now)
	code=$(tus_upload "$PROXY" "$T/raw.tar" "$SHA2")
	t1=$(now)
	[ "$code" = 204 ] || { echo "raw upload: HTTP $code" >&2; exit 1; }
	S=$(echo "$t1 - $t0" | bc -l)
	printf 'run %d: bildbote-cli send %.2f s, curl of the raw bytes %.2f s\n' "$run" "$SECS" "$S"
	B2=$(best "$B2" "$S")
done
printf 'CD %d MB over %s Mbit/s: bildbote-cli send %.2f s, curl of the raw bytes %.2f s, ratio %.2f (best of %d)\n' \
	$((CD2_BYTES / 1000000)) "$MBIT" "$A2" "$B2" "$(echo "$A2 / $B2" | bc -l)" "$RUNS"
bench_ratio "send-${MBIT}mbit-$LINK_FILES" "$A2" "$B2" s "raw curl" 0.45
bench_exit
