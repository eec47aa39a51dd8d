#!/usr/bin/env bash
# Builds dist/OrionBridge-<version>.pkg on a Mac: "Orion Bridge.app" (from
# build-app.sh) in /Applications, the LaunchAgent
# /Library/LaunchAgents/com.orionreport.bridge.plist and the renewal
# LaunchDaemon /Library/LaunchDaemons/com.orionreport.bridge.renew.plist
# (which scripts/postinstall loads), as a component package
# (pkgbuild, with scripts/preinstall and scripts/postinstall) wrapped in a
# distribution package (productbuild, distribution.xml).
#
# Usage (from anywhere):  installer/macos/build-pkg.sh
#
# Signing and notarization, each skipped with a message when its variables
# are unset (a local try needs none of them):
#   MACOS_SIGN_APP        "Developer ID Application: <Org> (<TEAMID>)": signs the app
#                         (build-app.sh), hardened runtime
#   MACOS_SIGN_INSTALLER  "Developer ID Installer: <Org> (<TEAMID>)": signs the pkg
#   notarization, either
#   MACOS_NOTARY_PROFILE  a notarytool keychain profile, made once with
#                         xcrun notarytool store-credentials <profile> --apple-id … --team-id … --password …
#   or MACOS_NOTARY_APPLE_ID, MACOS_NOTARY_TEAM_ID, MACOS_NOTARY_PASSWORD
#                         (an app-specific password), as in CI.
# Notarization: `xcrun notarytool submit --wait` uploads the signed pkg to
# Apple and waits for the verdict; on "Accepted", `xcrun stapler staple`
# attaches the ticket to the pkg so Gatekeeper accepts it offline too; then
# `spctl --assess --type install` checks it as Gatekeeper would. The app
# inside is covered by the pkg's ticket.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
here=installer/macos

if [ "$(uname -s)" != Darwin ]; then
	echo "build-pkg.sh: pkgbuild and productbuild exist on macOS only" >&2
	exit 2
fi

version=$(sed -n '/^\[Details\]/,/^\[/ s/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
if [ -z "$version" ]; then
	echo "build-pkg.sh: no [Details] Version in FyneApp.toml" >&2
	exit 1
fi
pkg="dist/OrionBridge-$version.pkg"

"$here/build-app.sh" dist/macos

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The payload, laid out as it lands on disk.
mkdir -p "$work/root/Applications" "$work/root/Library/LaunchAgents" "$work/root/Library/LaunchDaemons"
ditto "dist/macos/Orion Bridge.app" "$work/root/Applications/Orion Bridge.app"
install -m 0644 "$here/com.orionreport.bridge.plist" "$work/root/Library/LaunchAgents/com.orionreport.bridge.plist"
install -m 0644 "$here/com.orionreport.bridge.renew.plist" "$work/root/Library/LaunchDaemons/com.orionreport.bridge.renew.plist"

# Not relocatable: otherwise Installer "upgrades" any other copy of the app
# it finds (a download in ~/Downloads) instead of installing to /Applications.
pkgbuild --analyze --root "$work/root" "$work/component.plist"
plutil -replace 0.BundleIsRelocatable -bool NO "$work/component.plist"

pkgbuild --root "$work/root" --component-plist "$work/component.plist" \
	--identifier com.orionreport.bridge.pkg --version "$version" \
	--scripts "$here/scripts" --install-location / \
	"$work/OrionBridge-component.pkg"

sed "s/@VERSION@/$version/" "$here/distribution.xml" >"$work/distribution.xml"
sign=()
if [ -n "${MACOS_SIGN_INSTALLER:-}" ]; then
	sign=(--sign "$MACOS_SIGN_INSTALLER" --timestamp)
else
	echo "build-pkg.sh: MACOS_SIGN_INSTALLER is not set: the pkg is not signed"
fi
mkdir -p dist
# ${a[@]+"${a[@]}"}: an empty array under `set -u` in macOS's bash 3.2.
productbuild --distribution "$work/distribution.xml" --package-path "$work" ${sign[@]+"${sign[@]}"} "$pkg"

notary=()
if [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
	notary=(--keychain-profile "$MACOS_NOTARY_PROFILE")
elif [ -n "${MACOS_NOTARY_APPLE_ID:-}" ]; then
	notary=(--apple-id "$MACOS_NOTARY_APPLE_ID" --team-id "${MACOS_NOTARY_TEAM_ID:?MACOS_NOTARY_TEAM_ID is needed with MACOS_NOTARY_APPLE_ID}"
		--password "${MACOS_NOTARY_PASSWORD:?MACOS_NOTARY_PASSWORD is needed with MACOS_NOTARY_APPLE_ID}")
fi
if [ ${#notary[@]} -eq 0 ]; then
	echo "build-pkg.sh: no notarization credentials (MACOS_NOTARY_PROFILE or MACOS_NOTARY_APPLE_ID…): the pkg is not notarized"
elif [ ${#sign[@]} -eq 0 ]; then
	echo "build-pkg.sh: Apple notarizes signed packages only: set MACOS_SIGN_INSTALLER (and MACOS_SIGN_APP)" >&2
	exit 1
else
	# The verdict is read from the result rather than the exit status, which
	# is 0 for an "Invalid" verdict too.
	xcrun notarytool submit "$pkg" "${notary[@]}" --wait --output-format plist >"$work/notary.plist"
	status=$(/usr/libexec/PlistBuddy -c "Print :status" "$work/notary.plist")
	id=$(/usr/libexec/PlistBuddy -c "Print :id" "$work/notary.plist")
	if [ "$status" != Accepted ]; then
		echo "build-pkg.sh: notarization $id: $status; Apple's log:" >&2
		xcrun notarytool log "$id" "${notary[@]}" >&2 || true
		exit 1
	fi
	xcrun stapler staple "$pkg"
	spctl --assess --type install --verbose=2 "$pkg"
fi
echo "built $pkg"
