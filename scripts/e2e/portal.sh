#!/usr/bin/env bash
# End-to-end test of the real bildbote-portal binary with curl as an
# independent client: issue a code from a synthetic CD, serve on loopback,
# redeem it over DLX (token, tokentfa, list, download with Range), unzip
# and validate the DICOMDIR with dciodvfy and dcdirdmp; upload an envelope
# over raw tus and fetch it from the clinic inbox; admin commands while
# serving; graceful restart keeps everything; no secrets in the log.
#
# Usage: BIN=<dir with built binaries> scripts/e2e/portal.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$PWD/bin}
PORTAL=$BIN/bildbote-portal
[ -x "$PORTAL" ] || { echo "portal.sh: $PORTAL missing (make build)"; exit 1; }
for tool in curl unzip dciodvfy dcdirdmp sha256sum cmp; do
	command -v "$tool" >/dev/null || { echo "portal.sh: $tool missing (scripts/deps.sh test)"; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/bildbote-e2e-portal.XXXXXX")
DATA=$T/data
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$T/server.log" ] && tail -20 "$T/server.log" >&2; exit 1; }
step() { echo "-- $*"; }

# expect STATUS CURL-ARGS...: run curl, check the status, body in $T/body.
expect() {
	local want=$1; shift
	local got
	got=$(curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@") || fail "curl $*"
	[ "$got" = "$want" ] || fail "curl $* → $got, want $want: $(head -c 300 "$T/body")"
}
header() { grep -i "^$1:" "$T/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

start_server() {
	: >"$T/server.log"
	"$PORTAL" serve --data "$DATA" --listen 127.0.0.1:0 2>>"$T/server.log" &
	SERVER_PID=$!
	for _ in $(seq 1 100); do
		ADDR=$(grep -o '"addr":"127.0.0.1:[0-9]*"' "$T/server.log" | head -1 | cut -d'"' -f4 || true)
		[ -n "$ADDR" ] && curl -sf "http://$ADDR/healthz" >/dev/null && break
		sleep 0.1
	done
	[ -n "$ADDR" ] || fail "server did not start"
	URL=http://$ADDR
	B=$URL/dlx/v1
}

stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || fail "serve exited with $? on SIGTERM"
	SERVER_PID=
	grep -q '"msg":"shutting down"' "$T/server.log" || fail "no graceful shutdown"
}

step "synthetic CD"
go run ./testdata/gencd -out "$T/cd" -files 40 -small -documents -dicomdir -seed 5 >/dev/null

step "refuses plain HTTP off loopback"
if "$PORTAL" serve --data "$DATA" --listen 0.0.0.0:0 2>"$T/refuse.log"; then fail "served plain HTTP on 0.0.0.0"; fi

step "community add, code issue (server stopped)"
RECIPIENT=$(age-keygen 2>/dev/null | grep -o 'age1[0-9a-z]*' || true)
[ -n "$RECIPIENT" ] || RECIPIENT=age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
API_KEY=$("$PORTAL" community add --data "$DATA" --code bM1X --name "Radiologie Klinikum Saarbrücken" --recipient "$RECIPIENT" 2>>"$T/admin.log")
[[ $API_KEY == bbk_* ]] || fail "API key $API_KEY"
CODE=$("$PORTAL" code issue --data "$DATA" --dob 1958-02-14 --expires 90d --sheet "$T/sheet.pdf" "$T/cd" 2>>"$T/admin.log")
[[ $CODE =~ ^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$ ]] || fail "code $CODE"
head -c 5 "$T/sheet.pdf" | grep -q '%PDF-' || fail "no code sheet"

start_server
step "DLX redeem at $URL"
expect 200 "$B/api_info"
grep -q '"dlxVersion":"v1"' "$T/body" || fail "api_info"
expect 200 -H 'X-DICOM-LINK-EXCHANGE: 1' "$B/token/$CODE"
grep -q '"questionType":"PAT_BIRTH_DATE"' "$T/body" || fail "token questions"
expect 200 -H 'X-DICOM-LINK-EXCHANGE: 1' "$URL/c?token=$CODE"
expect 200 -H 'Accept-Language: de' "$URL/c?token=$CODE"
[[ $(header Content-Type) == text/html* ]] || fail "code page type"
expect 200 -H 'X-DICOM-LINK-EXCHANGE: 1' "$B/token/0000-0000-0000"
expect 401 -X POST -H 'Content-Type: application/json' -d '{"tfaAnswer":[{"questionId":"1","answer":"19580215"}]}' "$B/tokentfa/$CODE"
expect 200 -X POST -H 'Content-Type: application/json' -d '{"tfaAnswer":[{"questionId":"1","answer":"19580214"}]}' "$B/tokentfa/$CODE"
[ "$(header Content-Type)" = application/jwt ] || fail "tokentfa content type"
JWT=$(cat "$T/body")
AUTH="Authorization: Bearer $JWT"
expect 401 "$B/list"
expect 200 -H "$AUTH" "$B/list"
STUDY=$(grep -o '"id":"[a-z0-9]*","mimeType":"application/zip"' "$T/body" | head -1 | cut -d'"' -f4)
[ -n "$STUDY" ] || fail "no study in list: $(cat "$T/body")"

step "download study $STUDY (503 while preparing, then 200), Range, unzip, validate"
for _ in $(seq 1 200); do
	code=$(curl -sS -o "$T/study.zip" -D "$T/headers" -w '%{http_code}' -H "$AUTH" "$B/download/$STUDY")
	[ "$code" = 200 ] && break
	[ "$code" = 503 ] || fail "download → $code"
	grep -q '"timeOutInSeconds":' "$T/study.zip" || fail "503 without timeOutInSeconds"
	sleep 0.1
done
[ "$code" = 200 ] || fail "study never ready"
[ "$(header Content-Type)" = application/zip ] || fail "study content type"
[ "$(header Accept-Ranges)" = bytes ] || fail "Accept-Ranges"
[ -n "$(header ETag)" ] || fail "ETag"
SIZE=$(stat -c %s "$T/study.zip")
[ "$(header Content-Length)" = "$SIZE" ] || fail "Content-Length $(header Content-Length) != $SIZE"
# Fetch it again in two ranges and compare.
HALF=$((SIZE / 2))
expect 206 -H "$AUTH" -H "Range: bytes=0-$((HALF - 1))" "$B/download/$STUDY"
cp "$T/body" "$T/part1"
expect 206 -H "$AUTH" -H "Range: bytes=$HALF-" -H "If-Range: $(curl -sS -I -H "$AUTH" "$B/download/$STUDY" | grep -i '^etag:' | cut -d' ' -f2 | tr -d '\r')" "$B/download/$STUDY"
cat "$T/part1" "$T/body" >"$T/ranged.zip"
cmp -s "$T/study.zip" "$T/ranged.zip" || fail "ranged download differs"
mkdir "$T/unz" && (cd "$T/unz" && unzip -q "$T/study.zip")
[ -f "$T/unz/DICOMDIR" ] || fail "no DICOMDIR at the root"
if dciodvfy "$T/unz/DICOMDIR" 2>&1 | grep '^Error'; then fail "dciodvfy errors"; fi
dcdirdmp "$T/unz/DICOMDIR" >"$T/dcdirdmp.txt" 2>&1 || fail "dcdirdmp: $(tail -5 "$T/dcdirdmp.txt")"
grep -q 'IMAGE' "$T/dcdirdmp.txt" || fail "dcdirdmp lists no images"

step "tus upload to bM1X"
printf 'age-encryption.org/v1 pretend envelope %.0s' $(seq 1 300) >"$T/envelope"
LEN=$(stat -c %s "$T/envelope")
SUM=$(sha256sum "$T/envelope" | cut -d' ' -f1)
b64() { printf '%s' "$1" | base64 -w0; }
META="community $(b64 bM1X),sha256 $(b64 "$SUM"),filename $(b64 cd.zip.age)"
expect 201 -X POST -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $LEN" -H "Upload-Metadata: $META" "$URL/api/v1/uploads/"
LOC=$(header Location)
[[ $LOC == http://127.0.0.1:* ]] || LOC=$URL$LOC
ID=${LOC##*/}
SECRET="Bildbote-Upload-Secret: $(header Bildbote-Upload-Secret)"
[ ${#SECRET} -gt 60 ] || fail "no creator secret"
expect 404 -I -H 'Tus-Resumable: 1.0.0' "$LOC"   # without the creator secret
head -c 1000 "$T/envelope" >"$T/chunk1"
tail -c +1001 "$T/envelope" >"$T/chunk2"
expect 204 -X PATCH -H 'Tus-Resumable: 1.0.0' -H "$SECRET" -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream' --data-binary @"$T/chunk1" "$LOC"

step "restart in the middle of the upload"
stop_server
expect_down() { ! curl -sf "$URL/healthz" >/dev/null 2>&1; }
expect_down || fail "server still up"
"$PORTAL" code list --data "$DATA" | grep -q PAT_BIRTH_DATE || fail "code list on the stopped data dir"
OLD_URL=$URL
start_server
LOC=${LOC/$OLD_URL/$URL}
expect 200 -I -H 'Tus-Resumable: 1.0.0' -H "$SECRET" "$LOC"
[ "$(header Upload-Offset)" = 1000 ] || fail "offset after restart: $(header Upload-Offset)"
expect 204 -X PATCH -H 'Tus-Resumable: 1.0.0' -H "$SECRET" -H 'Upload-Offset: 1000' -H 'Content-Type: application/offset+octet-stream' --data-binary @"$T/chunk2" "$LOC"
expect 200 "$URL/api/v1/receipts/$ID"
grep -q "\"sha256\":\"$SUM\"" "$T/body" || fail "receipt: $(cat "$T/body")"

step "clinic inbox"
KEY="Authorization: Bearer $API_KEY"
expect 401 "$URL/api/v1/inbox/bM1X"
expect 200 -H "$KEY" "$URL/api/v1/inbox/bM1X"
grep -q "\"id\":\"$ID\"" "$T/body" || fail "inbox list"
expect 200 -H "$KEY" "$URL/api/v1/inbox/bM1X/$ID"
cmp -s "$T/body" "$T/envelope" || fail "envelope differs"
expect 206 -H "$KEY" -H 'Range: bytes=10-' "$URL/api/v1/inbox/bM1X/$ID"
tail -c +11 "$T/envelope" | cmp -s - "$T/body" || fail "envelope range differs"
expect 204 -X DELETE -H "$KEY" "$URL/api/v1/inbox/bM1X/$ID"
expect 404 -H "$KEY" "$URL/api/v1/inbox/bM1X/$ID"

step "checksum mismatch → 460"
expect 201 -X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: 4' -H "Upload-Metadata: community $(b64 bM1X),sha256 $(b64 "$SUM")" "$URL/api/v1/uploads/"
BAD=$(header Location); [[ $BAD == http* ]] || BAD=$URL$BAD
BADSECRET="Bildbote-Upload-Secret: $(header Bildbote-Upload-Secret)"
expect 460 -X PATCH -H 'Tus-Resumable: 1.0.0' -H "$BADSECRET" -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream' --data-binary 'abcd' "$BAD"

step "admin commands while serving"
"$PORTAL" code list --data "$DATA" | grep -q PAT_BIRTH_DATE || fail "code list over the socket"
CODE2=$("$PORTAL" code issue --data "$DATA" --dob 1960-01-31 --expires 1d "$T/cd" 2>>"$T/admin.log")
expect 200 -X POST -d '{"tfaAnswer":[{"questionId":"1","answer":"1960-01-31"}]}' "$B/tokentfa/$CODE2"
"$PORTAL" code revoke --data "$DATA" "$CODE2" >/dev/null
expect 401 -X POST -d '{"tfaAnswer":[{"questionId":"1","answer":"1960-01-31"}]}' "$B/tokentfa/$CODE2"
"$PORTAL" community list --data "$DATA" | grep -q bM1X || fail "community list over the socket"

step "the code works after the restart; the log holds no secrets"
expect 200 -X POST -d '{"tfaAnswer":[{"questionId":"1","answer":"19580214"}]}' "$B/tokentfa/$CODE"
stop_server
for secret in "$CODE" "${CODE//-/}" "$CODE2" 19580214 1958-02-14 "$JWT" "$API_KEY" "${SECRET#*: }" "${BADSECRET#*: }"; do
	if grep -qF -- "$secret" "$T/server.log"; then fail "server log contains a secret"; fi
done
echo "portal.sh: OK"
