#!/bin/sh
# After install or upgrade (deb: "configure"; rpm: $1 = 1 or 2), as root:
#  1. the machine certificate: `orionbridge-headless certs machine install`
#     creates (or, on upgrade, keeps and renews when due) this computer's CA
#     in /var/lib/orionbridge, trusts it in the distribution's anchors and
#     in Firefox's policies.json, so that every user's bridge serves a
#     certificate their browsers trust from the first start (each bridge
#     adds it to its user's Chrome/Chromium NSS database itself);
#  2. enables orionbridge-renew.timer, which renews that certificate daily
#     when due;
#  3. with GRANT_LOCAL_NETWORK=1 in the environment (off by default, as the
#     MSI property of the same name):
#         sudo GRANT_LOCAL_NETWORK=1 apt install ./orionbridge_X.Y.Z_amd64.deb
#     `orionbridge-headless policy install` approves Local Network Access
#     for the allowed_origins of the managed config (/etc/orionbridge/
#     config.toml, deployed first), and GRANT_LOCAL_NETWORK_IFRAME=1 adds
#     --iframe;
#  4. refreshes the desktop's menu and icon caches where the tools exist.
# A failure of 1 or 3 is reported and does not fail the package: the bridge
# then serves each user's own CA, which `orionbridge certs install` trusts.
set -e

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac

bin=/usr/bin/orionbridge-headless
if ! "$bin" certs machine install; then
	echo "orionbridge: the machine certificate could not be set up (see above);" >&2
	echo "  each user's bridge serves its own CA: trust it with: orionbridge certs install" >&2
fi

if [ "${GRANT_LOCAL_NETWORK:-}" = 1 ]; then
	iframe=""
	[ "${GRANT_LOCAL_NETWORK_IFRAME:-}" = 1 ] && iframe=--iframe
	# shellcheck disable=SC2086 # iframe is one flag or nothing
	if ! "$bin" policy install $iframe; then
		echo "orionbridge: GRANT_LOCAL_NETWORK: the browser policy could not be written (see above)" >&2
	fi
fi

# /run/orionbridge, where each user's bridge announces its port (shared
# computers): made now rather than at the next boot.
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create orionbridge.conf || true
fi

if command -v systemctl >/dev/null 2>&1; then
	systemctl --quiet enable orionbridge-renew.timer 2>/dev/null || true
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
		systemctl --quiet start orionbridge-renew.timer || true
	fi
fi

if command -v update-desktop-database >/dev/null 2>&1; then
	update-desktop-database -q /usr/share/applications || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f /usr/share/icons/hicolor/index.theme ]; then
	gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
fi

# Only at the first install: say what happens next.
if [ "$1" = 1 ] || { [ "$1" = configure ] && [ -z "$2" ]; }; then
	echo "Orion Bridge starts at each user's next login (or now: orionbridge &)."
fi
exit 0
