//go:build linux

package gym

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamrl/dream/envs"
)

// helperEnv, set to 1, makes the test binary the parent of a child that
// is busy in a long step (TestMain runs helper instead of the tests).
const helperEnv = "DREAM_GYM_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

// helper makes an Env whose steps sleep a minute, prints its child's pid
// and steps: it is killed in the middle of the step.
func helper() int {
	e, err := New("dreamtest/Corridor-v0", envs.Options{Obs: envs.ObsState, Python: os.Getenv("DREAM_GYM_TEST_PYTHON"), GymKwargs: `{"sleep": 60}`})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	e.Reset(0)
	fmt.Println(e.proc.cmd.Process.Pid)
	e.Step([]float64{2})
	return 0
}

// alive reports whether pid runs: it exists and is not a zombie (a child
// of a dead parent may wait for a reaper that never comes in a
// container).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// TestChildDiesWithParent kills the parent of a child with SIGKILL while
// the child is busy in a step, so that only the kernel (Pdeathsig), not
// the end of its input, can end it, and checks that no process is left.
func TestChildDiesWithParent(t *testing.T) {
	standIn(t, "")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "DREAM_GYM_TEST_PYTHON="+testPython(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper printed %q (%v)", line, err)
	}
	if !alive(pid) {
		t.Fatalf("child %d is not running before the kill", pid)
	}
	time.Sleep(200 * time.Millisecond) // the child is in its step now
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still runs 5s after its parent was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
