#!/usr/bin/env bash
# End-to-end test of the desktop app: the real binary under Xvfb.
#
#   BIN=<dir with bildbote, bildbote-portal> scripts/e2e/gui.sh
#
# Starts a private X server, opens the app (English, then German), checks
# every screen rendered (a screenshot with enough distinct colours), drops
# a generated demo CD onto the drop zone by a REAL XDND drag (our own
# drag source, internal/testkit/xdnd), checks the scanned tree appeared,
# switches tabs and types an access code with xdotool, and repeats the
# screens at a small laptop size. Screenshots stay in $GUI_SHOTS
# (default build/e2e/gui) for a person to look at.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
BIN=${BIN:-$root/bin}
shots=${GUI_SHOTS:-$root/build/e2e/gui}
mkdir -p "$shots"
rm -f "$shots"/*.png

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "gui.sh: FAIL: $*" >&2; exit 1; }
step() { echo "gui.sh: $*"; }

for t in Xvfb xdotool import convert compare gcc; do
	command -v "$t" >/dev/null || fail "$t missing (scripts/deps.sh test installs it)"
done
[ -x "$BIN/bildbote" ] || fail "no $BIN/bildbote (make build)"

step "building the XDND drag source"
gcc -O2 -Wall -o "$work/xdnd" internal/testkit/xdnd/xdnd.c -lX11

step "generating the demo CD"
go run ./testdata/gencd -out "$work/demo-cd" -files 20 -small >/dev/null

# A free display number: no socket and no lock file.
disp=
for n in $(seq 90 140); do
	if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then disp=:$n; break; fi
done
[ -n "$disp" ] || fail "no free X display"
export DISPLAY=$disp
Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do xdotool getmouselocation >/dev/null 2>&1 && break; sleep 0.1; done

# shot NAME: screenshot of the whole screen; fails when it is (nearly)
# blank, i.e. the app did not render.
shot() {
	local f="$shots/$1.png"
	import -window root "$f"
	local colours
	colours=$(convert "$f" -format %k info:)
	[ "$colours" -ge 50 ] || fail "$1: only $colours colours: nothing rendered"
	echo "$f"
}

# differs A B [PIXELS]: the screenshots differ in more than PIXELS pixels
# (default 10000, about 1% of the screen).
differs() {
	local ae
	# ImageMagick prints large counts as 1.02e+06: let awk read it.
	ae=$(compare -metric AE "$1" "$2" null: 2>&1 | awk '{printf "%d", $1}' || true)
	[ "${ae:-0}" -gt "${3:-10000}" ]
}

app_pid=
start_app() { # LANG
	local state="$work/state-$1"
	mkdir -p "$state" "$work/xdg-$1"
	LANG=$1 LC_ALL= LANGUAGE= XDG_CONFIG_HOME="$work/xdg-$1" BILDBOTE_POLICY= \
		"$BIN/bildbote" -state "$state" -library "$work/library" ${PORTAL:+-portal "$PORTAL"} \
		>"$work/app-$1.log" 2>&1 &
	app_pid=$!
	pids+=("$app_pid")
	wid=$(timeout 30 xdotool search --sync --name '^Bildbote$' | head -1) || fail "no app window ($(cat "$work/app-$1.log"))"
	xdotool windowsize "$wid" 1280 800
	sleep 2
}
stop_app() { kill "$app_pid"; wait "$app_pid" 2>/dev/null || true; }
click() { xdotool mousemove "$1" "$2" click 1; sleep 0.7; }

step "English, 1280x800"
start_app en_US.UTF-8
shot en-send >/dev/null
before="$shots/en-send.png"

step "dropping the demo CD by XDND onto the drop zone"
"$work/xdnd" "$wid" 370 450 "$work/demo-cd" || fail "the window refused the XDND drop"
scanned=
for _ in $(seq 60); do
	sleep 0.5
	import -window root "$work/now.png"
	if differs "$before" "$work/now.png"; then
		sleep 1
		scanned=yes
		break
	fi
done
[ -n "$scanned" ] || fail "the screen did not change after the drop"
shot en-send-scanned >/dev/null
xdotool key space; sleep 0.5   # closes an error dialog, if the scan showed one

step "tabs and typing an access code"
click 150 21                    # Redeem code
shot en-redeem >/dev/null
click 60 150                    # first code field
xdotool type --delay 40 "abcd"  # advances to the next field by itself
xdotool type --delay 40 "efgh2345"
sleep 0.5
shot en-redeem-typed >/dev/null
differs "$shots/en-redeem.png" "$shots/en-redeem-typed.png" 300 || fail "typing the code changed nothing"
click 275 21                    # Transfers
shot en-transfers >/dev/null
click 380 21                    # Settings
shot en-settings >/dev/null

step "English, small laptop 1024x600"
xdotool windowsize "$wid" 1024 600
sleep 1
click 40 21
shot en-small-send >/dev/null
click 150 21
shot en-small-redeem >/dev/null
click 380 21
shot en-small-settings >/dev/null
stop_app

step "German, 1280x800"
start_app de_DE.UTF-8
shot de-send >/dev/null
click 170 21                    # Code einlösen
shot de-redeem >/dev/null
click 315 21                    # Übertragungen
shot de-transfers >/dev/null
click 460 21                    # Einstellungen
shot de-settings >/dev/null
stop_app

step "ok: screenshots in $shots"
