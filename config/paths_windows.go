package config

import (
	"errors"
	"os"
)

// userDataDir is %LocalAppData%, not the roaming %AppData% that
// os.UserConfigDir uses: the data stays with this machine.
func userDataDir() (string, error) {
	if d := os.Getenv("LocalAppData"); d != "" {
		return d, nil
	}
	return "", errors.New("%LocalAppData% is not set")
}
