package app

// The browsers' Local Network Access policy (browserpolicy), seen from a
// running bridge: /health and the diagnostics page show which browsers
// have it, and a bridge that runs as root (or as the Windows service, or
// elevated) keeps it following allowed_origins when the config changes, so
// IT's `policy install` need not be run again by hand.

import (
	"slices"
	"sync"
	"time"

	"orionbridge/browserpolicy"
)

// policyFresh is how old a policy answer /health may show: reading the
// browsers' files or registry keys on every request would let any page make
// the bridge do file work at will.
const policyFresh = 5 * time.Second

// BrowserPolicyHealth is one browser in /health's "browser_policy": whether
// IT's policy approves the bridge's sites there, and whether it still
// matches allowed_origins. It names no origin.
type BrowserPolicyHealth struct {
	Browser string `json:"browser"`
	InPlace bool   `json:"in_place"`
	Current bool   `json:"current"`
}

type policyCache struct {
	root   string         // where the policy files are: "" for the real system; tests set a folder
	real   bool           // root "" may be written: the bridge uses the real machine folder (not a test's)
	follow sync.Mutex     // one follow at a time: two quick config changes must not interleave installs
	active sync.WaitGroup // follows under way; Stop waits for them

	mu      sync.Mutex
	at      time.Time
	origins []string
	answer  []BrowserPolicyHealth
}

// browserPolicyHealth answers /health's "browser_policy"; nil (left out)
// when no browser has the policy.
func (in *Instance) browserPolicyHealth() any {
	origins := in.RunningConfig().AllowedOrigins
	c := &in.policy
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < policyFresh && slices.Equal(c.origins, origins) {
		return c.policyAnswer()
	}
	c.at, c.origins, c.answer = time.Now(), slices.Clone(origins), nil
	if len(origins) == 0 {
		return nil
	}
	statuses, err := browserpolicy.Status(c.root, browserpolicy.Options{Origins: origins})
	if err != nil {
		return nil
	}
	for _, s := range statuses {
		c.answer = append(c.answer, BrowserPolicyHealth{Browser: s.Browser, InPlace: s.InPlace, Current: s.Current})
	}
	return c.policyAnswer()
}

func (c *policyCache) policyAnswer() any {
	if !slices.ContainsFunc(c.answer, func(b BrowserPolicyHealth) bool { return b.InPlace }) {
		return nil
	}
	return c.answer
}

// followBrowserPolicy installs the policy again for the allowed_origins
// in force when it is installed and out of date, and this process may
// write it: the bridge running as root, SYSTEM or elevated (a user's own
// bridge cannot, and says nothing). It reads the origins when it runs, not
// when the change was made, so follows that run out of order still leave
// the latest origins in place.
func (in *Instance) followBrowserPolicy() {
	if browserpolicy.CheckPrivilege() != nil {
		return
	}
	in.policy.follow.Lock()
	defer in.policy.follow.Unlock()
	root, origins := in.policy.root, in.RunningConfig().AllowedOrigins
	if len(origins) == 0 || (root == "" && !in.policy.real) {
		return
	}
	statuses, err := browserpolicy.Status(root, browserpolicy.Options{Origins: origins})
	if err != nil {
		return
	}
	installed, current, iframe := false, true, false
	for _, s := range statuses {
		if s.InPlace {
			installed, current, iframe = true, current && s.Current, iframe || s.Iframe
		}
	}
	if !installed || current {
		return
	}
	if _, err := browserpolicy.Install(root, browserpolicy.Options{Origins: origins, Iframe: iframe}); err != nil {
		in.log.Warn("allowed_origins changed, but the browsers' Local Network Access policy could not follow: run `orionbridge policy install`", "err", err)
		return
	}
	in.policy.mu.Lock()
	in.policy.at = time.Time{}
	in.policy.mu.Unlock()
	in.log.Info("the browsers' Local Network Access policy now follows allowed_origins", "origins", len(origins))
}
