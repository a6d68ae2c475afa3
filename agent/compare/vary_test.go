package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
)

func TestParseVary(t *testing.T) {
	cases := []struct {
		in   string
		want Vary
		err  string // part of the error; empty for none
	}{
		{"planner.horizon=1,3,5", Vary{"planner.horizon", []string{"1", "3", "5"}}, ""},
		{" planner.risk = mean, cvar:0.1 ", Vary{"planner.risk", []string{"mean", "cvar:0.1"}}, ""},
		{"explore=0.1", Vary{"explore", []string{"0.1"}}, ""},
		{"planner.horizon", Vary{}, `no "=" (allowed: KEY=V1,V2,…`},
		{"=1,2", Vary{}, `no key before "="`},
		{"planner.horizon=", Vary{}, "planner.horizon has no values"},
		{"planner.horizon=1,,3", Vary{}, "planner.horizon has an empty value"},
		{"planner.horizon=1,3,1", Vary{}, `value "1" is given twice`},
		{"model.encoder=a/b", Vary{}, `value "a/b" holds a path separator`},
		{"seed=1,2", Vary{}, "seed cannot be varied: every arm runs the seeds 0…N−1 (use --seeds)"},
		{"model.dynamics=gaussian,mixture", Vary{}, "model.dynamics cannot be varied here (use --dynamics"},
		{"env=physics/cartpole,physics/pendulum", Vary{}, "env cannot be varied: a comparison runs on one environment"},
		{"map=a.map,b.map", Vary{}, "map cannot be varied"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseVary(c.in)
			if c.err == "" {
				if err != nil || !reflect.DeepEqual(got, c.want) {
					t.Errorf("ParseVary(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrVary) || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseVary(%q) error %v, want one line wrapping ErrVary that mentions %q", c.in, err, c.err)
			}
		})
	}
	// Values cannot hold "," when built directly either.
	err := Vary{Key: "planner.risk", Values: []string{"cvar:0.1,0.2"}}.Check()
	if err == nil || !strings.Contains(err.Error(), `"cvar:0.1,0.2" holds ","`) {
		t.Errorf("a value with a comma: %v", err)
	}
}

// varyBase is the config the variant tests vary: the debug preset on
// CartPole with every budget set, before defaults.
func varyBase(t *testing.T) agent.Config {
	t.Helper()
	return testSweep(t, t.TempDir()).Config
}

func TestVariants(t *testing.T) {
	frames := strconv.Itoa(agent.FrameStackFor("pixels", envs.Traits{}))
	cases := []struct {
		name   string
		vary   []Vary
		labels []string
		err    string // part of the error; empty for none
	}{
		{"none", nil, nil, ""},
		{"one key", []Vary{{"planner.horizon", []string{"5", "1", "3"}}},
			[]string{"planner.horizon=1", "planner.horizon=3", "planner.horizon=5"}, ""},
		{"two keys, sorted", []Vary{{"planner.horizon", []string{"3", "1"}}, {"model.frame_stack", []string{"1", "2"}}},
			// encoder_hidden follows frame_stack (agent.EncoderHiddenFor).
			[]string{"model.encoder_hidden=-1,model.frame_stack=1,planner.horizon=1", "model.encoder_hidden=-1,model.frame_stack=1,planner.horizon=3",
				"model.encoder_hidden=128,model.frame_stack=2,planner.horizon=1", "model.encoder_hidden=128,model.frame_stack=2,planner.horizon=3"}, ""},
		{"values read back from the config", []Vary{{"explore", []string{"0.10", "0.2"}}},
			[]string{"explore=0.1", "explore=0.2"}, ""},
		// q_quantiles follows the risk (agent.QuantilesFor).
		{"a string", []Vary{{"planner.risk", []string{"mean", "cvar:0.1"}}},
			[]string{"model.q_quantiles=0,planner.risk=mean", "model.q_quantiles=16,planner.risk=cvar:0.1"}, ""},
		// explore_steps defaults to steps/2: it follows.
		{"a derived default follows", []Vary{{"steps", []string{"400", "240"}}},
			[]string{"explore_steps=120,steps=240", "explore_steps=200,steps=400"}, ""},
		{"one value is no variant", []Vary{{"planner.horizon", []string{"2"}}}, []string{""}, ""},
		{"one value beside others", []Vary{{"planner.horizon", []string{"2"}}, {"model.frame_stack", []string{"1", "2"}}},
			[]string{"model.encoder_hidden=-1,model.frame_stack=1", "model.encoder_hidden=128,model.frame_stack=2"}, ""},
		{"same value twice", []Vary{{"explore", []string{"0.10", "0.1"}}}, nil,
			"explore=0.10 and explore=0.1 resolve to the same config"},
		{"a value and the default", []Vary{{"model.frame_stack", []string{"0", frames}}}, nil,
			"model.frame_stack=0 and model.frame_stack=" + frames + " resolve to the same config"},
		{"key twice", []Vary{{"planner.horizon", []string{"1"}}, {"planner.horizon", []string{"3"}}}, nil,
			"planner.horizon is given twice (allowed: each key once"},
		{"unknown key", []Vary{{"planner.horizn", []string{"1", "2"}}}, nil, `unknown key "planner.horizn" (allowed: a dotted key of a config file, such as planner.horizon`},
		{"section", []Vary{{"model", []string{"1", "2"}}}, nil, `unknown key "model"`},
		{"wrong type", []Vary{{"planner.horizon", []string{"1", "two"}}}, nil, `planner.horizon "two" is not valid`},
		{"invalid config", []Vary{{"planner.horizon", []string{"1", "-1"}}}, nil, "planner.horizon=-1: bad config: planner"},
		{"fixed key", []Vary{{"seed", []string{"1", "2"}}}, nil, "seed cannot be varied"},
		{"no values", []Vary{{"explore", nil}}, nil, "explore has no values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs, err := Variants(varyBase(t), c.vary)
			if c.err != "" {
				if err == nil || !errors.Is(err, ErrVary) || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %v, want one line wrapping ErrVary that mentions %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, v := range vs {
				labels = append(labels, v.Label)
				if !reflect.DeepEqual(v.Config, v.Config.WithDefaults()) {
					t.Errorf("variant %s: config not resolved", v.Label)
				}
			}
			if !slices.Equal(labels, c.labels) {
				t.Errorf("labels %q, want %q", labels, c.labels)
			}
		})
	}
}

// A sweep's jobs and their configs follow its variants, and a variant
// whose label does not derive from the configs is refused.
func TestSweepVariantJobs(t *testing.T) {
	s := testSweep(t, t.TempDir())
	var err error
	if s.Variants, err = Variants(s.Config, []Vary{{"planner.horizon", []string{"1", "2"}}}); err != nil {
		t.Fatal(err)
	}
	s.Dynamics = []string{"deterministic"}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range s.Jobs() {
		names = append(names, j.Name())
		if h, want := s.JobConfig(j).Planner.Horizon, int(j.Variant[len(j.Variant)-1]-'0'); h != want {
			t.Errorf("%s: horizon %d, want %d", j.Name(), h, want)
		}
	}
	want := []string{"planner.horizon=1_deterministic-s0", "planner.horizon=1_deterministic-s1",
		"planner.horizon=2_deterministic-s0", "planner.horizon=2_deterministic-s1"}
	if !slices.Equal(names, want) {
		t.Errorf("jobs %q, want %q", names, want)
	}
	s.Shard = Shard{Index: 1, Count: 2}
	if got := len(s.Jobs()); got != 2 {
		t.Errorf("shard 1/2 has %d jobs, want 2", got)
	}

	bad := s
	bad.Variants = slices.Clone(s.Variants)
	bad.Variants[1].Label = "planner.horizon=7"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `variant "planner.horizon=7" is labelled otherwise than its config, "planner.horizon=2"`) {
		t.Errorf("mislabelled variant: %v", err)
	}
	bad.Variants = slices.Clone(s.Variants)
	bad.Variants[1].Config.Env = "physics/pendulum"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "the variants differ in env, and env cannot be varied") {
		t.Errorf("variants in two environments: %v", err)
	}
}

// fakeRun writes a finished run directory without training: its config,
// a checkpoint file at its budget, an evaluation every 80 steps
// returning ret·steps/budget, and its stored calibration.
func fakeRun(t *testing.T, dir string, cfg agent.Config, ret float64) {
	t.Helper()
	cfg = cfg.WithDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	metrics := "kind,env_steps,eval_return,success\n"
	for s := 80; s <= cfg.Steps; s += 80 {
		metrics += fmt.Sprintf("eval,%d,%g,\n", s, ret*float64(s)/float64(cfg.Steps))
	}
	cal, _ := json.Marshal(calibrationRecord{EnvSteps: cfg.Steps, Episodes: 1, FirstSeed: HeldOutSeed, Calibration: Calibration{N: 10}})
	for name, content := range map[string][]byte{
		agent.ConfigFile:                       data,
		agent.MetricsFile:                      []byte(metrics),
		fmt.Sprintf("ckpt-%d.ckpt", cfg.Steps): nil,
		CalibrationFile:                        cal,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A merge derives the varied keys and each run's variant from the run
// configs, as the sweep labels them, and refuses runs of two
// environments.
func TestCollectRunsVariants(t *testing.T) {
	base := varyBase(t)
	vs, err := Variants(base, []Vary{{"planner.horizon", []string{"10", "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := Sweep{Config: base, Variants: vs, Dynamics: []string{"deterministic"}, Seeds: 2}
	root := t.TempDir()
	for _, j := range s.Jobs() {
		fakeRun(t, filepath.Join(root, j.Name()), s.JobConfig(j), float64(len(j.Variant))+float64(j.Seed))
	}
	runs, skipped, err := CollectRuns([]string{root}, 1)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("CollectRuns: %v (skipped %v)", err, skipped)
	}
	var jobs []Job
	for _, r := range runs {
		jobs = append(jobs, r.Job)
	}
	if !slices.Equal(jobs, s.Jobs()) {
		t.Errorf("merged jobs %v, want the sweep's %v", jobs, s.Jobs())
	}
	sum, err := Analyze(runs, Analysis{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.Varied, []string{"planner.horizon"}) || len(sum.Arms) != 2 ||
		sum.Arms[0].Name != "planner.horizon=2 deterministic" || sum.Arms[0].Variant != "planner.horizon=2" || sum.Arms[0].Dynamics != "deterministic" ||
		sum.Arms[1].Name != "planner.horizon=10 deterministic" {
		t.Errorf("summary varies %v with arms %+v", sum.Varied, sum.Arms)
	}
	out := t.TempDir()
	if err := WriteReport(out, runs, sum); err != nil {
		t.Fatal(err)
	}
	curves := readCSV(t, filepath.Join(out, CurvesCSV))
	if want := []string{"env_steps", "dynamics", "seed", "eval_return", "success", "variant"}; !reflect.DeepEqual(curves[0], want) {
		t.Errorf("curves.csv header %v, want %v", curves[0], want)
	}
	if got := curves[1]; got[1] != "deterministic" || got[5] != "planner.horizon=2" {
		t.Errorf("curves.csv first row %v", got)
	}
	md := string(readFile(t, filepath.Join(out, SummaryMD)))
	for _, want := range []string{"# physics/cartpole: planner.horizon=2 deterministic vs planner.horizon=10 deterministic",
		"Varied: planner.horizon;", "| planner.horizon | dynamics | final return | AUC |", "|---|---|---|---|",
		"| 2 | deterministic | 17.5 [17, 18] |", "| 10 | deterministic | 0: 240, 1: 240 |", "| 10 | deterministic | 20 | 0 |",
		"planner.horizon=10 deterministic had the higher AUC than planner.horizon=2 deterministic"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	if v := (Comparison{A: sum.Arms[0].Name, B: sum.Arms[1].Name}).Verdict(0.05); !strings.HasSuffix(v, "fewer than 2 seeds per arm.") {
		t.Errorf("verdict %q", v)
	}
	var doc struct {
		Varied []string         `json:"varied"`
		Arms   []map[string]any `json:"dynamics"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(out, SummaryJSON)), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Arms) != 2 || doc.Arms[1]["variant"] != "planner.horizon=10" || doc.Arms[1]["dynamics"] != "deterministic" || doc.Arms[1]["name"] != "planner.horizon=10 deterministic" {
		t.Errorf("summary.json arms %v", doc.Arms)
	}

	// A run of the same variant, dynamics and seed in another directory.
	twice := t.TempDir()
	j := s.Jobs()[0]
	fakeRun(t, filepath.Join(twice, "copy"), s.JobConfig(j), 1)
	if _, _, err := CollectRuns([]string{root, twice}, 1); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "run "+j.Name()+" is in both") {
		t.Errorf("a run twice: %v", err)
	}
	// A run in another environment.
	other := t.TempDir()
	cfg := s.JobConfig(j)
	cfg.Env = "physics/pendulum"
	fakeRun(t, filepath.Join(other, "pendulum"), cfg, 1)
	_, _, err = CollectRuns([]string{root, other}, 1)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `env: "physics/cartpole" vs "physics/pendulum"`) ||
		!strings.Contains(err.Error(), "a comparison runs on one environment") || strings.Contains(err.Error(), "\n") {
		t.Errorf("two environments: %v", err)
	}
}

// Without variants the report's files keep their format.
func TestReportWithoutVariants(t *testing.T) {
	base := varyBase(t)
	root := t.TempDir()
	for _, d := range []string{"gaussian", "deterministic"} {
		cfg := base
		cfg.Model.Dynamics = d
		fakeRun(t, filepath.Join(root, Job{Dynamics: d}.Name()), cfg, 1)
	}
	runs, _, err := CollectRuns([]string{root}, 1)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Analyze(runs, Analysis{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := WriteReport(out, runs, sum); err != nil {
		t.Fatal(err)
	}
	if h := readCSV(t, filepath.Join(out, CurvesCSV))[0]; !reflect.DeepEqual(h, []string{"env_steps", "dynamics", "seed", "eval_return", "success"}) {
		t.Errorf("curves.csv header %v", h)
	}
	md := string(readFile(t, filepath.Join(out, SummaryMD)))
	for _, want := range []string{"# physics/cartpole: deterministic vs gaussian\n", "| dynamics | final return | AUC |", "\n|---|---|---|---|---|\n",
		"| deterministic | 1 [1, 1] |", "| dynamics | seed: steps |\n|---|---|\n", "| dynamics | transitions | NLL per dim |", "per dynamics."} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Varied") {
		t.Errorf("summary.md names variants:\n%s", md)
	}
	data := string(readFile(t, filepath.Join(out, SummaryJSON)))
	if strings.Contains(data, `"variant"`) || strings.Contains(data, `"varied"`) || !strings.Contains(data, `"name": "deterministic",`) {
		t.Errorf("summary.json:\n%s", data)
	}
}
