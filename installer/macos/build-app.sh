#!/usr/bin/env bash
# Builds "Orion Bridge.app" on a Mac: a universal (arm64 + x86_64) binary,
# bundled by `fyne package -os darwin` (icon.icns from assets/icons/app.png),
# with installer/macos/Info.plist in place of Fyne's (LSUIElement: a menu bar
# app, no Dock icon), the uninstall script inside, and, when
# MACOS_SIGN_APP names a "Developer ID Application" identity in the keychain,
# signed with the hardened runtime that notarization requires.
# Beside the app's binary, Contents/MacOS/orionbridge-headless: the same
# bridge without the tray (-tags headless, cgo-free), also universal, which
# `orionbridge service install` registers for the LaunchDaemon or agent.
#
# Usage (from anywhere):  installer/macos/build-app.sh [OUTDIR]
#   OUTDIR defaults to dist/macos; the bundle is OUTDIR/Orion Bridge.app.
# Needs: macOS, Xcode command line tools (clang, lipo, codesign), Go.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-dist/macos}

if [ "$(uname -s)" != Darwin ]; then
	echo "build-app.sh: the .app is built on macOS only (cgo for darwin needs Apple's SDK)" >&2
	exit 2
fi

# The version lives in FyneApp.toml only ([Details] Version and Build).
version=$(sed -n '/^\[Details\]/,/^\[/ s/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
build=$(sed -n '/^\[Details\]/,/^\[/ s/^Build *= *\([0-9]*\)/\1/p' FyneApp.toml)
if [ -z "$version" ] || [ -z "$build" ]; then
	echo "build-app.sh: no [Details] Version/Build in FyneApp.toml" >&2
	exit 1
fi

# Fyne's own packager, at the version go.mod already requires, so no other
# module is fetched. (fyne.io/tools/cmd/fyne is its successor; the command
# in fyne v2.7.1 still packages darwin apps the same way.)
fyne_version=$(go list -m -f '{{.Version}}' fyne.io/fyne/v2)
fyne=(go run "fyne.io/fyne/v2/cmd/fyne@$fyne_version")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Both architectures, joined by lipo: one pkg for Intel and Apple silicon.
# Go passes -arch to clang for darwin cgo, so the other one cross-compiles.
# The tray app leaves Fyne's emoji font out (no_emoji, see the Makefile).
export CGO_ENABLED=1 MACOSX_DEPLOYMENT_TARGET=12.0
for arch in arm64 amd64; do
	GOOS=darwin GOARCH=$arch go build -trimpath -tags no_emoji -ldflags "-s -w" -o "$work/orionbridge-$arch" .
	GOOS=darwin GOARCH=$arch CGO_ENABLED=0 go build -trimpath -tags headless -ldflags "-s -w" -o "$work/orionbridge-headless-$arch" .
done
lipo -create -output "$work/orionbridge" "$work/orionbridge-arm64" "$work/orionbridge-amd64"
lipo -create -output "$work/orionbridge-headless" "$work/orionbridge-headless-arm64" "$work/orionbridge-headless-amd64"

mkdir -p "$out"
app="$out/Orion Bridge.app"
rm -rf "$app"
# -executable: package the universal binary instead of building one.
# -sourceDir: an empty folder, because after packaging Fyne's packager
# increments Build in the source folder's FyneApp.toml, and that file is the
# version's single source: the name, ID, version and build are passed instead.
mkdir "$work/src"
(cd "$work" && "${fyne[@]}" package -os darwin -sourceDir "$work/src" -executable "$work/orionbridge" \
	-name "Orion Bridge" -appID com.orionreport.bridge -appVersion "$version" -appBuild "$build" \
	-icon "$root/assets/icons/app.png")
mv "$work/Orion Bridge.app" "$app"

sed -e "s/@VERSION@/$version/" -e "s/@BUILD@/$build/" installer/macos/Info.plist >"$app/Contents/Info.plist"
plutil -lint "$app/Contents/Info.plist"
install -m 0755 installer/macos/uninstall.sh "$app/Contents/Resources/uninstall.sh"
install -m 0755 "$work/orionbridge-headless" "$app/Contents/MacOS/orionbridge-headless"

if [ -n "${MACOS_SIGN_APP:-}" ]; then
	# --options runtime: the hardened runtime, required for notarization;
	# --timestamp: a secure timestamp, required too. Nested code is signed
	# before the bundle that seals it: the headless binary first.
	codesign --force --options runtime --timestamp --identifier com.orionreport.bridge.headless \
		--sign "$MACOS_SIGN_APP" "$app/Contents/MacOS/orionbridge-headless"
	codesign --force --options runtime --timestamp --sign "$MACOS_SIGN_APP" "$app"
	codesign --verify --strict --verbose=2 "$app"
else
	echo "build-app.sh: MACOS_SIGN_APP is not set: the app is not signed (fine for a local try, not for release)"
fi
echo "built $app ($version, build $build)"
