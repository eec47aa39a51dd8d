//go:build !windows && !darwin

package browserpolicy

// layout is where each browser reads its managed policy on Linux:
// Chromium (Debian's and others') /etc/chromium/policies/managed/, Google
// Chrome /etc/opt/chrome/policies/managed/ (every JSON file in them:
// https://chromium.googlesource.com/chromium/src.git/+/e43aa4b/docs/enterprise/policies.md),
// Microsoft Edge /etc/opt/edge/policies/managed/ (the same loader, under
// Edge's name), and Firefox's system-wide /etc/firefox/policies/policies.json
// (https://github.com/mozilla/policy-templates, docs/index.md: "you can
// specify system-wide policy by placing the file in /etc/firefox/policies").
// The folders are written whether or not the browser is installed yet, so
// that a browser installed later starts with the policy.
var layout = []target{
	{"Chromium", "/etc/chromium/policies/managed/" + FileName, chromiumFile},
	{"Google Chrome", "/etc/opt/chrome/policies/managed/" + FileName, chromiumFile},
	{"Microsoft Edge", "/etc/opt/edge/policies/managed/" + FileName, chromiumFile},
	{"Firefox", "/etc/firefox/policies/policies.json", firefoxMerge},
}

// recordPath is install's record, in the machine data dir.
const recordPath = "/var/lib/orionbridge/browser-policy.json"

// firefoxCertificateNote would be what InstallCertificate says without a
// policies.json in layout; this layout has one, so it is never said.
const firefoxCertificateNote = "Firefox: no system policies.json on this system"
