#!/bin/sh
# Before removal (deb: "remove"; rpm: $1 = 0). The package never trusted a
# certificate itself, so it removes none; it only reminds whoever trusted one
# how to undo it while the binary is still here.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

echo "Orion Bridge: certificates trusted with 'orionbridge certs install' stay trusted."
echo "To untrust them, run before removing (per user, and with sudo for --scope system):"
echo "    orionbridge certs uninstall"
exit 0
