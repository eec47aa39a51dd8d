#!/bin/sh
# Before removal (deb: "remove"; rpm: $1 = 0), as root, while the binary is
# still here: take out exactly what the install added.
#  - `policy uninstall`: the browser policies GRANT_LOCAL_NETWORK wrote (its
#    record in /var/lib/orionbridge says which; nothing when never granted);
#  - `certs machine uninstall`: the machine CA from the distribution's
#    anchors, Firefox's policies.json and every local user's NSS databases
#    (by its fingerprint), then its files in /var/lib/orionbridge;
#  - the renewal timer.
# Not on upgrade: the new package keeps the same certificate. Failures are
# reported and never block the removal. Certificates a user trusted with
# `orionbridge certs install` (their own CA) are theirs to remove.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

bin=/usr/bin/orionbridge-headless
if command -v systemctl >/dev/null 2>&1; then
	systemctl --quiet disable orionbridge-renew.timer 2>/dev/null || true
	if [ -d /run/systemd/system ]; then
		systemctl --quiet stop orionbridge-renew.timer 2>/dev/null || true
	fi
fi
"$bin" policy uninstall || echo "orionbridge: removing the browser policy failed (see above)" >&2
"$bin" certs machine uninstall || echo "orionbridge: removing the machine certificate failed (see above)" >&2

echo "Orion Bridge: certificates a user trusted with 'orionbridge certs install' stay trusted;"
echo "    each user can untrust theirs before removing: orionbridge certs uninstall"
exit 0
