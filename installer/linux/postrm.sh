#!/bin/sh
# After removal (deb: "remove" or "purge"; rpm: $1 = 0): refresh the menu
# and icon caches so the entry and icon go away. Failures are ignored.
set -e

case "$1" in
remove | purge | 0) ;;
*) exit 0 ;;
esac

if command -v update-desktop-database >/dev/null 2>&1; then
	update-desktop-database -q /usr/share/applications || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f /usr/share/icons/hicolor/index.theme ]; then
	gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
fi
exit 0
