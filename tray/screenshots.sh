#!/usr/bin/env bash
# Makes the README's screenshots: docs/screenshots/sessions.png, log.png and
# consent.png. It runs the real tray app under Xvfb with the demo engine,
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

go build -tags no_emoji,screenshots -o "$bin" .
go build -o "$work/democlient" ./tray/internal/democlient
mkdir -p "$out"
rm -f "$out/sessions.png" "$out/log.png" "$out/consent.png"

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

# A fixed light theme and scale, so the pictures do not depend on the
# machine that makes them. The app bounds each of its waits; timeout is the
# backstop that keeps `make screenshots` from hanging whatever happens.
ORION_SCREENSHOTS=$out FYNE_THEME=light FYNE_SCALE=1 \
	timeout -k 10 300 xvfb-run --auto-servernum --server-args="-screen 0 1400x900x24" \
	"$bin" --config "$work/config.toml" --dashboard 2>"$work/app.log" &
app=$!
pids+=("$app")

url=wss://localhost:$bridge_port/ws
ca=$work/data/certs/ca.pem
wait_for "the bridge on port $bridge_port" 60 port_open "$bridge_port"
# A refused site, so the Log tab shows a warning among the sessions.
"$work/democlient" ask --url "$url" --ca "$ca" --origin https://spam.example >"$work/denied.log" 2>&1
"$work/democlient" sessions --url "$url" --ca "$ca" --count 4 \
	--origins https://editor.example.com,https://reports.example.com,https://editor.example.com >"$work/sessions.log" 2>&1 &
pids+=($!)

# The prompt would cover the dashboard: ask only once its tabs are taken.
wait_for "$out/log.png" 120 test -s "$out/log.png"
"$work/democlient" ask --url "$url" --ca "$ca" --origin https://shop.example.com >"$work/ask.log" 2>&1 &
pids+=($!)

status=0
wait "$app" || status=$?
if [ "$status" -ne 0 ]; then
	echo "screenshots: the app exited with status $status; its log:" >&2
	cat "$work/app.log" >&2
	exit "$status"
fi
grep 'screenshots:' "$work/app.log" >&2 || true
ls -l "$out"/sessions.png "$out"/log.png "$out"/consent.png
