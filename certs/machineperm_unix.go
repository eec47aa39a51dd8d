//go:build !windows

package certs

import (
	"errors"
	"fmt"
	"os"

	"orionbridge/internal/machinedir"
	"orionbridge/internal/owneronly"
)

// checkMachineAdmin: the machine CA's key is root's alone.
func checkMachineAdmin() error {
	if !isRoot() {
		return errors.New("needs root: the machine CA's key is readable by root only: run with sudo")
	}
	return nil
}

// prepareMachineDirs creates root (0755), ca/ (0700: the CA key) and
// certs/ (0755: every user reads the leaf), and checks that each is root's
// and writable by nobody else, so a folder someone else made first is
// refused rather than used.
func prepareMachineDirs(root, caDir, certsDir string) error {
	if err := machinedir.Prepare(root); err != nil {
		return err
	}
	if err := owneronly.CheckDir("machine data folder", root); err != nil {
		return err
	}
	if err := owneronly.MkdirAll("machine CA folder", caDir); err != nil {
		return err
	}
	if err := os.Chmod(caDir, 0o700); err != nil {
		return fmt.Errorf("restrict %s: %w", caDir, err)
	}
	if err := os.Mkdir(certsDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", certsDir, err)
	}
	if err := owneronly.CheckDir("machine certificate folder", certsDir); err != nil {
		return err
	}
	return os.Chmod(certsDir, 0o755)
}

// restrictMachineKey: root only.
func restrictMachineKey(path string) error { return os.Chmod(path, 0o600) }
