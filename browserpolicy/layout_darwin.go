package browserpolicy

// layout on macOS: one configuration profile with every browser's keys
// (MobileConfig). macOS reads managed preferences only from installed
// profiles, and since macOS 11 a profile is installed by an MDM or by the
// user in System Settings, never silently by a pkg; so install writes the
// profile for IT's MDM and says so.
var layout = []target{
	{"Chrome, Chromium, Edge and Firefox (profile)", "/Library/Application Support/OrionBridge/OrionBridge-LocalNetwork.mobileconfig", profileFile},
}

// recordPath is install's record, in the machine data dir.
const recordPath = "/Library/Application Support/OrionBridge/browser-policy.json"
