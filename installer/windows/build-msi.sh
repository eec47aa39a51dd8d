#!/usr/bin/env bash
# Builds the MSI on Linux with wixl (Debian wixl + msitools):
#     installer/windows/build-msi.sh VERSION EXE_DIR OUT.msi
# EXE_DIR holds orionbridge.exe and must be relative to the repository root:
# wixl 0.101 looks files up relative to its working directory and refuses
# absolute paths.
#
# wixl ignores Property/@Secure, so the public properties are added to the
# SecureCustomProperties list it writes (for MajorUpgrade) afterwards, with
# msibuild: without it, an install started unelevated does not pass them to
# the elevated part that runs the custom actions.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 VERSION EXE_DIR OUT.msi" >&2
	exit 2
fi
version=$1 exe_dir=$2 out=$3
cd "$(dirname "$0")/../.."

case $exe_dir in
/*)
	echo "build-msi.sh: EXE_DIR must be relative to the repository root (wixl refuses absolute paths): $exe_dir" >&2
	exit 2
	;;
esac

secure="PORT;ALLOWED_ORIGINS;ENGINE_ADDRESS;SERVICE;GRANT_LOCAL_NETWORK;GRANT_LOCAL_NETWORK_IFRAME"

mkdir -p "$(dirname "$out")"
tmp="$out.tmp"
rm -f "$tmp"
trap 'rm -f "$tmp"' EXIT
wixl --arch x64 -D Wixl=1 -D "Version=$version" -D "SourceDir=$exe_dir" -o "$tmp" installer/windows/OrionBridge.wxs

# msiinfo writes CRLF lines: the \r must not end up inside the list.
current=$(msiinfo export "$tmp" Property | tr -d '\r' | awk -F '\t' '$1 == "SecureCustomProperties" {print $2}')
msibuild "$tmp" -q "UPDATE \`Property\` SET \`Value\` = '${current:+$current;}$secure' WHERE \`Property\` = 'SecureCustomProperties'"
if ! msiinfo export "$tmp" Property | tr -d '\r' | grep -q "^SecureCustomProperties	\([A-Z_]*;\)*$secure\$"; then
	echo "build-msi.sh: SecureCustomProperties does not list $secure" >&2
	exit 1
fi
mv "$tmp" "$out"
echo "built $out"
