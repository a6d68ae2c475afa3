//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procStat reads a process's parent and state from /proc.
func procStat(pid int) (ppid int, state string, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0, "", false
	}
	ppid, _ = strconv.Atoi(fields[1])
	return ppid, fields[0], true
}

// alive reports whether pid runs (a zombie does not: in a container its
// reaper may never come).
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// gymChildren lists the running bridges (Python children running a
// dream-gym-*.py script) whose parent is pid.
func gymChildren(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(child); !ok || ppid != pid || !alive(child) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		if bytes.Contains(cmdline, []byte("dream-gym-")) {
			kids = append(kids, child)
		}
	}
	return kids
}

// TestGymKilledLeavesNoProcess kills `dream train` on a stand-in
// environment with SIGKILL while it trains: its Python child must not
// outlive it.
func TestGymKilledLeavesNoProcess(t *testing.T) {
	py := gymPython(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd := dreamProcess(t, "train", "--env", "gym:dreamtest/Corridor-v0", "--obs", "state", "--preset", "debug", "--steps", "1000000",
		"--python", py, "--run-dir", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var kids []int
	deadline := time.Now().Add(20 * time.Second)
	for len(kids) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no Python child of dream appeared in 20s\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
		kids = gymChildren(t, cmd.Process.Pid)
	}
	time.Sleep(300 * time.Millisecond) // training, the child between steps or in one
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline = time.Now().Add(5 * time.Second)
	for _, pid := range kids {
		for alive(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("Python child %d still runs 5s after dream was killed", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestGymCommandsLeaveNoProcess runs train, eval, rollout and a failing
// train in this process: when each returns, none of its children runs.
func TestGymCommandsLeaveNoProcess(t *testing.T) {
	py := gymPython(t)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := writeGymConfig(t)
	commands := [][]string{
		{"train", "--env", "gym:dreamtest/Corridor-v0", "--preset", "debug", "--steps", "220", "--config", cfg, "--python", py, "--run-dir", dir},
		{"eval", "--run-dir", dir, "--episodes", "2"},
		{"rollout", "--env", "gym:dreamtest/Corridor-v0", "--python", py, "--actions", "0,1,2"},
		{"train", "--env", "gym:dreamtest/Raise-v0", "--preset", "debug", "--steps", "220", "--config", cfg, "--python", py, "--run-dir", dir + "-raise"},
	}
	for _, args := range commands {
		out, err := run(t, args...)
		if err != nil && !strings.Contains(err.Error(), "stand-in: step failed on purpose") {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if kids := gymChildren(t, os.Getpid()); len(kids) > 0 {
			t.Errorf("%s left Python children %v", strings.Join(args, " "), kids)
		}
	}
}
