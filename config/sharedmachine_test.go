package config

import (
	"bytes"
	"strings"
	"testing"
)

// Issue 16's keys: port_range and allow_other_users, parsed, checked with
// errors that name the fix, and shown by `config show`.
func TestSharedMachineKeys(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // "" accepts; else in the error
		rng  []int
		all  bool
	}{
		{"defaults", "", "", []int{21443, 21542}, false},
		{"a range and the check relaxed", "port_range = [30000, 30099]\nallow_other_users = true\n", "", []int{30000, 30099}, true},
		{"no range", "port_range = []\n", "", []int{}, false},
		{"one number", "port_range = [30000]\n", `key "port_range": expected an array of two port numbers [first, last], like [21443, 21542], or [] for none, got [30000]`, nil, false},
		{"reversed", "port_range = [30099, 30000]\n", "the first port (30099) is above the last (30000): write [30000, 30099]", nil, false},
		{"not a port", "port_range = [0, 10]\n", `key "port_range[0]": expected a port number 1-65535, got 0`, nil, false},
		{"too wide", "port_range = [20000, 30000]\n", "10001 ports is more than 1000: narrow it, e.g. [20000, 20099]", nil, false},
		{"allow_other_users not a bool", "allow_other_users = \"yes\"\n", "allow_other_users", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/etc/x.toml", []byte(tt.toml))
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Parse: %v; want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.PortRange) != len(tt.rng) || len(tt.rng) == 2 && (c.PortRange[0] != tt.rng[0] || c.PortRange[1] != tt.rng[1]) || c.AllowOtherUsers != tt.all {
				t.Errorf("port_range %v, allow_other_users %v; want %v, %v", c.PortRange, c.AllowOtherUsers, tt.rng, tt.all)
			}
			var show bytes.Buffer
			WriteShow(&show, c, nil)
			for _, k := range []string{"port_range ", "allow_other_users "} {
				if !strings.Contains(show.String(), "\n"+k) {
					t.Errorf("config show lacks %s:\n%s", k, show.String())
				}
			}
		})
	}
}
