#!/usr/bin/env bash
# Redeem benchmark (issue 5): `bildbote-cli redeem` (token, answers, list,
# download of every study, safe unzip into the library) against curl
# (token/tokentfa/list/download) + unzip of the same items from the same
# local portal in the same run; target <= 1.2x. The portal's ZIPs are
# prepared by a warm-up download first, so neither side waits for them.
#
#   bench/redeem.sh            # FILES=2000
#   STRICT=1 bench/redeem.sh   # exit 1 when the target is missed
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${FILES:-2000}
RUNS=${RUNS:-3}
OUT=${OUT:-build/bench}
for tool in curl unzip bc; do
	command -v "$tool" >/dev/null || { echo "bench/redeem.sh: $tool missing" >&2; exit 2; }
done
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./cmd/bildbote-cli ./cmd/bildbote-portal
BIN=$OUT/bin
T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-bench-redeem.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export LANG=en_US.UTF-8 BILDBOTE_POLICY= XDG_CONFIG_HOME=$T/xdg
now() { date +%s.%N; }

CD=$OUT/cd-$FILES
if [ ! -f "$CD.generated" ]; then
	rm -rf "$CD"; go run ./testdata/gencd -out "$CD" -files "$FILES" >/dev/null; touch "$CD.generated"
fi
DATA=$T/portal
CODE=$("$BIN/bildbote-portal" code issue --data "$DATA" --dob 1958-02-14 --expires 30d "$CD" 2>/dev/null)
"$BIN/bildbote-portal" serve --data "$DATA" --listen 127.0.0.1:0 2>"$T/portal.log" &
PID=$!
for _ in $(seq 1 100); do
	ADDR=$(grep -o '"addr":"127.0.0.1:[0-9]*"' "$T/portal.log" | head -1 | cut -d'"' -f4 || true)
	[ -n "$ADDR" ] && curl -sf "http://$ADDR/healthz" >/dev/null && break
	sleep 0.1
done
URL=http://$ADDR
B=$URL/dlx/v1

# curl_redeem DIR: the peer, the same steps by hand.
curl_redeem() {
	local q jwt ids
	q=$(curl -sf -H 'X-DICOM-LINK-EXCHANGE: 1' "$B/token/$CODE" | grep -o '"questionId":"[^"]*"' | head -1 | cut -d'"' -f4)
	jwt=$(curl -sf -X POST -H 'Content-Type: application/json' \
		-d "{\"tfaAnswer\":[{\"questionId\":\"$q\",\"answer\":\"19580214\"}]}" "$B/tokentfa/$CODE")
	ids=$(curl -sf -H "Authorization: Bearer $jwt" "$B/list" | grep -o '"id":"[^"]*"' | cut -d'"' -f4)
	mkdir -p "$1"
	for id in $ids; do
		for _ in $(seq 1 600); do # 503 while the portal prepares the ZIP
			code=$(curl -sS -o "$1/$id.zip" -w '%{http_code}' -H "Authorization: Bearer $jwt" "$B/download/$id")
			[ "$code" = 200 ] && break
			sleep 0.5
		done
		unzip -q -d "$1/$id" "$1/$id.zip"
		rm "$1/$id.zip"
	done
}

curl_redeem "$T/warm" # prepares the ZIPs, warms the page cache
rm -rf "$T/warm"
best_a=999999 best_b=999999
for i in $(seq 1 "$RUNS"); do
	t0=$(now); curl_redeem "$T/peer$i"; t1=$(now)
	b=$(echo "$t1 - $t0" | bc -l); rm -rf "$T/peer$i"
	t0=$(now)
	"$BIN/bildbote-cli" redeem --state "$T/state$i" --portal "$URL" --dob 1958-02-14 --out "$T/lib$i" "$CODE" >/dev/null 2>"$T/redeem.err" \
		|| { cat "$T/redeem.err" >&2; exit 1; }
	t1=$(now)
	a=$(echo "$t1 - $t0" | bc -l)
	[ "$(find "$T/lib$i" -name DICOMDIR | wc -l)" -ge 1 ] || { echo "no DICOMDIR saved" >&2; exit 1; }
	BYTES=$(du -sb "$T/lib$i" | cut -f1)
	rm -rf "${T:?}/lib$i" "${T:?}/state$i"
	(( $(echo "$a < $best_a" | bc -l) )) && best_a=$a
	(( $(echo "$b < $best_b" | bc -l) )) && best_b=$b
done
R=$(echo "$best_a / $best_b" | bc -l)
printf 'redeem + save %d MB: bildbote-cli %.2f s, curl + unzip %.2f s, ratio %.2f (target <= 1.2; best of %d)\n' \
	$((BYTES / 1000000)) "$best_a" "$best_b" "$R" "$RUNS"
if [ "${STRICT:-0}" = 1 ] && (( $(echo "$R > 1.2" | bc -l) )); then exit 1; fi
exit 0
