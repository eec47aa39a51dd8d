package cli

// systemdUnit is the unit `orionbridge service install` writes on Linux, as
// a kardianos/service SystemdScript template: its Install fills in the
// {{Key}} values (Path, Arguments, UserName…). It replaces the library's
// default unit, whose [Install] section says WantedBy=multi-user.target: the
// user manager has no such target, so an enabled user unit would never start
// at login (kardianos/service#415, open); and whose RestartSec=120 would leave
// the editor without a bridge for two minutes after a crash.
func systemdUnit(scope serviceScope) string {
	target := "multi-user.target" // reached by the system manager at boot
	if scope == scopeUser {
		target = "default.target" // reached by the user manager at login
	}
	return systemdUnitTemplate + "WantedBy=" + target + "\n"
}

const systemdUnitTemplate = `# Written by "orionbridge service install"; "orionbridge service uninstall" removes it.
[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
# A bridge that fails 5 times in a minute (its port held by another program)
# is left failed rather than restarted forever.
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if UserName}}User={{UserName}}
{{end}}{{range EnvVars}}{{.}}
{{end}}Restart=on-failure
RestartSec=5
# Exit status 2 is a bad configuration: restarting does not fix it.
RestartPreventExitStatus=2
# After SIGTERM the bridge gives open sessions up to 5 s to close.
TimeoutStopSec=15

[Install]
`
