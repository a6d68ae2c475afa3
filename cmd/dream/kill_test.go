package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamrl/dream/agent"
)

// runMainEnv, set to 1 in the environment, makes the test binary run the
// dream command instead of the tests, so that tests can start, kill and
// resume real dream processes without building another binary.
const runMainEnv = "DREAM_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// dreamProcess returns a dream process with the given arguments.
func dreamProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

// execDream runs dream in a process and returns its stdout, its stderr
// and its exit code.
func execDream(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := dreamProcess(t, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// killConfig is the config of the kill test's runs: checkpoints every 15
// steps, log rows every 10, evaluations every 100.
const killConfig = `steps: %d
seed_steps: 40
eval_every: 100
eval_episodes: 1
log_every: 10
checkpoint_every: 15
keep_checkpoints: 2
`

// How a trial kills the process.
const (
	killEarly      = "early"      // a random moment in the first 40 ms: start-up, New, Open
	killProgress   = "progress"   // a random moment after a random step
	killCheckpoint = "checkpoint" // as soon as a checkpoint's temporary file appears
)

// trial is what one dream process did.
type trial struct {
	killed  bool
	midSave bool // killed while writing a checkpoint (its temporary file is left)
	stdout  string
	stderr  string
	err     error
}

var progressLine = regexp.MustCompile(`^(\d+)/\d+ steps`)

// ckptTemp reports whether name is the temporary file of a checkpoint
// being written.
func ckptTemp(name string) bool {
	return strings.HasPrefix(name, ".ckpt-") && strings.Contains(name, ".tmp")
}

// runTrial runs dream with args and kills it with SIGKILL as mode says
// (no kill if mode is ""); target is the step after which a progress
// kill comes, delay the time it waits before killing.
func runTrial(t *testing.T, dir string, args []string, mode string, target int, delay time.Duration) trial {
	t.Helper()
	before := map[string]bool{}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			before[e.Name()] = true
		}
	}
	cmd := dreamProcess(t, args...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var (
		mu    sync.Mutex
		lines []string
	)
	reached := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if m := progressLine.FindStringSubmatch(sc.Text()); m != nil && !signalled {
				if n, _ := strconv.Atoi(m[1]); n >= target {
					signalled = true
					close(reached)
				}
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-readDone; exited <- cmd.Wait() }()

	var res trial
	kill := func() {
		if cmd.Process.Kill() == nil {
			res.killed = true
		}
	}
	var werr error
	switch mode {
	case killEarly:
		select {
		case werr = <-exited:
		case <-time.After(delay):
			kill()
			werr = <-exited
		}
	case killProgress:
		select {
		case werr = <-exited:
		case <-reached:
			time.Sleep(delay)
			kill()
			werr = <-exited
		}
	case killCheckpoint:
	poll:
		for {
			select {
			case werr = <-exited:
				break poll
			default:
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if ckptTemp(e.Name()) && !before[e.Name()] {
					kill()
					werr = <-exited
					break poll
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	default:
		werr = <-exited
	}
	pr.Close()
	// A kill that came after the process had exited did not kill it.
	if res.killed && cmd.ProcessState.ExitCode() != -1 {
		res.killed = false
	}
	if !res.killed {
		res.err = werr
	}
	if res.killed {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			res.midSave = res.midSave || (ckptTemp(e.Name()) && !before[e.Name()])
		}
	}
	mu.Lock()
	res.stdout = strings.Join(lines, "\n")
	mu.Unlock()
	res.stderr = errOut.String()
	return res
}

// newestStep is the env step of the newest checkpoint in dir, 0 if none.
func newestStep(t *testing.T, dir string) int {
	t.Helper()
	ck, err := agent.Checkpoints(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(ck) == 0 {
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(filepath.Base(ck[len(ck)-1]), "ckpt-%d.ckpt", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// metricsSteps reads metrics.csv (if there is one) and returns the kind
// and env step of each row, failing unless it parses and its steps rise.
func metricsSteps(t *testing.T, dir string) (kinds []string, steps []int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, agent.MetricsFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("metrics.csv does not parse: %v", err)
	}
	for i, rec := range recs[1:] {
		n, err := strconv.Atoi(rec[1])
		if err != nil {
			t.Fatalf("metrics.csv row %d: env_steps %q", i+1, rec[1])
		}
		if len(steps) > 0 && n <= steps[len(steps)-1] {
			t.Fatalf("metrics.csv env_steps go back: %d after %d", n, steps[len(steps)-1])
		}
		kinds, steps = append(kinds, rec[0]), append(steps, n)
	}
	return kinds, steps
}

// checkRunDir checks what a killed process leaves: every checkpoint
// verifies, there are at most keep+1 of them (a kill may come between a
// rename and the removal of the oldest), the config loads and the metrics
// parse.
func checkRunDir(t *testing.T, dir string, keep int) {
	t.Helper()
	ck, err := agent.Checkpoints(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, p := range ck {
		if err := agent.VerifyCheckpoint(p); err != nil {
			t.Errorf("after a kill: %v", err)
		}
	}
	if len(ck) > keep+1 {
		t.Errorf("after a kill: %d checkpoints, want at most %d", len(ck), keep+1)
	}
	if _, err := os.Stat(filepath.Join(dir, agent.ConfigFile)); err == nil {
		if _, err := agent.LoadConfig(dir); err != nil {
			t.Errorf("after a kill: %v", err)
		}
	}
	metricsSteps(t, dir)
}

// TestKillAndResume starts `dream train` in a process and kills it with
// SIGKILL at random moments (during start-up, between steps, in the
// middle of a checkpoint write), then resumes it with
// `dream train --resume` until it finishes. Every resume must start from
// the newest checkpoint, every file must stay readable, and the finished
// run must have the right step count and one metrics row per log step.
func TestKillAndResume(t *testing.T) {
	const (
		steps        = 200
		killsPerRun  = 6
		minKills     = 20
		minMidWrites = 2
	)
	runs := []struct{ env, obs, dynamics string }{
		{"gridworld/frozenlake-4x4", "pixels", "gaussian"},
		{"gridworld/frozenlake-4x4", "pixels", "deterministic"},
		{"physics/pendulum", "pixels", "gaussian"},
		{"physics/cartpole", "state", "deterministic"},
	}
	rng := rand.New(rand.NewPCG(2025, 11))
	modes := []string{killEarly, killProgress, killCheckpoint, killProgress, killCheckpoint, killProgress}
	cfgFile := filepath.Join(t.TempDir(), "kill.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(killConfig, steps)), 0o644); err != nil {
		t.Fatal(err)
	}
	kills, midWrites := 0, 0
	for _, rc := range runs {
		t.Run(rc.env+"-"+rc.dynamics, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			fresh := []string{"train", "--preset", "debug", "--config", cfgFile, "--env", rc.env, "--obs", rc.obs,
				"--dynamics", rc.dynamics, "--run-dir", dir}
			resume := []string{"train", "--resume", "--run-dir", dir}
			done := false
			prev := 0
			for attempt := 0; !done; attempt++ {
				if attempt > killsPerRun+3 {
					t.Fatalf("not finished after %d processes", attempt)
				}
				args := resume
				if _, err := os.Stat(filepath.Join(dir, agent.ConfigFile)); err != nil {
					args = fresh
				}
				from := newestStep(t, dir)
				if from < prev {
					t.Fatalf("the newest checkpoint went back from step %d to %d", prev, from)
				}
				prev = from
				mode, target, delay := "", 0, time.Duration(0)
				if attempt < killsPerRun {
					mode = modes[attempt%len(modes)]
					if mode != killEarly && from+10 > steps-40 {
						mode = killEarly // too near the end to kill late reliably
					}
					switch mode {
					case killEarly:
						delay = time.Duration(rng.IntN(40_000)) * time.Microsecond
					case killProgress:
						target = from + 10 + rng.IntN(steps-40-from-10+1)
						delay = time.Duration(rng.IntN(10_000)) * time.Microsecond
					}
				}
				tr := runTrial(t, dir, args, mode, target, delay)
				if tr.killed {
					kills++
					if tr.midSave {
						midWrites++
					}
					t.Logf("process %d (%s): killed (%s, target %d, delay %v, mid-save %v)", attempt, args[1], mode, target, delay, tr.midSave)
					checkRunDir(t, dir, 2)
				} else {
					if tr.err != nil {
						t.Fatalf("dream %s: %v\nstderr: %s\nstdout: %s", strings.Join(args, " "), tr.err, tr.stderr, tr.stdout)
					}
					if !strings.Contains(tr.stdout, fmt.Sprintf("done: %d steps", steps)) {
						t.Fatalf("dream %s finished without its summary:\n%s", strings.Join(args, " "), tr.stdout)
					}
					done = true
				}
				if args[1] == "--resume" {
					first, _, _ := strings.Cut(tr.stdout, "\n")
					if want := fmt.Sprintf("resuming %s at step %d of %d", dir, from, steps); first != "" && first != want {
						t.Errorf("resume said %q, want %q", first, want)
					}
				}
			}

			// The finished run.
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			want := []string{fmt.Sprintf("ckpt-%010d.ckpt", steps-steps%15), fmt.Sprintf("ckpt-%010d.ckpt", steps), agent.ConfigFile, agent.MetricsFile}
			if strings.Join(names, " ") != strings.Join(want, " ") {
				t.Errorf("run directory holds %v, want %v", names, want)
			}
			kinds, got := metricsSteps(t, dir)
			if len(got) != steps/10 {
				t.Errorf("metrics.csv has %d rows, want %d: %v", len(got), steps/10, got)
			}
			for i, n := range got {
				wantKind := "log"
				if n%100 == 0 {
					wantKind = "eval"
				}
				if n != 10*(i+1) || kinds[i] != wantKind {
					t.Errorf("metrics row %d: %s at step %d, want %s at %d", i+1, kinds[i], n, wantKind, 10*(i+1))
				}
			}
			out, err := run(t, "eval", "--run-dir", dir, "--episodes", "1", "--json")
			if err != nil || !strings.Contains(out, fmt.Sprintf(`"steps": %d`, steps)) {
				t.Errorf("eval of the finished run: %v\n%s", err, out)
			}
		})
	}
	t.Logf("%d kills, %d during a checkpoint write", kills, midWrites)
	if kills < minKills {
		t.Errorf("%d kills, want at least %d", kills, minKills)
	}
	if midWrites < minMidWrites {
		t.Errorf("%d kills during a checkpoint write, want at least %d", midWrites, minMidWrites)
	}
}
