#!/usr/bin/env bash
# Builds orionbridge.exe for windows/amd64 with cgo (Fyne needs it): from
# Linux through mingw-w64 (`make dist` sets CC=x86_64-w64-mingw32-gcc), or
# natively on Windows with the gcc on PATH (the release workflow).
#     installer/windows/build-exe.sh VERSION OUT.exe
# Beside OUT.exe it writes orionbridge-icon.exe, a 35 KB program that holds
# nothing but the same resources: the MSI's Icon table needs an .exe for the
# advertised Start Menu shortcut (ICE50: the icon ends like its target), and
# storing the real 28 MB exe there would double the MSI's size.
# The exe is a GUI-subsystem program (-H=windowsgui): no console window
# opens with the tray app, and `orionbridge run`, `certs` and `config` print
# nothing when started from a console (their exit status still tells).
# no_emoji leaves Fyne's emoji font out, as every tray build does (see the
# Makefile). orionbridge-headless.exe, the service's, is no concern of this
# script: it needs neither cgo nor resources (the Makefile's $(WIN_HEADLESS)
# rule, and the release workflow, build it after this script has run).
# Its icon (assets/icons/app.png), manifest (per-monitor DPI awareness,
# common controls v6) and version resources come from a .syso that
# go-winres writes at the module root, where `go build` links it; the .syso
# is deleted afterwards and never committed. GOWINRES names the go-winres
# to run (make passes its copy in bin/); by default the pinned version runs
# through `go run`.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 VERSION OUT.exe" >&2
	exit 2
fi
version=$1 out=$2
cd "$(dirname "$0")/../.."

read -r -a gowinres <<<"${GOWINRES:-go run github.com/tc-hib/go-winres@v0.3.3}"
syso=rsrc_windows_amd64.syso
# The .syso goes however the build ends; an interrupt exits through EXIT.
trap 'rm -f "$syso"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"${gowinres[@]}" simply --arch amd64 --out rsrc --manifest gui --icon assets/icons/app.png \
	--product-name "Orion Bridge" --file-description "Orion Bridge" --original-filename orionbridge.exe \
	--product-version "$version" --file-version "$version" --copyright "Orion Report"

mkdir -p "$(dirname "$out")"
CGO_ENABLED=1 GOOS=windows GOARCH=amd64 go build -trimpath -tags no_emoji -ldflags "-H=windowsgui -s -w" -o "$out" .
echo "built $out"

# The icon carrier: an entry point that returns, linked with the resources.
icon="$(dirname "$out")/orionbridge-icon.exe"
work=$(mktemp -d)
trap 'rm -f "$syso"; rm -rf "$work"' EXIT
printf 'void start(void) {}\n' >"$work/start.c"
"${CC:-gcc}" -Os -s -nostdlib -nostartfiles -Wl,--subsystem,windows -Wl,-e,start \
	-o "$icon" "$work/start.c" "$syso"
echo "built $icon"
