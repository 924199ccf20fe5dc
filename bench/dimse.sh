#!/usr/bin/env bash
# DIMSE C-STORE benchmark (issue 14, point 5): instances per second of
# Bildbote's C-STORE SCU (transfer/dimse.StoreFiles with the product's
# defaults, driven by the real binary bench/cmd/dimsebench, because
# bildbote-cli has no command that C-STOREs a folder) against dcmtk's
# storescu, same files (the synthetic FILES-file CD from testdata/gencd,
# page cache warm), same run, into two real peers:
#
#   a. dcmtk storescp writing every instance to disk (+B); for the
#      parallel case storescp --fork, one process per association;
#   b. Orthanc's DICOM port (4242; Debian's orthanc), a fresh Orthanc
#      with its own storage for every send.
#
# Per peer: storescu over one association, Bildbote over one association,
# then Bildbote over ASSOCS parallel associations. Every send goes into a
# fresh peer, whose instance count is checked against FILES afterwards.
# Times are wall clock around the client process (start, folder walk and
# all, the same for both), the best of RUNS runs, clients alternating
# within a run. Both clients send with the peer's max PDU (16384 for
# storescp and Orthanc alike).
# All of this runs twice (NAGLE="default nodelay"): with the peers as
# shipped, where dcmtk's Nagle on the SCP side costs storescu ~40 ms per
# instance, and with dcmtk's TCP_NODELAY=1 for the peers and storescu,
# which removes that stall (see the modes below).
# Then DICOM TLS (TLS=1, the default; issue 14's note measured storescu
# +tls at 20 instances/s against Bildbote's 1213/s into storescp --ignore,
# which stores nothing; here storescp writes, as above): storescp +tls with a
# certificate from a CA made here by openssl, peers as shipped, storescu
# +tls (anonymous, trusting the CA) against Bildbote with tls=1 and the
# CA file, one association each, and Bildbote over ASSOCS into storescp
# +tls --fork.
# Target: Bildbote >= storescu with one association, for each peer and
# mode; the parallel figure is printed for comparison (the issue's goal:
# more than one association's). One summary line per figure (bench/lib.sh):
# dimse-PEER[-MODE]-FILES (instances/s, Bildbote over storescu, target
# >= 1x) and dimse-PEER[-MODE]-ASSOCSassoc-FILES (over storescu's one
# association, no target); PEER storescp or orthanc, MODE nodelay or tls
# (none for the peers as shipped). The peers listen on all interfaces, so
# all of them and both clients run inside a private network namespace with
# only a loopback interface. Needs root (ip netns), dcmtk, orthanc, curl,
# bc and openssl.
#
#   bench/dimse.sh                        # FILES=2000 RUNS=3 ASSOCS=4
#   FILES=20 RUNS=1 bench/dimse.sh        # toy size (scripts/e2e/bench.sh)
#   STRICT=1 bench/dimse.sh               # exit 1 when a ratio is below 1
#   NAGLE=nodelay bench/dimse.sh          # only one mode (default|nodelay)
#   TLS=0 bench/dimse.sh                  # without the DICOM TLS figures
#   ASSOCS=8 bench/dimse.sh               # parallel associations
#   OUT=DIR bench/dimse.sh                # binaries and the CD go to DIR
#                                         # (default build/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
FILES=${FILES:-2000}
RUNS=${RUNS:-3}
ASSOCS=${ASSOCS:-4}
TLS=${TLS:-1}
OUT=${OUT:-build/bench}
for tool in ip Orthanc storescp storescu curl bc openssl; do
	command -v "$tool" >/dev/null || { echo "bench/dimse.sh: $tool missing" >&2; exit 2; }
done
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./bench/cmd/dimsebench
CD=$OUT/cd-$FILES
if [ ! -f "$CD.generated" ]; then
	rm -rf "$CD"; go run ./testdata/gencd -out "$CD" -files "$FILES" >/dev/null; touch "$CD.generated"
fi
find "$CD/DICOM" -type f -exec cat {} + >/dev/null
N=$(find "$CD/DICOM" -type f | wc -l)
MB=$(($(du -sb "$CD/DICOM" | cut -f1) / 1000000))
T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-bench-dimse.XXXXXX")
NS=bbdimse$$
PID=
# stop_peer: stops the peer and removes what it stored (a GB per send at
# 2000 files).
stop_peer() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	PID=
	if [ -n "${DIR:-}" ]; then rm -rf "$DIR"; fi
	DIR=
}
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	stop_peer
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# The TLS peer's certificate (RSA: dcmtk's TLS 1.2 suites are ECDHE_RSA),
# for 127.0.0.1, issued by a CA that only the clients trust.
if [ "$TLS" = 1 ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=Bildbote bench CA' \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj '/CN=pacs' -keyout "$T/pacs.key" -out "$T/pacs.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$T/pacs.ext"
	openssl x509 -req -in "$T/pacs.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
		-extfile "$T/pacs.ext" -out "$T/pacs.pem" 2>/dev/null
fi
# DENV: the environment of every dcmtk process (storescp, Orthanc, storescu)
# in the current mode, see NAGLE below.
DENV=(-u TCP_NODELAY)
now() { date +%s.%N; }
PORT_SCP=11112
PORT_ORTHANC=4242

# start_peer storescp|storescp-fork|storescp-tls|storescp-tls-fork|orthanc: a fresh peer with its own
# directory in the namespace (PID, DIR set); waits until it takes
# connections. ip netns exec and env exec the peer, so PID is the peer's
# own (a shell function here would leave the peer running on kill).
SEQ=0
start_peer() {
	SEQ=$((SEQ + 1))
	DIR=$T/peer$SEQ
	mkdir -p "$DIR/in"
	local port=$PORT_SCP
	case $1 in
	storescp) ip netns exec "$NS" env "${DENV[@]}" storescp --aetitle STORESCP -od "$DIR/in" +B "$PORT_SCP" >"$DIR/log" 2>&1 & ;;
	storescp-fork) ip netns exec "$NS" env "${DENV[@]}" storescp --aetitle STORESCP -od "$DIR/in" +B --fork "$PORT_SCP" >"$DIR/log" 2>&1 & ;;
	storescp-tls) ip netns exec "$NS" env "${DENV[@]}" storescp --aetitle STORESCP -od "$DIR/in" +B \
		+tls "$T/pacs.key" "$T/pacs.pem" -ic "$PORT_SCP" >"$DIR/log" 2>&1 & ;;
	storescp-tls-fork) ip netns exec "$NS" env "${DENV[@]}" storescp --aetitle STORESCP -od "$DIR/in" +B --fork \
		+tls "$T/pacs.key" "$T/pacs.pem" -ic "$PORT_SCP" >"$DIR/log" 2>&1 & ;;
	orthanc)
		port=$PORT_ORTHANC
		cat >"$DIR/orthanc.json" <<JSON
{"Name":"BENCH","HttpPort":8042,"DicomPort":$PORT_ORTHANC,"DicomAet":"ORTHANC","RemoteAccessAllowed":false,
 "AuthenticationEnabled":false,"StorageDirectory":"$DIR/storage","IndexDirectory":"$DIR/index"}
JSON
		ip netns exec "$NS" env "${DENV[@]}" Orthanc "$DIR/orthanc.json" >"$DIR/log" 2>&1 & ;;
	esac
	PID=$!
	for _ in $(seq 1 300); do
		kill -0 "$PID" 2>/dev/null || break
		if in_ns bash -c ": </dev/tcp/127.0.0.1/$port" 2>/dev/null; then
			[ "$1" != orthanc ] && return
			in_ns curl -sf http://127.0.0.1:8042/system >/dev/null && return
		fi
		sleep 0.1
	done
	echo "bench/dimse.sh: $1 did not start" >&2; tail "$DIR/log" >&2; exit 1
}

# received PEER: instances the peer holds.
received() {
	if [ "$1" = orthanc ]; then
		in_ns curl -sf http://127.0.0.1:8042/statistics | grep -o '"CountInstances" *: *[0-9]*' | grep -o '[0-9]*$'
	else
		find "$DIR/in" -type f | wc -l
	fi
}

# measure PEER CLIENT [ASSOCS]: one timed send of the CD into a fresh
# PEER by storescu, bildbote, storescu-tls or bildbote-tls; sets SECS.
measure() {
	local peer=$1 client=$2 n=${3:-1} ae=STORESCP port=$PORT_SCP t0 t1 got
	[ "$peer" = orthanc ] && ae=ORTHANC port=$PORT_ORTHANC
	start_peer "$peer"
	t0=$(now)
	case $client in
	storescu) in_ns env "${DENV[@]}" storescu -aec "$ae" +sd +r -q 127.0.0.1 "$port" "$CD/DICOM" ;;
	bildbote) in_ns "$OUT/bin/dimsebench" -pacs "dicom://$ae@127.0.0.1:$port" -associations "$n" "$CD/DICOM" >"$T/bb.out" ;;
	storescu-tls) in_ns env "${DENV[@]}" storescu +tla +cf "$T/ca.pem" -aec "$ae" +sd +r -q 127.0.0.1 "$port" "$CD/DICOM" ;;
	bildbote-tls) in_ns "$OUT/bin/dimsebench" -pacs "dicom://$ae@127.0.0.1:$port?tls=1" -ca "$T/ca.pem" \
		-associations "$n" "$CD/DICOM" >"$T/bb.out" ;;
	esac
	t1=$(now)
	got=$(received "$peer")
	stop_peer
	if [ "$got" != "$N" ]; then
		echo "bench/dimse.sh: $client ($n association(s)) into $peer: the peer holds $got of $N instances" >&2
		exit 1
	fi
	SECS=$(echo "$t1 - $t0" | bc -l)
	printf '  %s %s into %s, %d association(s): %.3f s\n' "$mode" "$client" "$peer" "$n" "$SECS" >&2
}

# best KEY: keeps the smaller of BEST[KEY] and SECS.
declare -A BEST=()
best() {
	local cur=${BEST[$1]:-}
	if [ -z "$cur" ] || (($(echo "$SECS < $cur" | bc -l))); then BEST[$1]=$SECS; fi
}

# Two modes. "default": the peers as Debian ships them; dcmtk (storescp,
# and Orthanc, which is built on dcmtk) leaves Nagle's algorithm on, so
# its two-segment C-STORE response waits for the client's delayed ACK,
# ~40 ms per instance, which storescu suffers and Bildbote avoids
# (TCP_QUICKACK, transfer/dimse/quickack_linux.go). "nodelay": dcmtk's
# runtime switch TCP_NODELAY=1 for the peers and storescu, so the ratio
# measures the clients' own work, not the stall. The target applies to
# both modes.
NAGLE=${NAGLE:-default nodelay}
for mode in $NAGLE; do
	case $mode in
	default) DENV=(-u TCP_NODELAY) ;;
	nodelay) DENV=(TCP_NODELAY=1) ;;
	*) echo "bench/dimse.sh: NAGLE: unknown mode $mode (default, nodelay)" >&2; exit 2 ;;
	esac
	for _ in $(seq 1 "$RUNS"); do
		measure storescp storescu; best "$mode/scp/dcmtk"
		measure storescp bildbote 1; best "$mode/scp/ours"
		measure storescp-fork bildbote "$ASSOCS"; best "$mode/scp/par"
		measure orthanc storescu; best "$mode/orthanc/dcmtk"
		measure orthanc bildbote 1; best "$mode/orthanc/ours"
		measure orthanc bildbote "$ASSOCS"; best "$mode/orthanc/par"
	done
done
# DICOM TLS, peers as shipped (Nagle on), storescp only.
if [ "$TLS" = 1 ]; then
	mode=tls DENV=(-u TCP_NODELAY)
	for _ in $(seq 1 "$RUNS"); do
		measure storescp-tls storescu-tls; best tls/scp/dcmtk
		measure storescp-tls bildbote-tls 1; best tls/scp/ours
		measure storescp-tls-fork bildbote-tls "$ASSOCS"; best tls/scp/par
	done
fi

rate() { echo "$N / $1" | bc -l; }
echo "== C-STORE of $N files ($MB MB) over loopback in a private network namespace, $(nproc) CPUs, best of $RUNS run(s)"
report() { # MODE PEER LABEL
	local a b p r rp k=$1/$2 name peer=storescu
	a=$(rate "${BEST[$k/dcmtk]}"); b=$(rate "${BEST[$k/ours]}"); p=$(rate "${BEST[$k/par]}")
	r=$(echo "$b / $a" | bc -l); rp=$(echo "$p / $a" | bc -l)
	printf '%s, %s: storescu 1 association %.1f instances/s; Bildbote 1 association %.1f instances/s, ratio %.2f (target >= 1); Bildbote %d associations %.1f instances/s, ratio %.2f\n' \
		"$3" "$1" "$a" "$b" "$r" "$ASSOCS" "$p" "$rp"
	name=dimse-${2/scp/storescp}
	case $1 in
	nodelay) name=$name-nodelay peer="storescu TCP_NODELAY=1" ;;
	tls) name=$name-tls peer="storescu +tls" ;;
	esac
	bench_ratio_higher "$name-$N" "$b" "$a" inst/s "$peer" 1
	bench_ratio_higher "$name-${ASSOCS}assoc-$N" "$p" "$a" inst/s "$peer, 1 association" -
}
for mode in $NAGLE; do
	report "$mode" scp "storescp (--fork for parallel)"
	report "$mode" orthanc Orthanc
done
if [ "$TLS" = 1 ]; then report tls scp "storescp +tls (--fork for parallel)"; fi
bench_exit
