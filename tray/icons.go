package tray

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/software"

	"orionbridge/assets"
)

// trayIconSVG holds the tray icons drawn for each state. fallbackIcon draws
// a plain disc instead should one fail to render.
var trayIconSVG = map[iconState][]byte{
	iconRunning: assets.TrayRunning,
	iconWarning: assets.TrayWarning,
	iconStopped: assets.TrayStopped,
}

// appIcon is the application's own icon, for windows and notifications.
var appIcon = fyne.NewStaticResource("orionbridge.png", assets.AppIconPNG)

// trayIconPixels is the size tray icons are rasterised at: large enough for
// HiDPI panels, which scale it down.
const trayIconPixels = 64

// iconResources renders each state's icon once.
func iconResources() map[iconState]fyne.Resource {
	out := make(map[iconState]fyne.Resource, 3)
	for _, st := range []iconState{iconRunning, iconWarning, iconStopped} {
		name := "orionbridge-" + st.String() + ".png"
		if svg := trayIconSVG[st]; svg != nil {
			if data, err := rasterizeSVG(name, svg, trayIconPixels); err == nil {
				out[st] = fyne.NewStaticResource(name, data)
				continue
			} else {
				fyne.LogError("rendering tray icon "+name, err)
			}
		}
		out[st] = fyne.NewStaticResource(name, fallbackIcon(st, trayIconPixels))
	}
	return out
}

// rasterizeSVG draws an SVG as PNG. Tray icons must be bitmaps: on Linux
// fyne.io/systray decodes them with image.Decode to build the
// StatusNotifierItem pixmap, and on Windows Fyne converts them to .ico, so
// an SVG there shows as nothing (systray's SetIcon: ".ico/.jpg/.png").
func rasterizeSVG(name string, svg []byte, px int) ([]byte, error) {
	img := canvas.NewImageFromResource(fyne.NewStaticResource(name+".svg", svg))
	img.FillMode = canvas.ImageFillContain
	c := software.NewTransparentCanvas()
	c.SetPadded(false)
	c.SetContent(img)
	c.Resize(fyne.NewSquareSize(float32(px)))
	var buf bytes.Buffer
	if err := png.Encode(&buf, c.Capture()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fallbackIcon is a disc in the state's colour: green, amber or red.
func fallbackIcon(st iconState, px int) []byte {
	fill := map[iconState]color.NRGBA{
		iconRunning: {0x2E, 0x9E, 0x5B, 0xFF},
		iconWarning: {0xE0, 0xA1, 0x00, 0xFF},
		iconStopped: {0xC0, 0x39, 0x2B, 0xFF},
	}[st]
	img := image.NewNRGBA(image.Rect(0, 0, px, px))
	r := float64(px)/2 - 1
	for y := range px {
		for x := range px {
			d := math.Hypot(float64(x)+0.5-float64(px)/2, float64(y)+0.5-float64(px)/2)
			if a := math.Min(1, math.Max(0, r-d+0.5)); a > 0 {
				c := fill
				c.A = uint8(a * 255)
				img.SetNRGBA(x, y, c)
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // cannot fail for an in-memory NRGBA
	return buf.Bytes()
}
