#!/usr/bin/env bash
# Authenticode-signs a Windows file (the exe, the MSI) in place with
# osslsigncode, when SIGN_CERT and SIGN_KEY name the code-signing
# certificate (PEM, with its chain) and its private key (PEM or DER);
# otherwise says that it skipped signing and succeeds, so unsigned local
# builds work.
#     installer/windows/sign.sh FILE
# Optional: SIGN_KEY_PASS_FILE, a file holding the key's passphrase (read
# from a file so it never shows in `ps`); SIGN_TIMESTAMP_URL, an RFC 3161
# timestamp server (e.g. http://timestamp.digicert.com), so the signature
# stays valid after the certificate expires. Releases should set it.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 FILE" >&2
	exit 2
fi
file=$1

if [ -z "${SIGN_CERT:-}" ] || [ -z "${SIGN_KEY:-}" ]; then
	echo "sign: SIGN_CERT/SIGN_KEY not set: skipped signing $file"
	exit 0
fi
if ! command -v osslsigncode >/dev/null 2>&1; then
	echo "sign: osslsigncode not found: install it (apt-get install osslsigncode)" >&2
	exit 1
fi

args=(sign -certs "$SIGN_CERT" -key "$SIGN_KEY" -h sha256
	-n "Orion Bridge" -i https://orionbridge.example)
if [ -n "${SIGN_KEY_PASS_FILE:-}" ]; then
	args+=(-readpass "$SIGN_KEY_PASS_FILE")
fi
if [ -n "${SIGN_TIMESTAMP_URL:-}" ]; then
	args+=(-ts "$SIGN_TIMESTAMP_URL")
fi

tmp="$file.signed"
rm -f "$tmp"
trap 'rm -f "$tmp"' EXIT
osslsigncode "${args[@]}" -in "$file" -out "$tmp"
mv "$tmp" "$file"
echo "sign: signed $file"
