package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/gif"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// run executes the root command with args and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestEnvs(t *testing.T) {
	out, err := run(t, "envs")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gridworld/frozenlake-4x4", "physics/cartpole", "Discrete(4)", "Box(-2, 2, (1,))", "physics/pendulum-gusty"} {
		if !strings.Contains(out, want) {
			t.Errorf("dream envs output lacks %q:\n%s", want, out)
		}
	}
}

func TestRolloutGridworld(t *testing.T) {
	out, err := run(t, "rollout", "--env", "gridworld/frozenlake-4x4", "--seed", "3", "--actions", "2,2,1,1,1,2")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "t,action,reward,terminated,truncated,s0,s1" {
		t.Errorf("header %q", got)
	}
	if got := strings.Join(recs[1], ","); got != "0,,,false,false,0,0" {
		t.Errorf("first row %q", got)
	}
	last := recs[len(recs)-1]
	if len(recs) < 2 || (len(recs) < 8 && last[3] != "true") {
		t.Errorf("rollout stopped early without termination: %v", recs)
	}
}

func TestRolloutFromState(t *testing.T) {
	out, err := run(t, "rollout", "--env", "physics/cartpole", "--state", "0,0,0.2,0", "--actions", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1")
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
	if recs[1][7] != "0.2" {
		t.Errorf("start state row %v", recs[1])
	}
	if last := recs[len(recs)-1]; last[3] != "true" || len(recs) >= 22 {
		t.Errorf("a pole at 0.2 rad should fall within 20 steps: last row %v of %d", last, len(recs))
	}
}

func TestRecordGIF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fl.gif")
	if _, err := run(t, "record", "--env", "gridworld/frozenlake-4x4", "--episodes", "2", "--size", "64", "--gif", path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) < 4 || g.Image[0].Rect.Dx() != 64 {
		t.Errorf("gif with %d frames of %v", len(g.Image), g.Image[0].Rect)
	}
}

func TestTrainEvalDebug(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	out, err := run(t, "train", "--preset", "debug", "--steps", "300", "--run-dir", dir, "--env", "gridworld/frozenlake-4x4")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	if !strings.Contains(out, "done: 300 steps") {
		t.Errorf("train output:\n%s", out)
	}
	if n := checkSuccessIntervals(t, out); n == 0 {
		t.Errorf("train output shows no success interval:\n%s", out)
	}
	if _, err := run(t, "train", "--preset", "debug", "--steps", "300", "--run-dir", dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a fresh train into a used run dir: %v", err)
	}
	out, err = run(t, "train", "--resume", "--run-dir", dir, "--steps", "400")
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if !strings.Contains(out, "resuming") || !strings.Contains(out, "done: 400 steps") {
		t.Errorf("resume output:\n%s", out)
	}
	out, err = run(t, "eval", "--run-dir", dir, "--episodes", "3", "--json")
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	for _, want := range []string{`"episodes": 3`, `"steps": 400`, `"success"`, `"success_lo"`, `"success_hi"`} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %s:\n%s", want, out)
		}
	}
	out, err = run(t, "eval", "--run-dir", dir, "--episodes", "3")
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	if n := checkSuccessIntervals(t, out); n != 1 {
		t.Errorf("eval output has %d success intervals, want 1:\n%s", n, out)
	}
	// Another planner for the evaluation only: the output says so, and
	// config.json keeps the run's own.
	before, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "eval", "--run-dir", dir, "--episodes", "3", "--horizon", "2", "--samples", "3", "--plan-with", "components", "--risk", "cvar:0.5")
	if err != nil {
		t.Fatalf("eval with another planner: %v", err)
	}
	if !strings.Contains(out, "planned with cem, horizon 2, 3 samples, λ 1, risk cvar:0.5, on components") {
		t.Errorf("eval with another planner does not say so:\n%s", out)
	}
	out, err = run(t, "eval", "--run-dir", dir, "--episodes", "3", "--planner", "rollout", "--horizon", "3", "--lambda", "0.3", "--snap-latents", "32")
	if err != nil || !strings.Contains(out, "planned with rollout, horizon 3") || !strings.Contains(out, "λ 0.3") {
		t.Errorf("eval with the rollout planner on snapped latents: %v\n%s", err, out)
	}
	out, err = run(t, "eval", "--run-dir", dir, "--episodes", "2", "--candidates", "16", "--iterations", "2")
	if err != nil || !strings.Contains(out, "16 candidates × 2 iterations") {
		t.Errorf("eval with a narrower search: %v\n%s", err, out)
	}
	out, err = run(t, "eval", "--run-dir", dir, "--episodes", "3", "--horizon", "2", "--json")
	if err != nil || !strings.Contains(out, `"horizon": 2`) {
		t.Errorf("eval --json with another horizon: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(after) != string(before) {
		t.Errorf("eval with another planner changed config.json")
	}
}

// successInterval matches a success rate followed by its interval, as
// "success 0.90 [0.70, 0.97]" or "success 0.900  95% CI [0.699, 0.972]".
var successInterval = regexp.MustCompile(`success (\S+) (?: 95% CI )?\[(\S+), (\S+)\]`)

// checkSuccessIntervals checks that every success interval in out holds
// its rate and lies in [0, 1], and returns how many there are.
func checkSuccessIntervals(t *testing.T, out string) int {
	t.Helper()
	ms := successInterval.FindAllStringSubmatch(out, -1)
	for _, m := range ms {
		var v [3]float64
		for i := range v {
			var err error
			if v[i], err = strconv.ParseFloat(m[i+1], 64); err != nil {
				t.Fatalf("%q: %v", m[0], err)
			}
		}
		if rate, lo, hi := v[0], v[1], v[2]; !(0 <= lo && lo <= rate && rate <= hi && hi <= 1) {
			t.Errorf("%q: want 0 ≤ lo ≤ rate ≤ hi ≤ 1", m[0])
		}
	}
	return len(ms)
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	badMap := filepath.Join(dir, "bad.map")
	os.WriteFile(badMap, []byte("S.G\nS..\n"), 0o644)
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("stepz: 10\n"), 0o644)
	tests := []struct {
		name    string
		args    []string
		mention string
	}{
		{"rollout unknown env", []string{"rollout", "--env", "nope", "--actions", "0"}, "known:"},
		{"rollout bad action", []string{"rollout", "--env", "gridworld/frozenlake-4x4", "--actions", "0,7"}, "--actions"},
		{"rollout bad torque", []string{"rollout", "--env", "physics/pendulum", "--actions", "5"}, "Box(-2, 2"},
		{"rollout bad state", []string{"rollout", "--env", "gridworld/frozenlake-4x4", "--state", "9,9", "--actions", "0"}, "--state"},
		{"rollout bad format", []string{"rollout", "--env", "physics/cartpole", "--actions", "0", "--format", "xml"}, "csv, json"},
		{"rollout bad map", []string{"rollout", "--env", "gridworld", "--map", badMap, "--actions", "0"}, "bad.map"},
		{"record no gif", []string{"record", "--env", "physics/cartpole"}, "--gif"},
		{"record bad episodes", []string{"record", "--env", "physics/cartpole", "--episodes", "0", "--gif", "x.gif"}, "--episodes"},
		{"train negative steps", []string{"train", "--steps", "-5", "--run-dir", dir + "/a"}, "--steps"},
		{"train unknown env", []string{"train", "--env", "nope", "--run-dir", dir + "/b"}, "(allowed: gridworld,"},
		{"train unknown dynamics", []string{"train", "--dynamics", "quantum", "--run-dir", dir + "/c"}, "gaussian, deterministic"},
		{"train bad risk", []string{"train", "--risk", "cvar:2", "--run-dir", dir + "/d"}, "--risk"},
		{"train bad planner", []string{"train", "--planner", "a-star", "--run-dir", dir + "/e"}, "cem, mppi"},
		{"train bad preset", []string{"train", "--preset", "huge", "--run-dir", dir + "/f"}, "default, debug"},
		{"train bad config", []string{"train", "--config", badCfg, "--run-dir", dir + "/g"}, "bad.yaml"},
		{"train resume missing dir", []string{"train", "--resume", "--run-dir", dir + "/missing"}, "missing"},
		{"train resume without dir", []string{"train", "--resume"}, "--run-dir"},
		{"eval missing run dir", []string{"eval", "--run-dir", dir + "/nothing"}, "nothing"},
		{"eval no run dir", []string{"eval"}, "--run-dir"},
		{"unknown flag", []string{"train", "--stepz", "3"}, "stepz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := oneLine(err)
			if !strings.Contains(msg, tt.mention) {
				t.Errorf("error %q does not mention %q", msg, tt.mention)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(msg, "goroutine") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	for _, sub := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err == nil {
			t.Errorf("a refused train created run dir %s", sub)
		}
	}
}
