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

// firefoxCertificateNote is what InstallCertificate and
// UninstallCertificate say on macOS, where there is no system
// policies.json to merge Certificates.Install into: the configuration
// profile (CertificateProfile) makes the CA a trusted root in the System
// keychain, and Firefox takes the roots from there: 120+ by default, older
// versions through the ImportEnterpriseRoots policy (macOS support since
// Firefox 63: https://mozilla.github.io/policy-templates/#certificates--importenterpriseroots).
const firefoxCertificateNote = "Firefox: nothing to merge into a policies.json on macOS: the configuration profile (orionbridge certs profile) makes the CA a trusted root in the System keychain, which Firefox 120+ reads (older versions with its ImportEnterpriseRoots policy)"
