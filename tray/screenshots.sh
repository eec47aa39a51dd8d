#!/usr/bin/env bash
# Makes the README's screenshots: docs/screenshots/sessions.png, log.png,
# menu.png and consent.png, in English, then the same in Korean
# (sessions-ko.png, …). It runs the real tray app under Xvfb with the demo engine,
# opens a few sessions with tray/internal/democlient, then asks to connect
# from a site that is not allowed, so that the consent prompt shows. The app
# itself (ORION_SCREENSHOTS, tray/screenshot.go) captures its windows and
# quits.
#
# Usage: tray/screenshots.sh [OUTPUT_DIR]   (default docs/screenshots)
# Needs: go with Fyne's cgo build deps (libgl1-mesa-dev, the X11 headers),
# xvfb-run with xauth (Debian: xvfb xauth), and Mesa's GL (libgl1-mesa-dri).
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-docs/screenshots}
work=$(mktemp -d)
# The screenshot mode is compiled in only with -tags screenshots, so this
# build stays in the temporary folder, apart from the shipped bin/orionbridge.
bin=$work/orionbridge
pids=()

cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local what=$1 seconds=$2
	shift 2
	for _ in $(seq $((seconds * 10))); do
		if "$@"; then
			return 0
		fi
		sleep 0.1
	done
	echo "screenshots: timed out waiting for $what" >&2
	return 1
}

port_open() { (: >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free() { ! port_open "$1"; }

go build -tags no_emoji,screenshots -o "$bin" .
go build -o "$work/democlient" ./tray/internal/democlient
mkdir -p "$out"

mapfile -t ports < <("$work/democlient" ports 2)
engine_port=${ports[0]}
bridge_port=${ports[1]}
cat >"$work/config.toml" <<TOML
port = $bridge_port
fallback_ports = []
data_dir = "$work/data"
allowed_origins = ["https://editor.example.com", "https://reports.example.com"]
denied_origins = ["https://spam.example"]
ask_unknown_origins = true

[[routes]]
path = "/ws"
target = "127.0.0.1:$engine_port"
framing = "raw"
TOML

"$bin" demo-engine --listen "127.0.0.1:$engine_port" >"$work/engine.log" 2>&1 &
pids+=($!)

# shoot SUFFIX LOCALE: one run of the app in LOCALE, writing
# sessions$SUFFIX.png, log$SUFFIX.png, menu$SUFFIX.png and consent$SUFFIX.png.
# The language is the system's, as for an operator: LANG, read by go-locale
# (no generated locale needed), with LANGUAGE and LC_* cleared so that they
# do not override it.
shoot() {
	local suffix=$1 locale=$2
	rm -f "$out/sessions$suffix.png" "$out/log$suffix.png" "$out/menu$suffix.png" "$out/consent$suffix.png"

	# A fixed light theme and scale, so the pictures do not depend on the
	# machine that makes them. The app bounds each of its waits; timeout is
	# the backstop that keeps `make screenshots` from hanging whatever
	# happens.
	env -u LANGUAGE -u LC_ALL -u LC_MESSAGES LANG="$locale" \
		ORION_SCREENSHOTS="$out" ORION_SCREENSHOTS_SUFFIX="$suffix" FYNE_THEME=light FYNE_SCALE=1 \
		timeout -k 10 300 xvfb-run --auto-servernum --server-args="-screen 0 1400x900x24" \
		"$bin" --config "$work/config.toml" --dashboard 2>"$work/app$suffix.log" &
	local app=$!
	pids+=("$app")

	local url=wss://localhost:$bridge_port/ws
	local ca=$work/data/certs/ca.pem
	wait_for "the bridge on port $bridge_port" 60 port_open "$bridge_port"
	# A refused site, so the Log tab shows a warning among the sessions.
	"$work/democlient" ask --url "$url" --ca "$ca" --origin https://spam.example >"$work/denied$suffix.log" 2>&1
	"$work/democlient" sessions --url "$url" --ca "$ca" --count 4 \
		--origins https://editor.example.com,https://reports.example.com,https://editor.example.com >"$work/sessions$suffix.log" 2>&1 &
	pids+=($!)

	# The prompt would cover the dashboard: ask only once its tabs are taken.
	wait_for "$out/menu$suffix.png" 120 test -s "$out/menu$suffix.png"
	"$work/democlient" ask --url "$url" --ca "$ca" --origin https://shop.example.com >"$work/ask$suffix.log" 2>&1 &
	pids+=($!)

	local status=0
	wait "$app" || status=$?
	if [ "$status" -ne 0 ]; then
		echo "screenshots: the app exited with status $status; its log:" >&2
		cat "$work/app$suffix.log" >&2
		exit "$status"
	fi
	grep 'screenshots:' "$work/app$suffix.log" >&2 || true
	# The bridge of this run is gone before the next one takes its port.
	wait_for "port $bridge_port to be free" 30 port_free "$bridge_port"
	ls -l "$out/sessions$suffix.png" "$out/log$suffix.png" "$out/menu$suffix.png" "$out/consent$suffix.png"
}

shoot "" en_US.UTF-8
# Korean (issue 18): Hangul comes from the system's fonts through Fyne's
# fallback (fonts-noto-cjk or fonts-nanum here), so these show whether
# it renders, with no boxes.
shoot -ko ko_KR.UTF-8
