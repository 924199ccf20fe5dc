#!/usr/bin/env bash
# Redeem benchmark (issues 5, 16): `bildbote-cli redeem` (token, answers,
# list, download of every item, safe unzip of every study into the
# library) against curl (token/tokentfa/list/download) + unzip of the same
# items from the same local portal in the same run; target <= 0.8x. A
# person saves an item that is not a ZIP (the PDF report) as a file and
# unzips the studies: the peer does just that, going by the Content-Type.
# The portal's ZIPs are prepared by a warm-up download first, so neither
# side waits for them. Also reports the client's peak RSS (/usr/bin/time).
#
#   bench/redeem.sh                  # FILES=2000 RUNS=3
#   FILES=20 RUNS=1 bench/redeem.sh  # smoke (scripts/e2e/bench.sh)
#   STRICT=1 bench/redeem.sh         # exit 1 when the target is missed
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
FILES=${FILES:-2000}
RUNS=${RUNS:-3}
OUT=${OUT:-build/bench}
TARGET=0.8
for tool in curl unzip /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench/redeem.sh: $tool missing (scripts/deps.sh test)" >&2; exit 2; }
done
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./cmd/bildbote-cli ./cmd/bildbote-portal
BIN=$OUT/bin
CLI=${CLI:-$BIN/bildbote-cli} # CLI=path compares another build in the same run
T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-bench-redeem.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export LANG=en_US.UTF-8 BILDBOTE_POLICY= XDG_CONFIG_HOME=$T/xdg
now() { date +%s.%N; }

# The same CD as bench/scan.sh makes (shared under $OUT): studies, a PDF
# report and a DICOMDIR.
CD=$OUT/cd-$FILES
if [ ! -f "$CD.generated" ]; then
	rm -rf "$CD"; go run ./testdata/gencd -out "$CD" -files "$FILES" -documents -dicomdir >/dev/null; touch "$CD.generated"
fi
DATA=$T/portal
CODE=$("$BIN/bildbote-portal" code issue --data "$DATA" --dob 1958-02-14 --expires 30d "$CD" 2>/dev/null)
"$BIN/bildbote-portal" serve --data "$DATA" --listen 127.0.0.1:0 2>"$T/portal.log" &
PID=$!
bench_wait_portal "$T/portal.log"
B=$URL/dlx/v1

# curl_redeem DIR: the peer, the same steps by hand: a ZIP is unzipped,
# anything else (the report) kept as it came.
curl_redeem() {
	local q jwt ids id out
	q=$(curl -sf -H 'X-DICOM-LINK-EXCHANGE: 1' "$B/token/$CODE" | grep -o '"questionId":"[^"]*"' | head -1 | cut -d'"' -f4)
	jwt=$(curl -sf -X POST -H 'Content-Type: application/json' \
		-d "{\"tfaAnswer\":[{\"questionId\":\"$q\",\"answer\":\"19580214\"}]}" "$B/tokentfa/$CODE")
	ids=$(curl -sf -H "Authorization: Bearer $jwt" "$B/list" | grep -o '"id":"[^"]*"' | cut -d'"' -f4)
	mkdir -p "$1"
	for id in $ids; do
		for _ in $(seq 1 600); do # 503 while the portal prepares the ZIP
			out=$(curl -sS -o "$1/$id.download" -w '%{http_code} %{content_type}' -H "Authorization: Bearer $jwt" "$B/download/$id")
			[ "${out%% *}" = 200 ] && break
			sleep 0.5
		done
		[ "${out%% *}" = 200 ] || { echo "bench/redeem.sh: download $id: $out" >&2; return 1; }
		case ${out#* } in
		application/zip*)
			unzip -q -d "$1/$id" "$1/$id.download"
			rm "$1/$id.download" ;;
		application/pdf*) mv "$1/$id.download" "$1/$id.pdf" ;;
		*) mv "$1/$id.download" "$1/$id" ;;
		esac
	done
}

curl_redeem "$T/warm" # prepares the ZIPs, warms the page cache
WANT=$(find "$T/warm" -type f | wc -l)
rm -rf "$T/warm"
best_a=999999 best_b=999999 rss=0 BYTES=0
for i in $(seq 1 "$RUNS"); do
	t0=$(now); curl_redeem "$T/peer$i"; t1=$(now)
	b=$(echo "$t1 - $t0" | bc -l); rm -rf "$T/peer$i"
	t0=$(now)
	/usr/bin/time -o "$T/rss" -f %M "$CLI" redeem --state "$T/state$i" --portal "$URL" --dob 1958-02-14 \
		--out "$T/lib$i" "$CODE" >/dev/null 2>"$T/redeem.err" || { cat "$T/redeem.err" >&2; exit 1; }
	t1=$(now)
	a=$(echo "$t1 - $t0" | bc -l)
	[ "$(find "$T/lib$i" -name DICOMDIR | wc -l)" -ge 1 ] || { echo "bench/redeem.sh: no DICOMDIR saved" >&2; exit 1; }
	got=$(find "$T/lib$i" -type f | wc -l)
	[ "$got" -eq "$WANT" ] || { echo "bench/redeem.sh: saved $got files, curl+unzip $WANT" >&2; exit 1; }
	BYTES=$(du -sb "$T/lib$i" | cut -f1)
	rm -rf "${T:?}/lib$i" "${T:?}/state$i"
	r=$(tail -1 "$T/rss")
	(( r > rss )) && rss=$r
	echo "run $i: bildbote-cli $a s (peak RSS $((r / 1024)) MiB), curl+unzip $b s" >&2
	(( $(echo "$a < $best_a" | bc -l) )) && best_a=$a
	(( $(echo "$b < $best_b" | bc -l) )) && best_b=$b
done
echo "redeem + save $FILES files, $((BYTES / 1000000)) MB, $WANT files saved; best of $RUNS" >&2
bench_ratio "redeem-$FILES" "$best_a" "$best_b" s "curl+unzip" "$TARGET"
bench_line "redeem-rss-$FILES" "$(( (rss + 1023) / 1024 )) MiB" - - - -
bench_exit
