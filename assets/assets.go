// Package assets holds the files the bridge embeds in its binary: the
// diagnostics page it serves at GET / on its own port (under web/), and
// later its tray icons and JavaScript client.
package assets

import "embed"

// Web holds the diagnostics page. Paths start with "web/"; serve it with
// fs.Sub(Web, "web") so that web/index.html answers GET /.
//
//go:embed web
var Web embed.FS
