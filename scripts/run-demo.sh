#!/usr/bin/env bash
# `make run` (after `make build`): the desktop app against a local demo
# portal, with nothing written outside build/demo/:
#   - build/demo/portal   the reference portal's data (`bildbote-portal demo`:
#                         inbox DEMO, its API key and clinic identity, an
#                         access code with date of birth), made once;
#   - build/demo/cd       a synthetic CD (2 patients) to drag into the window;
#   - build/demo/state    the app's settings, jobs and the demo clinic key,
#                         kept in a passphrase file (BILDBOTE_KEYRING=off:
#                         the OS keyring entry "clinic" is shared by every
#                         state dir of the user, the demo must not touch it);
#   - build/demo/library  where saved and imported studies go.
# The portal runs on 127.0.0.1:8080 (or the next free port) while the
# window is open and is stopped by its PID when the app ends.
#
# Usage: scripts/run-demo.sh [extra arguments for bin/bildbote]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin}
DEMO=$ROOT/build/demo
DATA=$DEMO/portal
CD=$DEMO/cd
STATE=$DEMO/state
LIBRARY=$DEMO/library
LOG=$DEMO/portal.log

say() { printf '%s\n' "$*"; }
die() { printf 'run-demo: %s\n' "$*" >&2; exit 1; }

for b in bildbote bildbote-cli bildbote-portal; do
	[ -x "$BIN/$b" ] || die "$BIN/$b fehlt / is missing — make build"
done
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ "$(uname -s)" = Linux ]; then
	die "Kein Bildschirm (DISPLAY ist nicht gesetzt) — die Desktop-App braucht eine grafische Sitzung.
          No display (DISPLAY is not set) — the desktop app needs a graphical session.
          Headless: Xvfb :77 & DISPLAY=:77 make run"
fi
mkdir -p "$DEMO" "$LIBRARY"

# 1. Demo data on the portal (idempotent: a second run prints the same values).
"$BIN/bildbote-portal" demo --data "$DATA" --json >"$DEMO/demo.json" 2>"$DEMO/demo.log" ||
	{ cat "$DEMO/demo.log" >&2; die "bildbote-portal demo failed"; }
field() { sed -n "s/^ *\"$1\": *\"\\(.*\\)\",\\{0,1\\}$/\\1/p" "$DEMO/demo.json"; }
INBOX=$(field inbox)
API_KEY=$(field apiKey)
IDENTITY=$(field identityFile)
ACCESS_CODE=$(field accessCode)
BIRTH_DATE=$(field birthDate)
BIRTH_DATE_DE=$(sed -n 's/^\([0-9]\{4\}\)-\([0-9]\{2\}\)-\([0-9]\{2\}\)$/\3.\2.\1/p' <<<"$BIRTH_DATE")
[ -n "$INBOX" ] && [ -n "$API_KEY" ] && [ -f "$IDENTITY" ] && [ -n "$ACCESS_CODE" ] ||
	die "unexpected output of bildbote-portal demo: $DEMO/demo.json"

# 2. A demo CD to send, made once (a marker file says it is complete).
if [ ! -e "$CD/.complete" ]; then
	say "Erzeuge Demo-CD / generating the demo CD ($CD) …"
	rm -rf "$CD"
	dicomdir=-dicomdir
	command -v dcmmkdir >/dev/null || dicomdir= # dcmtk writes the DICOMDIR
	go run ./testdata/gencd -out "$CD" -files 40 $dicomdir >"$DEMO/gencd.log" 2>&1 ||
		{ cat "$DEMO/gencd.log" >&2; die "go run ./testdata/gencd failed"; }
	touch "$CD/.complete"
fi

# 3. The portal, on 8080 or the next free port.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${BILDBOTE_DEMO_PORT:-8080}
while port_busy "$PORT"; do
	PORT=$((PORT + 1))
	[ "$PORT" -lt 8180 ] || die "no free port between 8080 and 8179"
done
URL=http://127.0.0.1:$PORT
PORTAL_PID=
stop_portal() {
	if [ -n "$PORTAL_PID" ] && kill -0 "$PORTAL_PID" 2>/dev/null; then
		kill -TERM "$PORTAL_PID"
		wait "$PORTAL_PID" 2>/dev/null || true
	fi
	PORTAL_PID=
}
trap stop_portal EXIT
trap 'exit 130' INT TERM
"$BIN/bildbote-portal" serve --data "$DATA" --listen "127.0.0.1:$PORT" --public-url "$URL" >"$LOG" 2>&1 &
PORTAL_PID=$!

api_info_ok() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	printf 'GET /dlx/v1/api_info HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	local status
	read -r _ status _ <&3 || status=
	exec 3>&-
	[ "$status" = 200 ]
}
for _ in $(seq 100); do
	kill -0 "$PORTAL_PID" 2>/dev/null || { cat "$LOG" >&2; die "the portal did not start"; }
	if api_info_ok 2>/dev/null; then break; fi
	sleep 0.1
done
api_info_ok 2>/dev/null || { cat "$LOG" >&2; die "the portal does not answer on $URL"; }

# 4. The demo clinic's key, into the demo state dir only (idempotent).
export BILDBOTE_KEYRING=off BILDBOTE_KEY_PASSPHRASE=demo BILDBOTE_POLICY=${BILDBOTE_POLICY-}
"$BIN/bildbote-cli" keys import --state "$STATE" "$IDENTITY" >"$DEMO/keys.log" 2>&1 ||
	{ cat "$DEMO/keys.log" >&2; die "importing the demo clinic key failed"; }

# The German quotes „…“ below are text, not shell quoting.
# shellcheck disable=SC1111
cat <<EOF

================================================================================
 Bildbote – Demo
--------------------------------------------------------------------------------
 Portal:                        $URL
 Demo-CD zum Hineinziehen /
 demo CD to drag in:            $CD
 Postfach / inbox:              $INBOX
 Zugangscode / access code:     $ACCESS_CODE
 Geburtsdatum / date of birth:  $BIRTH_DATE_DE / $BIRTH_DATE
 Daten / data:                  $DEMO
--------------------------------------------------------------------------------
 Senden: CD ins Fenster ziehen, an $INBOX senden; im Tab „Posteingang“ erscheint
 sie und lässt sich importieren. Abrufen: Zugangscode + Geburtsdatum eingeben.
 Send: drag the CD into the window and send it to $INBOX; it then shows up in
 the Inbox tab for import. Redeem: enter the access code and date of birth.
 Das Portal endet mit dem Fenster / the portal stops when the window closes.
================================================================================

EOF

# 5. The app; the portal stops when the window closes (trap).
status=0
BILDBOTE_INBOX_KEY=$API_KEY "$BIN/bildbote" -portal "$URL" -state "$STATE" -library "$LIBRARY" \
	-inbox "$INBOX" -clinic "$@" || status=$?
stop_portal
exit "$status"
