package assets

import _ "embed" // for the //go:embed directives below

// Tray icons, one per bridge state: 32×32-unit SVGs of the bridge glyph (an
// arch through a deck on two piers) in white on a rounded badge whose colour
// and mark carry the state, so they read without colour too.
//
// They are SVG so that one file serves every panel size and scale: Fyne
// rasterises SVG resources itself (canvas.Image, widget.Icon, the software
// canvas), at whatever pixel size is asked for. SetSystemTrayIcon in Fyne
// v2.7.1 does not: it hands the bytes to the systray library, which wants
// PNG or ICO, so rasterise first (package tray renders them at 64 px).
// Only filled paths are used, because Fyne's rasteriser does not scale
// stroke widths with the viewBox.

// TrayRunning is the tray icon for "running, all good": green badge, no mark.
//
//go:embed icons/running.svg
var TrayRunning []byte

// TrayWarning is the tray icon for "engine unreachable" or "certificate not
// trusted": amber badge with a black warning triangle holding a "!".
//
//go:embed icons/warning.svg
var TrayWarning []byte

// TrayStopped is the tray icon for "stopped" or "error": red badge crossed by
// a black slash edged in white.
//
//go:embed icons/stopped.svg
var TrayStopped []byte

// AppIconPNG is the application icon at 512×512 px, for app.SetIcon,
// FyneApp.toml, the .desktop file and the MSI: installers and desktops want
// a bitmap. Rendered from AppIconSVG with
// rsvg-convert -w 512 -h 512 icons/app.svg -o icons/app.png
//
//go:embed icons/app.png
var AppIconPNG []byte

// AppIconSVG is the scalable source of the application icon: the tray
// glyph, bolder, in green and white on a night-blue badge, with the stars of
// Orion around and under the arch.
//
//go:embed icons/app.svg
var AppIconSVG []byte
