#!/bin/bash
# Removes Orion Bridge from this Mac: what the pkg installed, and what its
# postinstall and `orionbridge service install` added: the renewal
# LaunchDaemon, the machine certificate (`certs machine uninstall`: its
# trust in the System keychain, then ca/ and certs/ in
# /Library/Application Support/OrionBridge) and the browser policy profile
# `policy install` wrote. Shipped inside the app; run it as an
# administrator:
#     sudo "/Applications/Orion Bridge.app/Contents/Resources/uninstall.sh"
# Each user's data (their own CA if they had one, logs, settings) stays in
# ~/Library/Application Support/OrionBridge, as does IT's configuration in
# /Library/Application Support/OrionBridge (config.toml, install.env):
# delete those folders too to remove every trace. A configuration profile
# an MDM installed is the MDM's to remove.
set -u

if [ "$(id -u)" != 0 ]; then
	echo "uninstall.sh: run it with sudo" >&2
	exit 2
fi

app="/Applications/Orion Bridge.app"
exe="$app/Contents/MacOS/orionbridge"
label=com.orionreport.bridge
daemon=/Library/LaunchDaemons/$label.renew.plist

# Every logged-in user's tray app, and the CA trust of the one at the console
# (the one postinstall trusted), while the binary is still here.
for uid in $(ps -axo uid=,comm= | awk '/orionbridge$/ {print $1}' | sort -u); do
	launchctl bootout "gui/$uid/$label" 2>/dev/null || true
done
user=$(stat -f %Su /dev/console 2>/dev/null || true)
# The renewal daemon first: it must not renew what is being removed.
launchctl bootout "system/$label.renew" 2>/dev/null || true
rm -f "$daemon" /Library/Logs/OrionBridge-renew.log
if [ -x "$exe" ]; then
	"$exe" service uninstall --system 2>/dev/null || true
	"$exe" certs machine uninstall || true
	"$exe" policy uninstall || true
	# What versions before the machine certificate trusted: the console
	# user's own CA, in the System keychain. Only if that user has one:
	# `certs uninstall` would otherwise create it first.
	if [ -n "$user" ] && [ "$user" != root ] && [ "$user" != loginwindow ]; then
		home=$(dscl . -read "/Users/$user" NFSHomeDirectory 2>/dev/null | awk '{print $2}')
		if [ -n "$home" ] && [ -f "$home/Library/Application Support/OrionBridge/certs/ca.pem" ]; then
			SUDO_USER="$user" "$exe" certs uninstall --scope system || true
		fi
	fi
fi
pkill -x orionbridge 2>/dev/null || true
# A service's orionbridge-headless, which `service uninstall` did not stop
# (a user's LaunchAgent). macOS keeps 16 characters of a process's name
# (MAXCOMLEN), which is what pkill -x compares, so it is matched by path.
pkill -f "^$app/Contents/MacOS/orionbridge-headless( |\$)" 2>/dev/null || true

rm -f "/Library/LaunchAgents/$label.plist"
rm -rf "$app"
pkgutil --forget com.orionreport.bridge.pkg >/dev/null 2>&1 || true
echo "Orion Bridge is removed. Users who ran 'orionbridge certs install' or 'orionbridge autostart on'"
echo "themselves may still have ~/Library/LaunchAgents/$label.plist and a login-keychain trust"
echo "(Keychain Access, 'Orion Bridge Local CA') to delete."
