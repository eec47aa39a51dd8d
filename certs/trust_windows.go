package certs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

var errNeedsAdmin = errors.New("needs administrator rights: run from an elevated prompt or use --scope user")

// Chrome and Edge read the Windows Root stores. Firefox 120+ does too by
// default; older Firefox (and ESR 115) needs the ImportEnterpriseRoots
// policy, the policy form of security.enterprise_roots.enabled.
func storesFor(scope Scope) ([]trustStore, error) {
	if scope == ScopeSystem {
		if !windows.GetCurrentProcessToken().IsElevated() {
			return nil, errNeedsAdmin
		}
		return []trustStore{&windowsRootStore{machine: true}, &firefoxPolicyStore{machine: true}}, nil
	}
	return []trustStore{&windowsRootStore{}, &firefoxPolicyStore{}}, nil
}

func allStores() []trustStore {
	return []trustStore{
		&windowsRootStore{}, &windowsRootStore{machine: true},
		&firefoxPolicyStore{}, &firefoxPolicyStore{machine: true},
	}
}

// windowsRootStore is the "Trusted Root Certification Authorities" store of
// the current user or of the machine, changed through crypt32.
type windowsRootStore struct{ machine bool }

func (w *windowsRootStore) info() StoreStatus {
	if w.machine {
		return StoreStatus{Name: "Windows Root store (local machine)", Path: `Cert:\LocalMachine\Root`, Browser: true, Scope: ScopeSystem}
	}
	return StoreStatus{Name: "Windows Root store (current user)", Path: `Cert:\CurrentUser\Root`, Browser: true, Scope: ScopeUser}
}

func (w *windowsRootStore) open(readOnly bool) (windows.Handle, error) {
	flags := uint32(windows.CERT_SYSTEM_STORE_CURRENT_USER)
	if w.machine {
		flags = windows.CERT_SYSTEM_STORE_LOCAL_MACHINE
	}
	if readOnly {
		flags |= windows.CERT_STORE_READONLY_FLAG | windows.CERT_STORE_OPEN_EXISTING_FLAG
	}
	name, err := windows.UTF16PtrFromString("ROOT")
	if err != nil {
		return 0, err
	}
	// The machine's changes go to its registry store
	// (HKLM\Software\Microsoft\SystemCertificates\ROOT), the physical
	// store that adding through the logical ROOT store writes on Windows too.
	// Deleting through the logical store reports success under Wine but
	// leaves the registry unchanged, so the CA came back at the next start.
	// The user's store stays logical: Windows guards the user's roots with a
	// confirmation prompt that only the logical store shows.
	provider := uintptr(windows.CERT_STORE_PROV_SYSTEM)
	if w.machine && !readOnly {
		provider = windows.CERT_STORE_PROV_SYSTEM_REGISTRY
	}
	store, err := windows.CertOpenStore(provider, 0, 0, flags, uintptr(unsafe.Pointer(name)))
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return 0, errNeedsAdmin
		}
		return 0, fmt.Errorf("open %s: %w", w.info().Path, err)
	}
	return store, nil
}

// maxStoreWalk bounds a walk of a store. A Root store holds a few hundred
// certificates; a walk that has not ended after this many steps is an
// enumeration that restarts or cycles (as Wine's did when the walk deleted
// while enumerating: 100% CPU and gigabytes of memory in an uninstaller), so
// it stops with an error instead.
const maxStoreWalk = 100_000

// matches returns a duplicate of every certificate in store whose DER
// equals ca's, collected in one read-only walk; the caller frees them
// (freeContexts, or CertDeleteCertificateFromStore, which frees its
// argument). Deleting happens only after the walk has ended: deleting
// while enumerating is what never ended under Wine.
func matches(store windows.Handle, ca *rootCert, path string) ([]*windows.CertContext, error) {
	var found []*windows.CertContext
	var ctx *windows.CertContext
	for range maxStoreWalk {
		ctx, _ = windows.CertEnumCertificatesInStore(store, ctx)
		if ctx == nil { // CRYPT_E_NOT_FOUND: end of the store; ctx was freed
			return found, nil
		}
		if bytes.Equal(unsafe.Slice(ctx.EncodedCert, ctx.Length), ca.cert.Raw) {
			found = append(found, windows.CertDuplicateCertificateContext(ctx))
		}
	}
	windows.CertFreeCertificateContext(ctx)
	freeContexts(found)
	return nil, fmt.Errorf("walk %s: no end after %d certificates: the store's enumeration does not end; remove the CA by hand (certlm.msc, Trusted Root Certification Authorities)", path, maxStoreWalk)
}

func freeContexts(ctxs []*windows.CertContext) {
	for _, c := range ctxs {
		windows.CertFreeCertificateContext(c)
	}
}

// status is the equivalent of: certutil [-user] -verifystore Root <serial>
func (w *windowsRootStore) status(ca *rootCert) (State, string) {
	store, err := w.open(true)
	if err != nil {
		return StateNotTrusted, "cannot check: " + err.Error()
	}
	defer windows.CertCloseStore(store, 0)
	found, err := matches(store, ca, w.info().Path)
	if err != nil {
		return StateNotTrusted, "cannot check: " + err.Error()
	}
	freeContexts(found)
	if len(found) == 0 {
		return StateNotTrusted, "CA not in this store"
	}
	if !w.machine {
		return StateTrusted, "the current user's view also includes machine-wide roots"
	}
	return StateTrusted, ""
}

// install is the equivalent of: certutil [-user] -addstore Root ca.pem
// For the current user Windows shows a security prompt to confirm.
func (w *windowsRootStore) install(ca *rootCert) error {
	store, err := w.open(false)
	if err != nil {
		return err
	}
	defer windows.CertCloseStore(store, 0)
	der := ca.cert.Raw
	ctx, err := windows.CertCreateCertificateContext(windows.X509_ASN_ENCODING|windows.PKCS_7_ASN_ENCODING, &der[0], uint32(len(der)))
	if err != nil {
		return fmt.Errorf("parse CA for crypt32: %w", err)
	}
	defer windows.CertFreeCertificateContext(ctx)
	err = windows.CertAddCertificateContextToStore(store, ctx, windows.CERT_STORE_ADD_REPLACE_EXISTING, nil)
	switch {
	case errors.Is(err, windows.ERROR_CANCELLED):
		return errors.New("the Windows security prompt was declined: run install again and choose Yes")
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return errNeedsAdmin
	case err != nil:
		return fmt.Errorf("add CA to %s: %w", w.info().Path, err)
	}
	return nil
}

// uninstall is the equivalent of: certutil [-user] -delstore Root <serial>,
// matching on the whole certificate rather than the serial.
func (w *windowsRootStore) uninstall(ca *rootCert) (bool, error) {
	if state, _ := w.status(ca); state != StateTrusted {
		return false, nil
	}
	n, err := w.deleteAll(ca)
	if err != nil || n == 0 {
		return false, err
	}
	// Read back, after the store is closed (a registry store writes its
	// changes when it closes): a deletion that reports success but leaves
	// the CA trusted must not be reported as removed.
	if state, _ := w.status(ca); state == StateTrusted {
		return false, fmt.Errorf("delete CA from %s: still there after deleting it: remove it with certlm.msc, Trusted Root Certification Authorities", w.info().Path)
	}
	return true, nil
}

// deleteAll deletes every copy of ca from the store and closes it, which
// commits the deletion; it returns how many it deleted.
func (w *windowsRootStore) deleteAll(ca *rootCert) (int, error) {
	store, err := w.open(false)
	if err != nil {
		return 0, err
	}
	defer windows.CertCloseStore(store, 0)
	found, err := matches(store, ca, w.info().Path)
	if err != nil {
		return 0, err
	}
	for i, ctx := range found {
		// CertDeleteCertificateFromStore frees ctx, even when it fails.
		if err := windows.CertDeleteCertificateFromStore(ctx); err != nil {
			freeContexts(found[i+1:])
			if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
				return i, fmt.Errorf("the CA is in the machine store: %w", errNeedsAdmin)
			}
			return i, fmt.Errorf("delete CA from %s: %w", w.info().Path, err)
		}
	}
	return len(found), nil
}

// firefoxPolicyStore is Firefox's enterprise policy
// Software\Policies\Mozilla\Firefox\Certificates\ImportEnterpriseRoots=1
// (HKCU for the user, HKLM for the machine): it makes Firefox read the
// Windows Root store. It is not a trust store itself, so it does not count
// for Trusted, and failing to set it only skips it.
type firefoxPolicyStore struct {
	machine bool
	always  bool // set even when Firefox is not installed yet (the machine install)
}

const (
	firefoxPolicyKey   = `Software\Policies\Mozilla\Firefox\Certificates`
	firefoxPolicyValue = "ImportEnterpriseRoots"
)

func (f *firefoxPolicyStore) root() (registry.Key, string) {
	if f.machine {
		return registry.LOCAL_MACHINE, "HKLM"
	}
	return registry.CURRENT_USER, "HKCU"
}

func (f *firefoxPolicyStore) info() StoreStatus {
	_, hive := f.root()
	scope := ScopeUser
	if f.machine {
		scope = ScopeSystem
	}
	return StoreStatus{Name: "Firefox policy " + firefoxPolicyValue + " (" + hive + ")", Path: hive + `\` + firefoxPolicyKey, Scope: scope}
}

// marker records that we set the policy, so Uninstall removes only a value
// we created and never one an administrator set.
func (f *firefoxPolicyStore) marker(ca *rootCert) string {
	_, hive := f.root()
	return filepath.Join(filepath.Dir(ca.path), "firefox-policy-"+hive+".set")
}

func firefoxInstalled() bool {
	for _, env := range []string{"ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA"} {
		if base := os.Getenv(env); base != "" {
			if _, err := os.Stat(filepath.Join(base, "Mozilla Firefox", "firefox.exe")); err == nil {
				return true
			}
		}
	}
	return false
}

func (f *firefoxPolicyStore) get() (uint64, error) {
	root, _ := f.root()
	k, err := registry.OpenKey(root, firefoxPolicyKey, registry.QUERY_VALUE)
	if err != nil {
		return 0, err
	}
	defer k.Close()
	v, _, err := k.GetIntegerValue(firefoxPolicyValue)
	return v, err
}

func (f *firefoxPolicyStore) status(*rootCert) (State, string) {
	if !firefoxInstalled() && !f.always {
		return StateNotPresent, "Firefox not installed"
	}
	if v, err := f.get(); err == nil && v == 1 {
		return StateTrusted, "Firefox reads the Windows Root store"
	}
	return StateNotTrusted, "not set: Firefox 120+ reads the Windows Root store anyway, older Firefox does not"
}

// install is the equivalent of:
// reg add HKCU\Software\Policies\Mozilla\Firefox\Certificates /v ImportEnterpriseRoots /t REG_DWORD /d 1
func (f *firefoxPolicyStore) install(ca *rootCert) error {
	if !firefoxInstalled() && !f.always {
		return fmt.Errorf("%w: Firefox not installed", errSkip)
	}
	if v, err := f.get(); err == nil && v == 1 {
		return nil
	}
	root, hive := f.root()
	k, _, err := registry.CreateKey(root, firefoxPolicyKey, registry.SET_VALUE)
	if err == nil {
		err = k.SetDWordValue(firefoxPolicyValue, 1)
		k.Close()
	}
	if err != nil {
		// Standard users often may not write HKCU\Software\Policies.
		return fmt.Errorf("%w: cannot set %s\\%s (%v): Firefox 120+ needs no policy; for older Firefox enable security.enterprise_roots.enabled in about:config", errSkip, hive, firefoxPolicyKey, err)
	}
	if err := os.WriteFile(f.marker(ca), []byte("set by orionbridge certs install\n"), 0o600); err != nil {
		return fmt.Errorf("record policy marker %s: %w", f.marker(ca), err)
	}
	return nil
}

// uninstall is the equivalent of:
// reg delete HKCU\Software\Policies\Mozilla\Firefox\Certificates /v ImportEnterpriseRoots
func (f *firefoxPolicyStore) uninstall(ca *rootCert) (bool, error) {
	if _, err := os.Stat(f.marker(ca)); err != nil {
		return false, nil // not ours
	}
	root, _ := f.root()
	k, err := registry.OpenKey(root, firefoxPolicyKey, registry.SET_VALUE)
	if err == nil {
		err = k.DeleteValue(firefoxPolicyValue)
		k.Close()
	}
	if err != nil && !errors.Is(err, registry.ErrNotExist) {
		if f.machine {
			return false, fmt.Errorf("remove policy: %w (%w)", err, errNeedsAdmin)
		}
		return false, fmt.Errorf("remove policy: %w", err)
	}
	if err := os.Remove(f.marker(ca)); err != nil {
		return false, fmt.Errorf("remove policy marker: %w", err)
	}
	return true, nil
}

// machineStores: LocalMachine\Root, which Chrome, Edge and Firefox 120+
// read for every user, and Firefox's ImportEnterpriseRoots policy in HKLM
// for older Firefox, set even before Firefox is installed.
func machineStores() []trustStore {
	return []trustStore{&windowsRootStore{machine: true}, &firefoxPolicyStore{machine: true, always: true}}
}

// userStoresForMachineCA: none; LocalMachine\Root serves every user.
func userStoresForMachineCA() []trustStore { return nil }

// everyUsersStores: none; nothing per user was added on Windows.
func everyUsersStores() []trustStore { return nil }
