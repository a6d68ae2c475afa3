package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/compare"
)

// compareTestConfig is a config file that shrinks the debug preset's
// budget to a few hundred steps with three evaluations.
const compareTestConfig = `steps: 160
seed_steps: 40
eval_every: 80
eval_episodes: 2
log_every: 40
checkpoint_every: 80
`

func TestCompareDebug(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(cfg, []byte(compareTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "cmp")
	stdout, err := run(t, "compare", "--preset", "debug", "--config", cfg, "--env", "gridworld/frozenlake-4x4",
		"--seeds", "2", "--parallel", "2", "--out", out, "--calibration-episodes", "1")
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, stdout)
	}
	for _, want := range []string{"comparing gaussian, deterministic on gridworld/frozenlake-4x4", "[4/4]",
		"deterministic: final return", "gaussian: final return", "significant at 0.05"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"gaussian-s0", "gaussian-s1", "deterministic-s0", "deterministic-s1"} {
		if _, err := os.Stat(filepath.Join(out, name, "config.json")); err != nil {
			t.Errorf("run %s: %v", name, err)
		}
	}
	// One line per finished run, with its final return and success rate
	// and their intervals.
	finished := regexp.MustCompile(`(?m)^\[[1-4]/4\] (gaussian|deterministic)-s([01]) finished in [0-9.]+m?s: 160 steps, final return \S+ \[\S+, \S+\], success \S+ \[\S+, \S+\], AUC \S+$`)
	runs := map[string]int{}
	for _, m := range finished.FindAllStringSubmatch(stdout, -1) {
		runs[m[1]+"-s"+m[2]]++
	}
	if len(runs) != 4 || runs["gaussian-s0"] != 1 || runs["gaussian-s1"] != 1 || runs["deterministic-s0"] != 1 || runs["deterministic-s1"] != 1 {
		t.Errorf("finished lines per run %v, want one for each of 4:\n%s", runs, stdout)
	}
	if n := checkSuccessIntervals(t, stdout); n != 4 {
		t.Errorf("%d success intervals, want 4:\n%s", n, stdout)
	}
	f, err := os.Open(filepath.Join(out, compare.CurvesPNG))
	if err != nil {
		t.Fatal(err)
	}
	_, err = png.Decode(f)
	f.Close()
	if err != nil {
		t.Errorf("curves.png: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(out, compare.SummaryMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gaussian", "deterministic", "final success"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, compare.CurvesCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+4*2 {
		t.Errorf("curves.csv has %d evaluations, want 8", len(recs)-1)
	}
	for _, rec := range recs[1:] {
		if rec[4] == "" {
			t.Errorf("FrozenLake has a goal, but a row has no success: %v", rec)
		}
	}

	// Merge the sweep's directory into another: the same summary.
	merged := filepath.Join(dir, "merged")
	stdout, err = run(t, "compare", "--merge", out, "--out", merged, "--calibration-episodes", "1")
	if err != nil {
		t.Fatalf("merge: %v\n%s", err, stdout)
	}
	a, _ := os.ReadFile(filepath.Join(out, compare.SummaryJSON))
	b, _ := os.ReadFile(filepath.Join(merged, compare.SummaryJSON))
	if !bytes.Equal(a, b) || len(a) == 0 {
		t.Errorf("merged summary.json differs:\n%s\n%s", a, b)
	}
	var s compare.Summary
	if err := json.Unmarshal(b, &s); err != nil || len(s.Arms) != 2 || !s.HasGoal {
		t.Errorf("summary.json: %v, %+v", err, s)
	}

	// A rerun with another budget refuses the existing runs.
	_, err = run(t, "compare", "--preset", "debug", "--config", cfg, "--env", "gridworld/frozenlake-4x4",
		"--seeds", "2", "--steps", "200", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "steps: 160 vs 200") {
		t.Errorf("rerun with other steps: %v", err)
	}
}

// TestCompareVary runs a sweep of two variants of the planner's horizon,
// checks that both are in its report, reruns it (nothing is trained
// again) and merges its run directories into the same summary.
func TestCompareVary(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(cfg, []byte(compareTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "cmp")
	args := []string{"compare", "--preset", "debug", "--config", cfg, "--env", "gridworld/frozenlake-4x4", "--dynamics", "deterministic",
		"--vary", "planner.horizon=2,1", "--seeds", "1", "--parallel", "2", "--out", out, "--calibration-episodes", "1"}
	stdout, err := run(t, args...)
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, stdout)
	}
	for _, want := range []string{"comparing planner.horizon=1, planner.horizon=2 × deterministic on gridworld/frozenlake-4x4: seed 0, 160 steps per run, 2 runs",
		"planner.horizon=1 deterministic: final return", "planner.horizon=2 deterministic: final return"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	finished := regexp.MustCompile(`(?m)^\[[12]/2\] (planner\.horizon=[12]_deterministic-s0) finished in [0-9.]+m?s: 160 steps, final return `)
	if m := finished.FindAllStringSubmatch(stdout, -1); len(m) != 2 || m[0][1] == m[1][1] {
		t.Errorf("want a finished line per variant:\n%s", stdout)
	}
	for _, h := range []string{"1", "2"} {
		c, err := agent.LoadConfig(filepath.Join(out, "planner.horizon="+h+"_deterministic-s0"))
		if err != nil || strconv.Itoa(c.Planner.Horizon) != h {
			t.Errorf("run of horizon %s: horizon %d, %v", h, c.Planner.Horizon, err)
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(readBytes(t, filepath.Join(out, compare.CurvesCSV)))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "env_steps,dynamics,seed,eval_return,success,variant" {
		t.Errorf("curves.csv header %s", got)
	}
	rows := map[string]int{}
	for _, rec := range recs[1:] {
		rows[rec[5]]++
	}
	if len(recs) != 1+2*2 || rows["planner.horizon=1"] != 2 || rows["planner.horizon=2"] != 2 {
		t.Errorf("curves.csv evaluations per variant %v, want 2 each", rows)
	}
	summary := readBytes(t, filepath.Join(out, compare.SummaryJSON))
	var s compare.Summary
	if err := json.Unmarshal(summary, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Arms) != 2 || s.Arms[0].Variant != "planner.horizon=1" || s.Arms[1].Variant != "planner.horizon=2" ||
		s.Arms[1].Dynamics != "deterministic" || len(s.Comparisons) != 1 || !slices.Equal(s.Varied, []string{"planner.horizon"}) {
		t.Errorf("summary.json: %+v", s)
	}
	if md := string(readBytes(t, filepath.Join(out, compare.SummaryMD))); !strings.Contains(md, "| planner.horizon | dynamics | final return |") ||
		!strings.Contains(md, "| 1 | deterministic | ") || !strings.Contains(md, "| 2 | deterministic | ") {
		t.Errorf("summary.md does not name the arms by key and value:\n%s", md)
	}

	// A rerun resumes: nothing is trained again, and the summary is the same.
	stdout, err = run(t, args...)
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, stdout)
	}
	if strings.Count(stdout, "already finished") != 2 || strings.Contains(stdout, "training ") {
		t.Errorf("the rerun trained:\n%s", stdout)
	}
	if again := readBytes(t, filepath.Join(out, compare.SummaryJSON)); !bytes.Equal(again, summary) {
		t.Errorf("the rerun's summary.json differs")
	}

	// A merge of the run directories derives the same variants.
	merged := filepath.Join(dir, "merged")
	stdout, err = run(t, "compare", "--merge", filepath.Join(out, "planner.horizon=1_deterministic-s0"),
		filepath.Join(out, "planner.horizon=2_deterministic-s0"), "--out", merged, "--calibration-episodes", "1")
	if err != nil {
		t.Fatalf("merge: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "merged 2 runs into "+merged+", varying planner.horizon") {
		t.Errorf("merge output:\n%s", stdout)
	}
	if b := readBytes(t, filepath.Join(merged, compare.SummaryJSON)); !bytes.Equal(b, summary) {
		t.Errorf("merged summary.json differs:\n%s\n%s", summary, b)
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompareBadFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		mention string
	}{
		{"shard out of range", []string{"--shard", "2/2"}, `--shard "2/2" is not valid (allowed: i/n with 0 ≤ i < n`},
		{"shard malformed", []string{"--shard", "half"}, `--shard "half"`},
		{"unknown env", []string{"--env", "nope"}, `--env "nope" is not valid (allowed: gridworld, `},
		{"unknown dynamics", []string{"--dynamics", "gaussian,quantum"}, `--dynamics: "quantum" is not valid: dynamics "quantum" (allowed: "gaussian", "deterministic", "mixture")`},
		{"empty dynamics", []string{"--dynamics", "gaussian,,deterministic"}, `--dynamics "gaussian,,deterministic"`},
		{"no seeds", []string{"--seeds", "0"}, "--seeds 0 is not valid (allowed: 1 to"},
		{"no parallel", []string{"--parallel", "0"}, "--parallel 0 is not valid (allowed: 1 to"},
		{"NaN threshold", []string{"--threshold", "NaN"}, "--threshold NaN is not valid (allowed: a finite return)"},
		{"infinite threshold", []string{"--threshold", "-Inf"}, "--threshold -Inf is not valid"},
		{"bad steps", []string{"--steps", "0"}, "--steps 0"},
		{"bad preset", []string{"--preset", "huge"}, "default, debug"},
		{"bad plan-with", []string{"--plan-with", "dreams"}, "samples, mean"},
		{"bad risk", []string{"--risk", "cvar:2"}, "--risk"},
		{"bad calibration episodes", []string{"--calibration-episodes", "0"}, "--calibration-episodes 0"},
		{"argument without merge", []string{dir}, "only with --merge"},
		{"merge with env", []string{"--merge", dir, "--out", dir, "--env", "physics/cartpole"}, "--env cannot be used with --merge"},
		{"merge without dirs", []string{"--merge", "--out", dir}, "at least one directory"},
		{"merge without out", []string{"--merge", dir}, "--merge needs --out"},
		{"merge of nothing", []string{"--merge", dir, "--out", dir}, "no finished run"},
		{"merge with vary", []string{"--merge", dir, "--out", dir, "--vary", "planner.horizon=1,2"}, "--vary cannot be used with --merge"},
		{"vary without =", []string{"--vary", "planner.horizon"}, `--vary "planner.horizon" is not valid: no "=" (allowed: KEY=V1,V2,… such as planner.horizon=1,3,5)`},
		{"vary without values", []string{"--vary", "planner.horizon="}, `--vary "planner.horizon=" is not valid: planner.horizon has no values`},
		{"vary empty value", []string{"--vary", "planner.horizon=1,,3"}, "planner.horizon has an empty value"},
		{"vary value with a slash", []string{"--vary", "obs=pixels/state"}, `value "pixels/state" holds a path separator`},
		{"vary seed", []string{"--vary", "seed=1,2"}, "seed cannot be varied: every arm runs the seeds 0…N−1 (use --seeds)"},
		{"vary dynamics", []string{"--vary", "model.dynamics=gaussian,mixture"}, "model.dynamics cannot be varied here (use --dynamics"},
		{"vary env", []string{"--vary", "env=physics/cartpole"}, "env cannot be varied: a comparison runs on one environment"},
		{"vary map", []string{"--vary", "map=a.map,b.map"}, "map cannot be varied"},
		{"vary key twice", []string{"--vary", "planner.horizon=1", "--vary", "planner.horizon=2"}, "--vary: planner.horizon is given twice"},
		{"vary unknown key", []string{"--vary", "planner.horizn=1,2"}, `--vary: unknown key "planner.horizn" (allowed: a dotted key of a config file, such as planner.horizon`},
		{"vary section", []string{"--vary", "planner=1,2"}, `--vary: unknown key "planner" (allowed: a dotted key of a config file, such as planner.`},
		{"vary wrong type", []string{"--vary", "planner.horizon=1,two"}, `--vary: planner.horizon "two" is not valid: cannot unmarshal string`},
		{"vary same config", []string{"--vary", "explore=0.10,0.1"}, "--vary: explore=0.10 and explore=0.1 resolve to the same config"},
		{"vary invalid config", []string{"--vary", "planner.horizon=1,-1"}, "--vary: planner.horizon=-1: bad config: planner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"compare"}, tt.args...)
			if tt.args[0] != "--merge" {
				args = append(args, "--out", filepath.Join(dir, "out"))
			}
			_, err := run(t, args...)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := oneLine(err); !strings.Contains(msg, tt.mention) {
				t.Errorf("error %q does not mention %q", msg, tt.mention)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("a refused compare created its output directory")
	}
}
