#!/usr/bin/env bash
# Authenticode signing with osslsigncode.
#
#   packaging/windows/sign.sh WORKDIR FILE...     signs each FILE in place
#
# The certificate and key are PEM files named by SIGN_CERT and SIGN_KEY (a
# chain may follow the certificate in SIGN_CERT; SIGN_PASS_FILE holds the
# key's passphrase if it has one; SIGN_TIMESTAMP_URL adds an RFC 3161
# timestamp, so the signature outlives the certificate). Without SIGN_CERT
# (CI) a throwaway self-signed code-signing certificate is generated in
# WORKDIR and used: the signature is structurally real but trusted by
# nobody. Every signed file is verified against the certificate.
set -euo pipefail
work=${1:?usage: sign.sh WORKDIR FILE...}
shift

cert=${SIGN_CERT:-}
key=${SIGN_KEY:-}
if [ -z "$cert" ]; then
	cert=$work/throwaway-codesign.crt
	key=$work/throwaway-codesign.key
	if [ ! -s "$cert" ]; then
		openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 30 \
			-subj "/CN=Bildbote throwaway test signing/O=Bildbote CI" \
			-addext "keyUsage=critical,digitalSignature" \
			-addext "extendedKeyUsage=codeSigning" \
			-keyout "$key" -out "$cert" 2>/dev/null
		echo "sign: no SIGN_CERT, using a throwaway self-signed certificate ($cert)" >&2
	fi
fi
if [ ! -r "$cert" ] || [ ! -r "$key" ]; then
	echo "sign: cannot read SIGN_CERT/SIGN_KEY" >&2
	exit 1
fi

args=(-certs "$cert" -key "$key" -h sha256 -n Bildbote -i https://github.com/bildbote/bildbote)
[ -z "${SIGN_PASS_FILE:-}" ] || args+=(-readpass "$SIGN_PASS_FILE")
[ -z "${SIGN_TIMESTAMP_URL:-}" ] || args+=(-ts "$SIGN_TIMESTAMP_URL")

for f in "$@"; do
	osslsigncode sign "${args[@]}" -in "$f" -out "$f.signed" >/dev/null
	mv "$f.signed" "$f"
	# -CAfile: the self-signed certificate is its own root; a real one
	# verifies against the CA bundle it was issued under (its chain).
	if ! out=$(osslsigncode verify -CAfile "$cert" -in "$f" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "sign: verification of $f failed" >&2
		exit 1
	fi
	echo "sign: $(basename "$f") signed and verified" >&2
done
