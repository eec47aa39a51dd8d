//go:build !screenshots

package tray

import "context"

// screenshots exists only in the build for `make screenshots` (-tags
// screenshots, screenshot.go): the shipped app has no screenshot mode.
type screenshots struct{}

func startScreenshots(context.Context, *trayApp) *screenshots { return nil }

func (*screenshots) err() error { return nil }
