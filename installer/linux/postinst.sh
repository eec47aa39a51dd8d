#!/bin/sh
# After install or upgrade (deb: "configure"; rpm: $1 = 1 or 2). Refreshes
# the desktop's menu and icon caches where the tools exist; Debian's and
# Fedora's triggers usually do it already, so failures are ignored.
# Deliberately nothing else: no root CA is trusted, no service is enabled.
# Trusting the bridge's certificate is each user's (or the operator's)
# explicit step: orionbridge certs install.
set -e

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac

if command -v update-desktop-database >/dev/null 2>&1; then
	update-desktop-database -q /usr/share/applications || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f /usr/share/icons/hicolor/index.theme ]; then
	gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
fi

# Only at the first install: say what is left to do.
if [ "$1" = 1 ] || { [ "$1" = configure ] && [ -z "$2" ]; }; then
	echo "Orion Bridge starts at your next login (or now: orionbridge &)."
	echo "Let browsers trust its certificate once per user: orionbridge certs install"
fi
exit 0
