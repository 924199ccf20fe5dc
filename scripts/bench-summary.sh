#!/usr/bin/env bash
# The benchmarks' summary lines (bench/lib.sh: BENCH|name|ours|peer|ratio|
# target|verdict), checked and collected.
#
#   scripts/bench-summary.sh --check LOG
#       exit 0 when LOG holds at least one well-formed summary line and no
#       malformed one (seven fields, none empty, verdict ok, MISSED or -);
#       otherwise name the problem and exit 1 (scripts/e2e/bench.sh).
#   scripts/bench-summary.sh DIR
#       DIR/summary.md from DIR/NAME.log (and DIR/NAME.rc, the script's exit
#       status), as `make bench` leaves them: a header with the date, the
#       commit and the machine, one Markdown table row per summary line,
#       then every script that failed, printed no summary line or a
#       malformed one. Prints the summary; exits 1 when any script did.
set -euo pipefail

# lines LOG: LOG's summary lines, each as "ok<TAB>LINE" or "bad<TAB>LINE".
lines() {
	awk -F'|' '/^BENCH\|/ {
		ok = (NF == 7 && $7 ~ /^(ok|MISSED|-)$/)
		for (i = 2; i <= NF; i++) if ($i == "") ok = 0
		print (ok ? "ok" : "bad") "\t" $0
	}' "$1"
}

# problems LOG: one line per problem of LOG's summary lines, none when fine.
problems() {
	local out
	out=$(lines "$1")
	if ! grep -q '^ok' <<<"$out"; then echo "no well-formed BENCH| summary line"; fi
	grep '^bad' <<<"$out" | cut -f2- | sed 's/^/malformed summary line: /' || true
}

if [ "${1:-}" = --check ]; then
	[ $# = 2 ] || { echo "usage: $0 --check LOG" >&2; exit 2; }
	p=$(problems "$2")
	if [ -n "$p" ]; then
		echo "$2: $p" >&2
		exit 1
	fi
	exit 0
fi
[ $# = 1 ] && [ -d "$1" ] || { echo "usage: $0 DIR | --check LOG" >&2; exit 2; }
DIR=$1
shopt -s nullglob
logs=("$DIR"/*.log)
[ "${#logs[@]}" -gt 0 ] || { echo "bench-summary: no logs in $DIR" >&2; exit 1; }

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
ram=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
commit=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
fail=0
rows=() notes=()
for log in "${logs[@]}"; do
	name=$(basename "$log" .log)
	rc=$(cat "$DIR/$name.rc" 2>/dev/null || echo '?')
	if [ "$rc" != 0 ]; then
		notes+=("- bench/$name.sh failed (exit $rc), see $log")
		fail=1
	fi
	while IFS=$'\t' read -r kind line; do
		[ "$kind" = ok ] || continue
		IFS='|' read -r _ f ours peer ratio target verdict <<<"$line"
		[ "$verdict" = MISSED ] && verdict='**MISSED**'
		rows+=("| $f | $ours | $peer | $ratio | $target | $verdict |")
	done < <(lines "$log")
	while read -r p; do
		[ -n "$p" ] || continue
		notes+=("- bench/$name.sh: $p")
		fail=1
	done < <(problems "$log")
done

{
	echo "# Benchmark summary"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- commit: $commit"
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, ${ram:-unknown} RAM, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	echo
	echo "Ratios are ours over the peer's, measured in the same run: for times"
	echo "smaller is better, for rates (inst/s, MB/s) bigger. Logs: $DIR/NAME.log."
	echo
	echo "| figure | ours | peer | ratio | target | verdict |"
	echo "|---|---|---|---|---|---|"
	if [ "${#rows[@]}" -gt 0 ]; then printf '%s\n' "${rows[@]}"; fi
	if [ "${#notes[@]}" -gt 0 ]; then
		echo
		echo "## Problems"
		echo
		printf '%s\n' "${notes[@]}"
	fi
} >"$DIR/summary.md"
cat "$DIR/summary.md"
exit "$fail"
