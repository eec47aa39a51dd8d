package cli

// sudoUser has no Windows counterpart: an elevated prompt keeps the user's
// own profile, so the default paths are already the user's.
type sudoUser struct{}

func invokingUser() (sudoUser, bool) { return sudoUser{}, false }
func (sudoUser) useHome()            {}
func (sudoUser) own(string) error    { return nil }
