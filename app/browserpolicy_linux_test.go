package app

import (
	"slices"
	"testing"

	"orionbridge/browserpolicy"
	"orionbridge/internal/testutil"
)

// TestBrowserPolicyFollowsAllowedOrigins: a bridge running as root, with
// IT's policy installed, rewrites it when allowed_origins changes, and
// /health says which browsers have it; with no policy installed it writes
// none.
func TestBrowserPolicyFollowsAllowedOrigins(t *testing.T) {
	testutil.RequireRoot(t, "the browser policy follows only in a bridge that may write it")
	for _, tc := range []struct {
		name      string
		installed bool
	}{{"installed", true}, {"never installed", false}} {
		t.Run(tc.name, func(t *testing.T) {
			in := startInstance(t)
			in.policy.root = t.TempDir()
			before := []string{"https://shop.example.com"}
			after := []string{"https://shop.example.com", "https://editor.example.com"}
			cfg := in.RunningConfig()
			cfg.AllowedOrigins = before
			if err := in.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			if tc.installed {
				if _, err := browserpolicy.Install(in.policy.root, browserpolicy.Options{Origins: before}); err != nil {
					t.Fatal(err)
				}
			}
			cfg.AllowedOrigins = after
			if err := in.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			current := func() bool {
				st, err := browserpolicy.Status(in.policy.root, browserpolicy.Options{Origins: after})
				return err == nil && slices.ContainsFunc(st, func(s browserpolicy.BrowserStatus) bool { return s.Current })
			}
			if !tc.installed {
				in.policy.active.Wait()
				in.followBrowserPolicy() // as ApplyConfig does, but waited for
				if current() || in.browserPolicyHealth() != nil {
					t.Fatal("a policy was written although IT never installed one")
				}
				return
			}
			testutil.WaitFor(t, "the policy to follow allowed_origins", current)
			in.policy.active.Wait() // no follow may write into the folder after the test
			h, ok := in.browserPolicyHealth().([]BrowserPolicyHealth)
			if !ok || len(h) == 0 || !slices.ContainsFunc(h, func(b BrowserPolicyHealth) bool { return b.InPlace && b.Current }) {
				t.Errorf("/health browser_policy = %+v, want browsers with the policy, current", h)
			}
		})
	}
}
