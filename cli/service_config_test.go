package cli

import (
	"path/filepath"
	"testing"

	"orionbridge/config"
)

// TestServiceConfigFileAllowsOtherUsersForSystemAccounts: the config file
// `service install` creates lets every user's browser in only for a
// service that runs as root or LocalSystem (the per-user check would
// otherwise refuse every browser); a user's service, or a system service
// run as a user, keeps the check.
func TestServiceConfigFileAllowsOtherUsersForSystemAccounts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope serviceScope
		runAs string
		want  bool
	}{
		{"user service", scopeUser, "", false},
		{"system service as root or LocalSystem", scopeSystem, "", true},
		{"system service run as a user", scopeSystem, "operator", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "OrionBridge", "config.toml")
			// Without SUDO_USER nothing is chowned to runAs.
			t.Setenv("SUDO_USER", "")
			spec := serviceSpec{configPath: path, runAs: tc.runAs, scope: tc.scope}
			if err := ensureConfigFile(serviceRequest{scope: tc.scope}, spec); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AllowOtherUsers != tc.want {
				t.Errorf("allow_other_users = %v, want %v", cfg.AllowOtherUsers, tc.want)
			}
		})
	}
}
