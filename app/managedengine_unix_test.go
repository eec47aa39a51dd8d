//go:build unix

package app

import (
	"bufio"
	"context"
	"errors"
	"io"
	"orionbridge/engine"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processGone reports whether no process has the id pid (a zombie counts as
// present: its parent has not reaped it).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// checkOwnProcessGroup checks that the engine leads a process group of its
// own, so a Ctrl-C in the bridge's terminal does not reach it.
func checkOwnProcessGroup(t *testing.T, pid int) {
	t.Helper()
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid || pgid == syscall.Getpgrp() {
		t.Errorf("engine pid %d is in process group %d (the bridge's is %d)", pid, pgid, syscall.Getpgrp())
	}
}

// A Ctrl-C in a terminal sends SIGINT to the foreground process group. The
// bridge gets it; the engine, in its own group, does not, and the bridge
// stops it after its sessions.
func TestCtrlCStopsEngineInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs real processes")
	}
	bin := buildOrionBridge(t)
	home := t.TempDir()
	target := freeLoopbackAddr(t)
	config := filepath.Join(home, "config.toml")
	testutil.WriteFile(t, config, "port = "+strconv.Itoa(uniquePort(t))+"\nfallback_ports = []\ndata_dir = \"data\"\n\n[[routes]]\npath = \"/ws\"\ntarget = \""+target+
		"\"\nlaunch = ["+strconv.Quote(bin)+", \"demo-engine\", \"--listen\", \""+target+"\"]\nlaunch_env = { ORION_TEST = \"1\" }\n")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "share"))
	// A group of its own stands in for the terminal's foreground group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stderr)
	}()
	var log []string
	// next reads lines until one contains s, and returns it.
	next := func(s string) string {
		t.Helper()
		for line := range lines {
			log = append(log, line)
			if strings.Contains(line, s) {
				return line
			}
		}
		t.Fatalf("the bridge ended without logging %q:\n%s", s, strings.Join(log, "\n"))
		return ""
	}
	m := regexp.MustCompile(`pid=(\d+)`).FindStringSubmatch(next(`msg="engine running"`))
	if m == nil {
		t.Fatalf("no pid in %q", log[len(log)-1])
	}
	pid, _ := strconv.Atoi(m[1])
	checkOwnProcessGroup(t, pid)

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	next(`msg="bridge stopped"`)
	stopped := next(`msg="engine stopped"`)
	if !strings.Contains(stopped, `status="exit status 0"`) {
		t.Errorf("engine stop: %s", stopped)
	}
	for line := range lines {
		log = append(log, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("bridge exit: %v\n%s", err, strings.Join(log, "\n"))
	}
	if !processGone(pid) {
		t.Errorf("engine pid %d outlived the bridge", pid)
	}
	for _, line := range log {
		if strings.Contains(line, "restarting") {
			t.Errorf("the engine got the Ctrl-C itself: %s", line)
		}
	}
}

// An engine that ignores SIGTERM is killed after the grace period, with
// the children in its process group.
func TestEngineIgnoringSIGTERMIsKilled(t *testing.T) {
	launch := []string{"/bin/sh", "-c", "trap '' TERM; sleep 600 & while :; do sleep 0.05; done"}
	in, logs := startEngineInstanceWith(t, engineConfig(t, launch), func(tm *engine.Timing) {
		tm.StartTimeout, tm.StopGrace, tm.MinBackoff = 200*time.Millisecond, 200*time.Millisecond, time.Hour
	})
	testutil.WaitFor(t, "the engine to start", func() bool { return engineStatus(t, in).PID != 0 })
	pid := engineStatus(t, in).PID
	testutil.WaitFor(t, "the failed state", func() bool { return in.engines.State("/ws") == "failed" })
	if r := logs.find("engine still running after the grace period; killing it"); len(r) != 1 || r[0]["pid"] != strconv.Itoa(pid) {
		t.Errorf("kill records %v", r)
	}
	if r := logs.find("engine stopped"); len(r) != 1 || r[0]["status"] != "signal: killed" {
		t.Errorf("stop records %v", r)
	}
	if !processGone(pid) {
		t.Errorf("engine pid %d survived SIGKILL", pid)
	}
	// sleep 600 was in the engine's group and was killed with it; once its
	// new parent, init, has reaped it, the group is empty.
	testutil.WaitFor(t, "the engine's process group to be empty", func() bool {
		return errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH)
	})
}
