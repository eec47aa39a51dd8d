package cli

// The Windows renewal task (issue 15, point 2): every schtasks.exe call of
// `certs machine install|uninstall|status`. The machine leaf must be
// renewed by an account that may read the machine CA's key (SYSTEM and
// Administrators only, certs/machineperm_windows.go), without the optional
// service: a scheduled task running as SYSTEM does it. Its definition is
// renewTaskXML (cli/renewtask_xml.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows"

	"orionbridge/certs"
	"orionbridge/internal/executable"
	"orionbridge/internal/owneronly"
)

// renewTaskName is the task's path in Task Scheduler: a folder of its own,
// so that Task Scheduler's library shows whose it is.
const renewTaskName = `\Orion Bridge\Renew certificate`

// renewTaskFile is where the definition is written for schtasks to read:
// the CA's folder, which only SYSTEM and Administrators may write, so no
// user can swap the file between our write and schtasks' read.
const renewTaskFile = "renew-task.xml"

// installRenewTask registers (or replaces) the task. The program it runs as
// SYSTEM must be one no user can replace: the headless exe beside this one
// (as the service runs), checked like a machine file.
func installRenewTask(root string, stdout io.Writer) error {
	self, err := executable.Path()
	if err != nil {
		return fmt.Errorf("create the renewal task: %w", err)
	}
	exe, _ := serviceExecutable(self, "windows")
	if err := checkTaskProgram(exe); err != nil {
		return fmt.Errorf("create the renewal task: %w", err)
	}
	def := filepath.Join(certs.MachineCADir(root), renewTaskFile)
	if err := os.Remove(def); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("create the renewal task: remove the old %s: %w", def, err)
	}
	f, err := owneronly.Create(def, 0o600)
	if err != nil {
		return fmt.Errorf("create the renewal task: %w", err)
	}
	_, err = f.Write(renewTaskXML(exe))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	defer os.Remove(def)
	if err != nil {
		return fmt.Errorf("create the renewal task: write %s: %w", def, err)
	}
	// schtasks /Create /F /TN "\Orion Bridge\Renew certificate" /XML "C:\ProgramData\OrionBridge\ca\renew-task.xml"
	if out, err := schtasks("/Create", "/F", "/TN", renewTaskName, "/XML", def); err != nil {
		return fmt.Errorf("create the renewal task %s: %w: %s", renewTaskName, err, out)
	}
	fmt.Fprintf(stdout, "scheduled the task %s: runs \"%s\" %s daily as SYSTEM\n", renewTaskName, exe, renewTaskArgs)
	return nil
}

// checkTaskProgram refuses a program that someone other than an
// administrator could replace, since the task runs it as SYSTEM: it must
// lie inside Program Files, which only administrators may write (an
// administrator's own Downloads folder is writable by every unelevated
// program they run), and pass the owner and ACL check of a machine file.
func checkTaskProgram(exe string) error {
	pf, err := windows.KnownFolderPath(windows.FOLDERID_ProgramFiles, 0)
	if err != nil {
		return fmt.Errorf("find the Program Files folder: %w", err)
	}
	rel, err := filepath.Rel(pf, exe)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
		return fmt.Errorf("%s is not inside %s: the task would run it as SYSTEM, so it must be where only administrators can write: install Orion Bridge with the MSI (or copy both exes into %s) and run this again from there",
			exe, pf, filepath.Join(pf, "Orion Bridge"))
	}
	return owneronly.CheckFile("the program the renewal task runs as SYSTEM", exe, false)
}

// removeRenewTask deletes the task. A task that is not there is no error:
// an uninstall must finish on a machine where it never was (an older
// version's install, or a second uninstall).
func removeRenewTask(stdout io.Writer) error {
	// schtasks /Delete /F /TN "\Orion Bridge\Renew certificate"
	out, err := schtasks("/Delete", "/F", "/TN", renewTaskName)
	if err == nil {
		fmt.Fprintf(stdout, "deleted the scheduled task %s\n", renewTaskName)
		return nil
	}
	if _, state := queryRenewTask(); state == taskMissing {
		fmt.Fprintf(stdout, "no scheduled task %s: nothing to delete\n", renewTaskName)
		return nil
	}
	return fmt.Errorf("delete the renewal task %s: %w: %s (delete it in Task Scheduler, as an administrator)", renewTaskName, err, out)
}

// writeRenewTaskStatus says whether the task is there and what it runs.
func writeRenewTaskStatus(stdout io.Writer) {
	command, state := queryRenewTask()
	switch state {
	case taskFound:
		fmt.Fprintf(stdout, "Renewal: the scheduled task %s runs %s daily as SYSTEM\n", renewTaskName, command)
		return
	case taskUnknown:
		fmt.Fprintf(stdout, "Renewal: cannot tell whether the scheduled task %s exists: schtasks /Query succeeded without printing it; look in Task Scheduler\n", renewTaskName)
		return
	}
	fmt.Fprintf(stdout, "Renewal: no scheduled task %s, so nothing renews the machine leaf before it expires; "+
		"fix: run `orionbridge certs machine install` as an administrator (or reinstall the MSI)\n", renewTaskName)
}

// What queryRenewTask learnt.
const (
	taskMissing = iota // schtasks /Query failed: no such task (or no right to see it)
	taskFound
	// taskUnknown: schtasks /Query succeeded but printed no definition, as
	// Wine's does, which has no /Query (docs/wine-findings.md).
	taskUnknown
)

// queryRenewTask reads the task's definition back: the command it runs,
// and whether it exists.
func queryRenewTask() (command string, state int) {
	// schtasks /Query /TN "\Orion Bridge\Renew certificate" /XML ONE
	out, err := schtasks("/Query", "/TN", renewTaskName, "/XML", "ONE")
	if err != nil {
		return "", taskMissing
	}
	if !strings.Contains(out, "<Task") {
		return "", taskUnknown
	}
	command = "?"
	if _, rest, ok := strings.Cut(out, "<Command>"); ok {
		command, _, _ = strings.Cut(rest, "</Command>")
		command = `"` + command + `"`
	}
	if _, rest, ok := strings.Cut(out, "<Arguments>"); ok {
		args, _, _ := strings.Cut(rest, "</Arguments>")
		command += " " + args
	}
	return command, taskFound
}

// schtasks runs %SystemRoot%\System32\schtasks.exe (by its full path: not
// whatever PATH finds) with no console window, which the tray build, a
// GUI program run by the MSI, would otherwise flash.
func schtasks(args ...string) (string, error) {
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		return "", fmt.Errorf("find the system folder: %w", err)
	}
	exe := filepath.Join(dir, "schtasks.exe")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: windows.CREATE_NO_WINDOW}
	// Once schtasks has exited, stop waiting for its output pipe: under
	// Wine a service it wakes (the Task Scheduler's svchost) inherits the
	// pipe and keeps it open for as long as it runs, and `certs machine
	// status` hung on it (docs/wine-findings.md). Windows' services never
	// hold it; there the pipe closes with schtasks.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it exited with status 0; only the pipe was held
	}
	if err != nil {
		return strings.TrimSpace(string(out)), fmt.Errorf("%s %s: %w", exe, strings.Join(args, " "), err)
	}
	return string(out), nil
}
