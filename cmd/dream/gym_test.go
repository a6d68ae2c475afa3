package main

import (
	"image/gif"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamrl/dream/agent"
)

// gymPython returns an interpreter with numpy and puts the stand-in
// gymnasium (testdata/gym) first on PYTHONPATH, for this process's
// children and for dream processes the test starts.
func gymPython(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "gym"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PYTHONPATH", abs)
	py := findGymPython()
	if py == "" {
		t.Fatal("no Python 3 with numpy: install python3 and python3-numpy (make deps)")
	}
	return py
}

// findGymPython looks for the tests' interpreter once: python3 on PATH,
// else Debian's /usr/bin/python3.
var findGymPython = sync.OnceValue(func() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import numpy").Run() == nil {
			return path
		}
	}
	return ""
})

// gymConfig keeps the runs of these tests short: one evaluation episode,
// at the end only.
const gymConfig = "eval_every: 300\neval_episodes: 1\ncheckpoint_every: 100\n"

func writeGymConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gym.yaml")
	if err := os.WriteFile(p, []byte(gymConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGymTrainEvalDebug trains on a stand-in Gymnasium environment through
// the CLI, then evaluates and resumes the run without repeating --python
// or --gym-kwargs: the run's config holds them.
func TestGymTrainEvalDebug(t *testing.T) {
	py := gymPython(t)
	cfg := writeGymConfig(t)
	for _, tt := range []struct{ env, obs, kwargs string }{
		{"gym:dreamtest/Corridor-v0", "pixels", `{"length": 5}`},
		{"gym:dreamtest/PointMass-v0", "state", `{"max_episode_steps": 40}`},
	} {
		t.Run(tt.env+" "+tt.obs, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			out, err := run(t, "train", "--env", tt.env, "--obs", tt.obs, "--preset", "debug", "--steps", "250", "--config", cfg,
				"--python", py, "--gym-kwargs", tt.kwargs, "--run-dir", dir)
			if err != nil {
				t.Fatalf("train: %v\n%s", err, out)
			}
			if !strings.Contains(out, "training "+tt.env) || !strings.Contains(out, "done: 250 steps") {
				t.Errorf("train output:\n%s", out)
			}
			if n := newestStep(t, dir); n != 250 {
				t.Errorf("newest checkpoint at step %d, want 250", n)
			}
			c, err := agent.LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.Python != py || c.GymKwargs != tt.kwargs {
				t.Errorf("config holds python %q and gym_kwargs %q", c.Python, c.GymKwargs)
			}
			out, err = run(t, "eval", "--run-dir", dir, "--episodes", "2", "--json")
			if err != nil || !strings.Contains(out, `"episodes": 2`) {
				t.Fatalf("eval: %v\n%s", err, out)
			}
			out, err = run(t, "train", "--resume", "--run-dir", dir, "--steps", "260")
			if err != nil || !strings.Contains(out, "done: 260 steps") {
				t.Fatalf("resume: %v\n%s", err, out)
			}
			if _, err := run(t, "train", "--resume", "--run-dir", dir, "--python", py); err == nil || !strings.Contains(err.Error(), "--python cannot be changed when resuming") {
				t.Errorf("resume with --python: %v", err)
			}
		})
	}
}

// TestGymChildDiesMidRun kills the environment's child in the middle of a
// run (the stand-in exits at its 150th step): dream stops with one line
// and exit status 1, leaves a checkpoint of the 149 steps before, and
// the run resumes from it.
func TestGymChildDiesMidRun(t *testing.T) {
	py := gymPython(t)
	dir := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := execDream(t, "train", "--env", "gym:dreamtest/Crash-v0", "--obs", "state", "--preset", "debug", "--steps", "250",
		"--config", writeGymConfig(t), "--python", py, "--gym-kwargs", `{"crash_at": 150}`, "--run-dir", dir)
	if code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	msg := strings.TrimSuffix(stderr, "\n")
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "dream: ") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	for _, want := range []string{"failed at env step 149", "died during step (exit status 3)", "crashing on purpose at step 150", "checkpoint", "--resume"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if n := newestStep(t, dir); n != 149 {
		t.Errorf("newest checkpoint at step %d, want 149", n)
	}
	checkRunDir(t, dir, 2)
	// The resumed run's child counts its steps afresh: it finishes.
	stdout, stderr, code = execDream(t, "train", "--resume", "--run-dir", dir)
	if code != 0 || !strings.Contains(stdout, "resuming "+dir+" at step 149") || !strings.Contains(stdout, "done: 250 steps") {
		t.Errorf("resume: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestGymEvalChildDies checks that a child that writes garbage during
// dream eval is a one-line error with exit status 1: the stand-in writes
// it at its 35th step, which training (30 steps, one evaluation episode of
// at most 30) never reaches and an evaluation of 20 episodes (3 steps at
// least each) does.
func TestGymEvalChildDies(t *testing.T) {
	py := gymPython(t)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := filepath.Join(t.TempDir(), "short.yaml")
	if err := os.WriteFile(cfg, []byte("steps: 30\nseed_steps: 10\neval_episodes: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "train", "--env", "gym:dreamtest/Garbage-v0", "--obs", "state", "--preset", "debug", "--config", cfg,
		"--python", py, "--gym-kwargs", `{"garbage_at": 35}`, "--run-dir", dir); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	stdout, stderr, code := execDream(t, "eval", "--run-dir", dir, "--episodes", "20")
	msg := strings.TrimSuffix(stderr, "\n")
	if code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, "not dream's protocol during step") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestGymComparePool runs dream compare on a stand-in environment with
// two runs at a time, each with children of its own.
func TestGymComparePool(t *testing.T) {
	py := gymPython(t)
	out := filepath.Join(t.TempDir(), "cmp")
	stdout, err := run(t, "compare", "--env", "gym:dreamtest/PointMass-v0", "--obs", "state", "--preset", "debug", "--steps", "220",
		"--config", writeGymConfig(t), "--seeds", "1", "--parallel", "2", "--calibration-episodes", "1", "--python", py, "--out", out)
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, stdout)
	}
	for _, d := range []string{"gaussian-s0", "deterministic-s0"} {
		if n := newestStep(t, filepath.Join(out, d)); n != 220 {
			t.Errorf("%s: newest checkpoint at step %d, want 220", d, n)
		}
	}
}

// TestGymRolloutRecord replays actions and records a GIF of a stand-in
// environment.
func TestGymRolloutRecord(t *testing.T) {
	py := gymPython(t)
	out, err := run(t, "rollout", "--env", "gym:dreamtest/Corridor-v0", "--python", py, "--gym-kwargs", `{"slip": 0}`, "--seed", "5", "--actions", "2,2,2,2,2,2")
	if err != nil {
		t.Fatalf("rollout: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "t,action,reward,terminated,truncated,s0,s1" || !strings.Contains(lines[len(lines)-1], ",2,1,true,false,1,") {
		t.Errorf("rollout output:\n%s", out)
	}
	gifPath := filepath.Join(t.TempDir(), "c.gif")
	if out, err := run(t, "record", "--env", "gym:dreamtest/PointMass-v0", "--python", py, "--episodes", "1", "--max-steps", "5", "--size", "40", "--gif", gifPath); err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	f, err := os.Open(gifPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil || len(g.Image) != 6 || g.Image[0].Rect.Dx() != 40 {
		t.Errorf("gif: %v", err)
	}
}

// TestGymFlagErrors gives the gym flags bad values: one line naming the
// flag or the cause and what is allowed, and no run directory.
func TestGymFlagErrors(t *testing.T) {
	py := gymPython(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "run")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"kwargs not an object", []string{"train", "--env", "gym:dreamtest/Corridor-v0", "--gym-kwargs", "[1,2]", "--run-dir", dir}, []string{`--gym-kwargs "[1,2]" is not valid`, "a JSON object"}},
		{"kwargs for a built-in", []string{"train", "--env", "physics/cartpole", "--gym-kwargs", "{}", "--run-dir", dir}, []string{"--gym-kwargs applies only to --env gym:ID"}},
		{"python for a built-in", []string{"compare", "--env", "physics/cartpole", "--python", py, "--out", dir}, []string{"--python applies only to --env gym:ID"}},
		{"malformed id", []string{"train", "--env", "gym:Cart Pole", "--run-dir", dir}, []string{`--env "gym:Cart Pole" is not valid`, "gym:ID"}},
		{"unknown env lists gym", []string{"train", "--env", "nope", "--run-dir", dir}, []string{"or gym:ID for a Gymnasium environment"}},
		{"unknown id", []string{"train", "--env", "gym:dreamtest/Nope-v0", "--python", py, "--run-dir", dir}, []string{"unknown environment", "doesn't exist"}},
		{"unsupported space", []string{"train", "--env", "gym:dreamtest/DictObs-v0", "--obs", "state", "--python", py, "--run-dir", dir}, []string{"observation space Dict("}},
		{"no python", []string{"train", "--env", "gym:dreamtest/Corridor-v0", "--python", filepath.Join(tmp, "nopython"), "--run-dir", dir}, []string{"not an executable file", "--python"}},
		{"rollout kwargs", []string{"rollout", "--env", "physics/cartpole", "--gym-kwargs", "{}", "--actions", "0"}, []string{"--gym-kwargs applies only to --env gym:ID"}},
		{"record bad kwargs", []string{"record", "--env", "gym:dreamtest/Corridor-v0", "--gym-kwargs", "nope", "--gif", filepath.Join(tmp, "x.gif")}, []string{`--gym-kwargs "nope" is not valid`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := oneLine(err)
			if msg != err.Error() {
				t.Errorf("error is not one line: %q", err.Error())
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	for _, p := range []string{dir, filepath.Join(tmp, "x.gif")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a refused command created %s", p)
		}
	}
}

func TestGymEnvsListed(t *testing.T) {
	out, err := run(t, "envs")
	if err != nil || !strings.Contains(out, "gym:ID") || !strings.Contains(out, "docs/gym.md") {
		t.Errorf("dream envs does not mention gym:ID: %v\n%s", err, out)
	}
}

// TestBenchGymRows times the bridge as dream bench does, on the
// stand-in's point mass.
func TestBenchGymRows(t *testing.T) {
	py := gymPython(t)
	rows, err := benchGym("dreamtest/PointMass-v0", py, 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Name != "gym/state" || rows[1].Name != "gym/pixels" {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if !(r.NsPerOp > 0) || r.Ops < 1 || !strings.Contains(r.Note, "round trip") {
			t.Errorf("row %+v", r)
		}
	}
	if _, err := benchGym("dreamtest/Nope-v0", py, time.Millisecond); err == nil {
		t.Error("an unknown ID timed")
	}
}
