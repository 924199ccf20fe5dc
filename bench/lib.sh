#!/usr/bin/env bash
# Shared by bench/*.sh (sourced, not run). One figure, one summary line, in
# one fixed format that `make bench` collects into build/bench/summary.md
# and that scripts/e2e/bench.sh checks in its smoke run:
#
#   BENCH|<name>|<ours>|<peer>|<ratio>|<target>|<verdict>
#
# name    short, stable, no spaces ("redeem-2000", "scan-20000")
# ours    our figure with its unit ("7.80 s", "152.8 inst/s")
# peer    the peer's figure with its unit and name ("11.98 s tar+zstd+age+curl"),
#         "-" when the figure has no peer (no field holds a "|")
# ratio   ours / peer (two decimals), "-" when there is no peer; for rates
#         (bench_ratio_higher) bigger is better, for times smaller
# target  what the issue asks for ("<= 0.8x", "<= 0.010 s", "keep")
# verdict "ok" or "MISSED" ("-" for figures with no target); STRICT=1 makes
#         a bench script exit 1 after printing when any verdict is MISSED
#
# Seven fields, none empty, the verdict one of ok, MISSED, -: anything else
# that starts with "BENCH|" fails the smoke run (scripts/bench-summary.sh
# --check), as does a script that prints no such line at all.

BENCH_MISSED=${BENCH_MISSED:-0}

# bench_line NAME OURS PEER RATIO TARGET VERDICT: print one summary line.
# An empty field or one with a "|" is a broken benchmark: return 2.
bench_line() {
	local f
	[ $# = 6 ] || { echo "bench_line: $# fields, want 6: $*" >&2; return 2; }
	for f in "$@"; do
		case $f in
		'') echo "bench_line: empty field in $*" >&2; return 2 ;;
		*'|'*) echo "bench_line: '|' in field '$f'" >&2; return 2 ;;
		esac
	done
	printf 'BENCH|%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$5" "$6"
	[ "$6" = MISSED ] && BENCH_MISSED=1
	return 0
}

# bench_num NAME WHAT VALUE: return 2 unless VALUE is a number above 0 (a
# time or rate of 0, or none, means the measurement broke).
bench_num() {
	if ! awk -v v="$3" 'BEGIN { exit !(v ~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ && v + 0 > 0) }'; then
		echo "bench: $1: $2 is '$3', not a number above 0" >&2
		return 2
	fi
}

# bench_ratio NAME OURS PEER UNIT PEERNAME MAXRATIO: a figure against its
# peer where smaller is better (times); verdict from ours/peer <= MAXRATIO.
# MAXRATIO "-" prints the ratio without a target (verdict "-").
bench_ratio() {
	local name=$1 ours=$2 peer=$3 unit=$4 peername=$5 max=$6 r verdict=ok target
	bench_num "$name" ours "$ours" && bench_num "$name" peer "$peer" || return 2
	r=$(awk -v a="$ours" -v b="$peer" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	if [ "$max" = - ]; then
		target=- verdict=-
	else
		target="<= ${max}x"
		awk -v r="$r" -v m="$max" 'BEGIN { exit !(r > m) }' && verdict=MISSED
	fi
	bench_line "$name" "$(printf '%.3f %s' "$ours" "$unit")" \
		"$(printf '%.3f %s %s' "$peer" "$unit" "$peername")" "$r" "$target" "$verdict"
}

# bench_ratio_higher NAME OURS PEER UNIT PEERNAME MINRATIO: a figure against
# its peer where bigger is better (rates: "inst/s", "MB/s"); verdict from
# ours/peer >= MINRATIO. MINRATIO "-" prints the ratio without a target
# (verdict "-").
bench_ratio_higher() {
	local name=$1 ours=$2 peer=$3 unit=$4 peername=$5 min=$6 r verdict=ok target
	bench_num "$name" ours "$ours" && bench_num "$name" peer "$peer" || return 2
	r=$(awk -v a="$ours" -v b="$peer" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	if [ "$min" = - ]; then
		target=- verdict=-
	else
		target=">= ${min}x"
		awk -v r="$r" -v m="$min" 'BEGIN { exit !(r < m) }' && verdict=MISSED
	fi
	bench_line "$name" "$(printf '%.1f %s' "$ours" "$unit")" \
		"$(printf '%.1f %s %s' "$peer" "$unit" "$peername")" "$r" "$target" "$verdict"
}

# bench_abs NAME OURS UNIT MAX: a figure with no peer and an upper bound.
bench_abs() {
	local name=$1 ours=$2 unit=$3 max=$4 verdict=ok
	awk -v a="$ours" -v m="$max" 'BEGIN { exit !(a > m) }' && verdict=MISSED
	bench_line "$name" "$(printf '%.4f %s' "$ours" "$unit")" - - "<= $max $unit" "$verdict"
}

# bench_info NAME OURS: a figure with no peer and no target, for the
# record (OURS with its unit, e.g. "62.3 MB/s").
bench_info() {
	bench_line "$1" "$2" - - - -
}

# bench_exit: call last; exit 1 under STRICT=1 when a target was missed.
bench_exit() {
	if [ "${STRICT:-0}" = 1 ] && [ "$BENCH_MISSED" = 1 ]; then
		echo "bench: a target was missed (STRICT=1)" >&2
		exit 1
	fi
	exit 0
}

# bench_wait_portal LOG: wait, 10 s at most, until the bildbote-portal
# whose stderr goes to LOG (emptied before it started) answers /healthz;
# sets ADDR and URL, or shows the log and exits 1.
bench_wait_portal() {
	local try
	for try in $(seq 1 100); do
		ADDR=$(grep -o '"addr":"127.0.0.1:[0-9]*"' "$1" | tail -1 | cut -d'"' -f4 || true)
		if [ -n "$ADDR" ] && curl -sf "http://$ADDR/healthz" >/dev/null; then
			# shellcheck disable=SC2034 # URL is the caller's
			URL=http://$ADDR
			return 0
		fi
		[ "$try" -lt 100 ] && sleep 0.1
	done
	cat "$1" >&2
	echo "bench: the portal did not answer within 10 s (its log is above)" >&2
	exit 1
}
