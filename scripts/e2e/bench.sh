#!/usr/bin/env bash
# Benchmarks that nothing runs rot: this runs every bench/*.sh at a toy size
# (20 files, one run, not STRICT) and every Go benchmark once, so a change
# that breaks a benchmark script, its peer's invocation or a Benchmark
# function fails `make test`. Each script must also print at least one
# well-formed summary line (bench/lib.sh's BENCH|name|ours|peer|ratio|
# target|verdict) and no malformed one, so one that stops reporting fails
# too (scripts/bench-summary.sh --check). The figures and verdicts here mean
# nothing (toy sizes, shared CPU; MISSED is fine); the real ones come from
# `make bench`.
#
# Usage: scripts/e2e/bench.sh   (BENCH_SMOKE=0 skips it)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${BENCH_SMOKE:-1}" = 0 ] && { echo "bench.sh: skipped (BENCH_SMOKE=0)"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-e2e-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Every script runs even when one fails, so one run names all that fail.
total=$(date +%s)
bad=()
for b in bench/*.sh; do
	[ "$b" = bench/lib.sh ] && continue # sourced by the others
	name=$(basename "$b" .sh)
	start=$(date +%s)
	if ! FILES=20 RUNS=1 BIG=200 LINK_FILES=10 SEAL_COUNT=1 \
		BENCH_PDI_FILES=20 BENCHTIME=1x STRICT=0 OUT="$T/out-$name" \
		timeout 600 bash "$b" >"$T/$name.log" 2>&1; then
		tail -30 "$T/$name.log" >&2
		echo "FAIL: $b at toy size" >&2
		bad+=("$b at toy size")
		continue
	fi
	if ! scripts/bench-summary.sh --check "$T/$name.log"; then
		tail -30 "$T/$name.log" >&2
		echo "FAIL: $b's summary lines" >&2
		bad+=("$b's summary lines")
		continue
	fi
	echo "bench smoke: $b ok in $(($(date +%s) - start)) s, $(grep -c '^BENCH|' "$T/$name.log") summary line(s); last: $(grep '^BENCH|' "$T/$name.log" | tail -n 1)"
done

# Every Go benchmark once (-benchtime 1x), tests not run again, on toy CDs
# too: BenchmarkSeal's default is the 2000-file CD (a minute to generate).
go run ./testdata/gencd -out "$T/cd-go" -files 20 >/dev/null
mapfile -t pkgs < <(git grep -l '^func Benchmark' -- '*_test.go' | xargs -n1 dirname | sort -u | sed 's|^|./|')
if [ "${#pkgs[@]}" = 0 ]; then
	bad+=("no Go benchmarks found")
elif ! BENCH_PDI_FILES=20 BILDBOTE_BENCH_CD="$T/cd-go" go test -count=1 -run '^$' -bench . -benchtime 1x "${pkgs[@]}" >"$T/go.log" 2>&1; then
	tail -40 "$T/go.log" >&2
	bad+=("go test -bench")
elif ! n=$(grep -c '^Benchmark.* ns/op' "$T/go.log"); then
	cat "$T/go.log" >&2
	bad+=("no Go benchmark result lines")
else
	echo "bench smoke: $n Go benchmark results from ${#pkgs[@]} packages"
fi
echo "bench smoke: $(($(date +%s) - total)) s in all"
[ "${#bad[@]}" = 0 ] || fail "$(printf "%s; " "${bad[@]}" | sed "s/; $//")"
