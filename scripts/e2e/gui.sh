#!/usr/bin/env bash
# End-to-end test of the desktop app: the real binary under Xvfb.
#
#   BIN=<dir with bildbote, bildbote-portal> scripts/e2e/gui.sh
#
# Starts the reference portal with its demo data on loopback and a
# private X server, opens the app (English, then German) against the
# portal, checks every screen rendered (a screenshot with enough distinct
# colours), drops a generated demo CD onto the drop zone by a REAL XDND
# drag (our own drag source, internal/testkit/xdnd), checks the scanned
# tree appeared, sends it to the demo inbox by clicking Send, checks the
# portal received it, redeems the demo access code by typing it and the
# date of birth and saves the studies (files must appear in the library),
# and repeats the screens at a small laptop size. Coordinates are those of
# the fixed 1280x800 layout. Screenshots stay in $GUI_SHOTS (default
# build/e2e/gui) for a person to look at.
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
for b in bildbote bildbote-portal; do
	[ -x "$BIN/$b" ] || fail "no $BIN/$b (make build)"
done
command -v python3 >/dev/null || fail "python3 missing"

step "building the XDND drag source"
gcc -O2 -Wall -o "$work/xdnd" internal/testkit/xdnd/xdnd.c -lX11

step "generating the demo CD"
go run ./testdata/gencd -out "$work/demo-cd" -files 20 -small >/dev/null

step "starting the demo portal"
"$BIN/bildbote-portal" demo --data "$work/portal" --json >"$work/demo.json" 2>"$work/demo.log" || fail "portal demo: $(cat "$work/demo.log")"
demo() { python3 -c "import json,sys; print(json.load(open('$work/demo.json'))[sys.argv[1]])" "$1"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/bildbote-portal" serve --data "$work/portal" --listen "127.0.0.1:$port" >"$work/portal.log" 2>&1 &
pids+=($!)
PORTAL=http://127.0.0.1:$port
for _ in $(seq 50); do curl -fs "$PORTAL/dlx/v1/api_info" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$PORTAL/dlx/v1/api_info" >/dev/null || fail "the portal does not answer ($(cat "$work/portal.log"))"

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
start_app() { # LANG [APP ARGS...]
	local lang=$1
	shift
	local state="$work/state-$lang"
	mkdir -p "$state" "$work/xdg-$lang"
	LANG=$lang LC_ALL= LANGUAGE= XDG_CONFIG_HOME="$work/xdg-$lang" BILDBOTE_POLICY= \
		"$BIN/bildbote" -state "$state" -library "$work/library-$lang" -portal "$PORTAL" -inbox "$(demo inbox)" "$@" \
		>"$work/app-$lang.log" 2>&1 &
	app_pid=$!
	pids+=("$app_pid")
	wid=$(timeout 30 xdotool search --sync --name '^Bildbote$' | head -1) || fail "no app window ($(cat "$work/app-$lang.log"))"
	size_window 1280 800
	sleep 2
}
# size_window W H: the app fits its first size to the screen (the height
# less a title bar: 760 on this 800-line screen) once it knows the screen,
# which under load can come after our resize. Resize until W x H has held
# for a second (bounded), so the fixed click positions below are right.
size_window() {
	local held=0 geo
	for _ in $(seq 30); do
		xdotool windowsize "$wid" "$1" "$2"
		sleep 0.5
		geo=$(xdotool getwindowgeometry "$wid" | awk '/Geometry:/ {print $2}')
		if [ "$geo" = "$1x$2" ]; then
			held=$((held + 1))
			[ "$held" -ge 2 ] && return 0
		else
			held=0
		fi
	done
	fail "the window would not stay at $1x$2 (it is $geo)"
}
stop_app() { kill "$app_pid"; wait "$app_pid" 2>/dev/null || true; }
click() { xdotool mousemove "$1" "$2" click 1; sleep 0.7; }

step "English, 1280x800"
# Sending needs who sends and how to reach them (required by default):
# remembered from an earlier send, as on a practice's PC.
mkdir -p "$work/state-en_US.UTF-8"
printf '{"sender_name": "Praxis Dr. Weber", "sender_contact": "0201 12345"}\n' >"$work/state-en_US.UTF-8/settings.json"
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


step "sending the CD to the demo inbox"
# The default inbox (-inbox) is looked up by itself after the scan: the
# clinic's name and key fingerprint show before anything is sent.
sleep 2
shot en-send-recipient >/dev/null
click 1010 735                  # Send (pinned below the form at 1280x800)
shot en-send-summary >/dev/null # what leaves the PC, with Send / Back
xdotool key Return              # Send in the summary has the focus
inbox_items() {
	curl -fs -H "Authorization: Bearer $(demo apiKey)" "$PORTAL/api/v1/inbox/$(demo inbox)" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'
}
sent=
for _ in $(seq 60); do
	[ "$(inbox_items)" = 1 ] && { sent=yes; break; }
	sleep 0.5
done
[ -n "$sent" ] || fail "the demo inbox did not receive the envelope"
sleep 1
click 275 21                    # Transfers: the receipt
shot en-transfers-sent >/dev/null

step "redeeming the demo code"
click 150 21                    # Redeem code
shot en-redeem >/dev/null
click 60 150                    # first code field
code=$(demo accessCode); code=${code//-/}
xdotool type --delay 40 "${code:0:4}"  # advances to the next field by itself
xdotool type --delay 40 "${code:4}"
sleep 0.5
shot en-redeem-typed >/dev/null
differs "$shots/en-redeem.png" "$shots/en-redeem-typed.png" 300 || fail "typing the code changed nothing"
xdotool key Return; sleep 2     # asks the portal; the date field gets the focus
shot en-redeem-questions >/dev/null
xdotool type --delay 40 "$(demo birthDate)"
xdotool key Return; sleep 2     # answers; Save all gets the focus
shot en-redeem-items >/dev/null
xdotool key space               # Save all
saved=
for _ in $(seq 60); do
	if [ -n "$(find "$work/library-en_US.UTF-8" -type f 2>/dev/null | head -1)" ]; then saved=yes; break; fi
	sleep 0.5
done
[ -n "$saved" ] || fail "saving the redeemed studies wrote nothing into the library"
sleep 1
shot en-redeem-saved >/dev/null

click 275 21                    # Transfers
shot en-transfers >/dev/null
click 380 21                    # Settings
shot en-settings >/dev/null

step "English, small laptop 1024x600"
size_window 1024 600
sleep 1
click 40 21
shot en-small-send >/dev/null
click 150 21
shot en-small-redeem >/dev/null
click 380 21
shot en-small-settings >/dev/null
stop_app

step "German clinic, 1280x800: the clinic key, an envelope from a practice"
# The clinic's key lives in a passphrase-protected file (no keyring here).
export BILDBOTE_KEY_PASSPHRASE=e2e-only-passphrase
state_de="$work/state-de_DE.UTF-8"
"$BIN/bildbote-cli" keys init --state "$state_de" --json >"$work/keys.json" || fail "keys init"
recipient=$(python3 -c "import json; print(json.load(open('$work/keys.json'))['recipient'])")
apikey=$(LANG=C "$BIN/bildbote-portal" community add --data "$work/portal" --code KLIN \
	--name "Klinik Nord" --recipient "$recipient" 2>/dev/null | head -1)
[ -n "$apikey" ] || fail "community add printed no API key"
"$BIN/bildbote-cli" send --state "$work/state-cli" --portal "$PORTAL" --to KLIN \
	--sender "Praxis Dr. Weber" "$work/demo-cd" >"$work/cli-send.log" 2>&1 || fail "cli send: $(cat "$work/cli-send.log")"
export BILDBOTE_INBOX_KEY=$apikey
start_app de_DE.UTF-8 -clinic -inbox KLIN
shot de-send >/dev/null
click 170 21                    # Code einlösen
shot de-redeem >/dev/null
click 300 21                    # Posteingang
sleep 1                         # lists by itself: the key came with BILDBOTE_INBOX_KEY
sleep 2
shot de-inbox >/dev/null
click 95 699                    # Auswahl importieren (above the "Ins PACS senden: zuerst …" hint: no PACS set here)
imported=
for _ in $(seq 60); do
	if [ -n "$(find "$work/library-de_DE.UTF-8" -type f 2>/dev/null | head -1)" ]; then imported=yes; break; fi
	sleep 0.5
done
[ -n "$imported" ] || fail "importing the clinic inbox wrote nothing into the library (see $shots/de-inbox.png: did the button move?)"
sleep 2
shot de-inbox-imported >/dev/null
click 460 21                    # Übertragungen
shot de-transfers >/dev/null
click 590 21                    # Einstellungen
shot de-settings >/dev/null
stop_app

step "ok: screenshots in $shots"
