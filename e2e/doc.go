// Package e2e holds end-to-end tests that run across real processes: the
// orionbridge binaries built from this module (the tray build and
// orionbridge-headless), its demo engine, and a real headless Chromium that
// must trust the bridge's certificate on its own.
package e2e
