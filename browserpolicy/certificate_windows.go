package browserpolicy

// Windows: Firefox needs no Certificates.Install here. It takes the roots
// of the Windows store (LocalMachine\Root, where certs installs the machine
// CA): 120+ by default, older versions (ESR 115) when its
// ImportEnterpriseRoots policy is on
// (HKLM\SOFTWARE\Policies\Mozilla\Firefox\Certificates\ImportEnterpriseRoots
// = 1: https://mozilla.github.io/policy-templates/#certificates--importenterpriseroots),
// and certs sets that policy with the CA. So these do nothing but say so.

const firefoxCertificateNote = `Firefox: nothing to add on Windows: Firefox reads the CA from LocalMachine\Root through its ImportEnterpriseRoots policy, which the certificate install (certs) sets`

// InstallCertificate does nothing on Windows (firefoxCertificateNote).
func InstallCertificate(root, caPath string) ([]string, error) {
	return []string{firefoxCertificateNote}, nil
}

// UninstallCertificate does nothing on Windows (firefoxCertificateNote).
func UninstallCertificate(root string) ([]string, error) {
	return []string{firefoxCertificateNote}, nil
}

// CertificateStatus: there is no policies.json to list the CA on Windows;
// path "" says so.
func CertificateStatus(root, caPath string) (listed bool, path string, err error) {
	return false, "", nil
}
