#!/usr/bin/env bash
# STOW-RS benchmark (issue 5): instances per second of Bildbote's STOW-RS
# client (bench/stowbench, transfer/stow with the import's defaults)
# against dcmtk's storescu over one association, same files, each into a
# fresh real Orthanc (Debian's orthanc + orthanc-dicomweb) running in a
# private network namespace (Orthanc 1.10 listens on all interfaces).
# Both Orthancs must hold every file afterwards.
#
# One summary line (bench/lib.sh): stow-orthanc-FILES, Bildbote's
# instances/s over storescu's, target >= 5x. Issue 16 asks to "keep" the
# last figure, 8.7x (152.8 against 17.5 inst/s). storescu's side is bound
# by dcmtk's Nagle stall on Orthanc's C-STORE responses (a delayed ACK,
# ~40 ms per instance), so it hardly moves with the machine's load, while
# ours is CPU-bound and drops on a busy 2-core machine: 5x leaves room for
# that noise (ours may fall to ~57 % of the last figure) and still fails
# when ours loses most of its lead. Needs root (ip netns).
#
#   bench/stow.sh              # FILES=2000
#   FILES=20 bench/stow.sh     # toy size (scripts/e2e/bench.sh)
#   STRICT=1 bench/stow.sh     # exit 1 when the target is missed
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
FILES=${FILES:-2000}
OUT=${OUT:-build/bench}
for tool in ip Orthanc storescu curl bc; do
	command -v "$tool" >/dev/null || { echo "bench/stow.sh: $tool missing" >&2; exit 2; }
done
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
[ -f "$PLUGIN" ] || { echo "bench/stow.sh: orthanc-dicomweb missing" >&2; exit 2; }
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./bench/stowbench
CD=$OUT/cd-$FILES
if [ ! -f "$CD.generated" ]; then
	rm -rf "$CD"; go run ./testdata/gencd -out "$CD" -files "$FILES" >/dev/null; touch "$CD.generated"
fi
find "$CD/DICOM" -type f -exec cat {} + >/dev/null
T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-bench-stow.XXXXXX")
NS=bbbench$$
OPID=
cleanup() {
	[ -n "$OPID" ] && kill "$OPID" 2>/dev/null && wait "$OPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
now() { date +%s.%N; }

# start_orthanc NAME: a fresh Orthanc with its own storage.
start_orthanc() {
	local d=$T/$1
	mkdir -p "$d"
	cat >"$d/orthanc.json" <<JSON
{"Name":"BENCH","HttpPort":8042,"DicomPort":4242,"DicomAet":"ORTHANC","RemoteAccessAllowed":false,
 "AuthenticationEnabled":false,"StorageDirectory":"$d/storage","IndexDirectory":"$d/index",
 "Plugins":["$PLUGIN"],"DefaultEncoding":"Utf8",
 "DicomWeb":{"Enable":true,"Root":"/dicom-web/","Host":"127.0.0.1:8042"},
 "DicomModalities":{"BENCH":["BENCH","127.0.0.1",11112]}}
JSON
	ip netns exec "$NS" Orthanc "$d/orthanc.json" >"$d/log" 2>&1 &
	OPID=$!
	for _ in $(seq 1 200); do ip netns exec "$NS" curl -sf http://127.0.0.1:8042/system >/dev/null && return; sleep 0.1; done
	echo "Orthanc did not start" >&2; tail "$d/log" >&2; exit 1
}
stop_orthanc() { kill "$OPID"; wait "$OPID" 2>/dev/null || true; OPID=; }
count() { ip netns exec "$NS" curl -sf http://127.0.0.1:8042/statistics | grep -o '"CountInstances" *: *[0-9]*' | grep -o '[0-9]*$'; }

N=$(find "$CD/DICOM" -type f | wc -l)
start_orthanc stow
read -r stored failed secs < <(ip netns exec "$NS" "$OUT/bin/stowbench" -url http://127.0.0.1:8042/dicom-web "$CD/DICOM")
got=$(count)
stop_orthanc
A=$(echo "$stored / $secs" | bc -l)

start_orthanc storescu
t0=$(now)
ip netns exec "$NS" storescu -aet BENCH -aec ORTHANC +sd +r -q 127.0.0.1 4242 "$CD/DICOM"
t1=$(now)
got2=$(count)
stop_orthanc
B=$(echo "$got2 / ($t1 - $t0)" | bc -l)
R=$(echo "$A / $B" | bc -l)
printf '%d files: STOW-RS (Bildbote) %d stored, %d failed, %.1f instances/s (Orthanc has %d); storescu one association %.1f instances/s (Orthanc has %d); ratio %.2f\n' \
	"$N" "$stored" "$failed" "$A" "$got" "$B" "$got2" "$R"
if [ "$stored" != "$N" ] || [ "$got" != "$N" ] || [ "$got2" != "$N" ]; then
	echo "bench/stow.sh: not every file stored (of $N: Bildbote $stored, Orthanc has $got; storescu's Orthanc has $got2)" >&2
	exit 1
fi
bench_ratio_higher "stow-orthanc-$N" "$A" "$B" inst/s "storescu" 5
bench_exit
