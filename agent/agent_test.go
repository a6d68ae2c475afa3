package agent

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// debugConfig is the debug preset on an environment with a small budget.
func debugConfig(t *testing.T, env string, steps int) Config {
	t.Helper()
	cfg, err := Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env = env
	cfg.Steps = steps
	cfg.SeedSteps = min(cfg.SeedSteps, steps/2)
	cfg.EvalEvery = steps / 2
	cfg.EvalEpisodes = 2
	cfg.LogEvery = 50
	cfg.CheckpointEvery = steps / 4
	return cfg
}

func readMetrics(t *testing.T, dir string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestTrainSmoke(t *testing.T) {
	for _, env := range []string{"gridworld/frozenlake-4x4", "physics/pendulum"} {
		t.Run(env, func(t *testing.T) {
			dir := t.TempDir()
			run, err := New(debugConfig(t, env, 400), dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := run.Train(context.Background()); err != nil {
				t.Fatal(err)
			}
			if run.EnvSteps() != 400 {
				t.Errorf("env steps %d, want 400", run.EnvSteps())
			}
			if run.st.GradSteps == 0 {
				t.Errorf("no gradient steps taken")
			}
			ev := run.LastEval()
			if ev.Steps != 400 || ev.Episodes != 2 || math.IsNaN(ev.Return) {
				t.Errorf("last eval %+v", ev)
			}
			recs := readMetrics(t, dir)
			if len(recs) < 3 {
				t.Fatalf("metrics.csv has %d rows", len(recs))
			}
			last := recs[len(recs)-1]
			if last[0] != "eval" || last[1] != "400" {
				t.Errorf("last metrics row %v", last)
			}
			ck, _ := Checkpoints(dir)
			if len(ck) == 0 || filepath.Base(ck[len(ck)-1]) != checkpointName(400) {
				t.Errorf("checkpoints %v", ck)
			}
			if _, err := New(debugConfig(t, env, 400), dir); !errors.Is(err, ErrRunDir) {
				t.Errorf("a fresh run in a non-empty directory: err = %v, want ErrRunDir", err)
			}
		})
	}
}

// trainUntilInterrupted trains run and cancels it once it has taken at
// least steps environment steps; Train must then return ErrInterrupted.
func trainUntilInterrupted(t *testing.T, run *Run, steps int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run.Progress = func(s Status) {
		if s.EnvSteps >= steps {
			cancel()
		}
	}
	if err := run.Train(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Train after cancel: %v, want ErrInterrupted", err)
	}
}

func TestInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	cfg := debugConfig(t, "gridworld/frozenlake-4x4", 600)
	run, err := New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	trainUntilInterrupted(t, run, 250)
	stopped := run.EnvSteps()
	held := run.Buffer().Len()
	grads := run.st.GradSteps
	if stopped < 250 || stopped >= 600 {
		t.Fatalf("stopped at %d", stopped)
	}
	rows := len(readMetrics(t, dir))

	resumed, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.EnvSteps() != stopped || resumed.Buffer().Len() != held || resumed.st.GradSteps != grads {
		t.Fatalf("resumed at step %d with %d transitions and %d gradient steps, want %d, %d, %d",
			resumed.EnvSteps(), resumed.Buffer().Len(), resumed.st.GradSteps, stopped, held, grads)
	}
	if resumed.Model().Steps() != run.Model().Steps() {
		t.Errorf("model steps %d, want %d", resumed.Model().Steps(), run.Model().Steps())
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resumed.EnvSteps() != 600 {
		t.Errorf("finished at %d, want 600", resumed.EnvSteps())
	}
	if resumed.Buffer().Len() <= held {
		t.Errorf("buffer did not grow after resume: %d", resumed.Buffer().Len())
	}
	recs := readMetrics(t, dir)
	if len(recs) <= rows {
		t.Errorf("metrics did not continue: %d rows, had %d", len(recs), rows)
	}
	prev := -1
	for _, rec := range recs[1:] {
		n, _ := strconv.Atoi(rec[1])
		if n < prev {
			t.Errorf("metrics steps go back: %d after %d", n, prev)
		}
		prev = n
	}
}

func TestFailedCheckpointKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	run, err := New(debugConfig(t, "gridworld/frozenlake-4x4", 200), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	ck, _ := Checkpoints(dir)
	good := ck[len(ck)-1]
	before, _ := os.ReadFile(good)
	run.FailAfterBytes = 1000
	if err := run.Checkpoint(); err == nil {
		t.Fatal("checkpoint with a failing writer succeeded")
	}
	after, _ := os.ReadFile(good)
	if string(before) != string(after) {
		t.Error("the previous checkpoint changed")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".ckpt" && filepath.Ext(e.Name()) != ".json" && filepath.Ext(e.Name()) != ".csv" {
			t.Errorf("left behind %s", e.Name())
		}
	}
	if _, err := Open(dir); err != nil {
		t.Errorf("open after a failed write: %v", err)
	}
}

// A process killed between a checkpoint's write and the removal of the
// oldest leaves one checkpoint too many; the next write must not add to
// it, or repeated kills would fill the run directory.
func TestCheckpointRemovesLeftovers(t *testing.T) {
	run, dir := trained(t, "gridworld/frozenlake-4x4", 200, nil)
	ck, _ := Checkpoints(dir)
	if len(ck) != run.Config().KeepCheckpoints {
		t.Fatalf("%d checkpoints after training, want %d", len(ck), run.Config().KeepCheckpoints)
	}
	data, _ := os.ReadFile(ck[len(ck)-1])
	for _, n := range []int{1, 2} { // two leftovers older than every kept one
		if err := os.WriteFile(filepath.Join(dir, checkpointName(n)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run.FailAfterBytes = 1000
	if err := run.Checkpoint(); err == nil {
		t.Fatal("checkpoint with a failing writer succeeded")
	}
	after, _ := Checkpoints(dir)
	if len(after) != len(ck) || after[0] != ck[0] {
		t.Errorf("after a failed write: %v, want %v", after, ck)
	}
	run.FailAfterBytes = 0
	if err := run.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if after, _ = Checkpoints(dir); len(after) != run.Config().KeepCheckpoints {
		t.Errorf("after a write: %v, want %d checkpoints", after, run.Config().KeepCheckpoints)
	}
}

func TestCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	run, err := New(debugConfig(t, "gridworld/frozenlake-4x4", 200), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	ck, _ := Checkpoints(dir)
	path := ck[len(ck)-1]
	data, _ := os.ReadFile(path)
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated", data[:len(data)/2]},
		{"flipped byte", func() []byte { d := append([]byte(nil), data...); d[len(d)/3] ^= 0x40; return d }()},
		{"empty", nil},
		{"other version", func() []byte { d := append([]byte(nil), data...); d[8] = 99; return d }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			if !errors.Is(err, ErrCheckpoint) {
				t.Errorf("Open: %v, want ErrCheckpoint", err)
			}
		})
	}
}

func TestNonFiniteBatchIsSkipped(t *testing.T) {
	dir := t.TempDir()
	cfg := debugConfig(t, "gridworld/frozenlake-4x4", 400)
	cfg.MaxBadSteps = 5
	run, err := New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	inject := false
	run.corruptBatch = func(b *worldmodel.Batch) {
		if inject {
			b.Rewards[0] = float32(math.NaN())
		}
	}
	run.Progress = func(s Status) { inject = s.EnvSteps >= 300 }
	err = run.Train(context.Background())
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("Train with NaN batches: %v, want ErrNonFinite", err)
	}
	if run.st.SkippedSteps < cfg.MaxBadSteps {
		t.Errorf("skipped %d steps, want at least %d", run.st.SkippedSteps, cfg.MaxBadSteps)
	}
	// The checkpoints on disk hold finite weights: reopen and act.
	r2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev := r2.Evaluate(1, 1, nil)
	if math.IsNaN(ev.Return) {
		t.Error("evaluation after reload returned NaN")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"unknown env", func(c *Config) { c.Env = "gridworld/nope" }},
		{"bad obs", func(c *Config) { c.Obs = "rgb" }},
		{"negative steps", func(c *Config) { c.Steps = -5 }},
		{"bad plan_with", func(c *Config) { c.PlanWith = "median" }},
		{"map without gridworld", func(c *Config) { c.Map = "x.map" }},
		{"gridworld without map", func(c *Config) { c.Env = "gridworld" }},
		{"bad explore", func(c *Config) { c.Explore = 2 }},
		{"negative explore_directed", func(c *Config) { c.ExploreDirected = -0.1 }},
		{"explore_discount 1", func(c *Config) { c.ExploreDiscount = 1 }},
		{"lr_final above 1", func(c *Config) { c.LRFinal = 1.5 }},
		{"negative lr_final", func(c *Config) { c.LRFinal = -0.1 }},
		{"negative explore_discount", func(c *Config) { c.ExploreDiscount = -0.5 }},
		{"bad dynamics", func(c *Config) { c.Model.Dynamics = "quantum" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			tt.mod(&c)
			if err := c.Validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("Validate: %v, want ErrConfig", err)
			}
		})
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	base, _ := Preset("debug")
	c, err := ParseConfig([]byte("env: physics/cartpole\nsteps: 123\nmodel:\n  dynamics: deterministic\n"), false, base)
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "physics/cartpole" || c.Steps != 123 || c.Model.Dynamics != "deterministic" || c.BatchSize != base.BatchSize {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range []string{"stepz: 3\n", "steps: many\n", "model:\n  latent: 3\n", "[1, 2"} {
		if _, err := ParseConfig([]byte(bad), false, base); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseConfig(%q): %v, want ErrConfig", bad, err)
		}
	}
	if _, err := ParseConfig([]byte(`{"env": "x", "bogus": 1}`), true, base); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown JSON key accepted: %v", err)
	}
}

// TestConfigFileErrors checks that a bad value in a config file, whether
// the file's parser or the config's validation finds it, is a one-line
// error wrapping ErrConfig that names the key and what it allows.
func TestConfigFileErrors(t *testing.T) {
	base, _ := Preset("debug")
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"bad risk", "planner:\n  risk: cvar:2\n", []string{`risk "cvar:2"`, "cvar:α"}},
		{"unknown risk", "planner:\n  risk: median\n", []string{`risk "median"`, "allowed"}},
		{"bad q_quantiles", "model:\n  value_target: q\n  q_quantiles: 1\n", []string{"q_quantiles 1", "2 to 64"}},
		{"q_quantiles without q", "model:\n  value_target: lambda\n  q_quantiles: 8\n", []string{"q_quantiles 8", `value_target "q"`}},
		{"bad q_quantile_kappa", "model:\n  q_quantile_kappa: -1\n", []string{"q_quantile_kappa -1", "allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.doc), false, base)
			if err == nil {
				err = c.Validate()
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v, want ErrConfig", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line containing %q", msg, w)
				}
			}
		})
	}
	c, err := ParseConfig([]byte("model:\n  value_target: q\n  q_quantiles: 16\n  q_quantile_kappa: 0.05\nplanner:\n  risk: cvar:0.1\n"), false, base)
	if err != nil || c.Validate() != nil || c.Model.QQuantiles != 16 || c.Model.QQuantileKappa != 0.05 || c.Planner.Risk.Level != 0.1 {
		t.Errorf("a good config file: %+v, %v, %v", c.Model, err, c.Validate())
	}
}

// TestEnvironmentDefaults checks the settings whose defaults depend on
// what the environment declares (rules.go), and that a config's own value
// wins: frame_stack and encoder_hidden by whether a frame shows the whole
// state, and the one planning horizon.
func TestEnvironmentDefaults(t *testing.T) {
	fields := map[string]func(c *Config) *int{
		"frame_stack":    func(c *Config) *int { return &c.Model.FrameStack },
		"encoder_hidden": func(c *Config) *int { return &c.Model.EncoderHidden },
		"horizon":        func(c *Config) *int { return &c.Planner.Horizon },
	}
	for _, c := range []struct {
		key, env, obs string // obs "" is pixels, the default
		set, want     int
	}{
		{"frame_stack", "physics/cartpole", "pixels", 0, 3},
		{"frame_stack", "physics/pendulum", "", 0, 3},
		{"frame_stack", "physics/cartpole", "state", 0, 1},
		{"frame_stack", "gridworld/frozenlake-4x4", "pixels", 0, 1},
		{"frame_stack", "physics/cartpole", "pixels", 2, 2},

		{"encoder_hidden", "physics/pendulum", "", 0, 128},
		{"encoder_hidden", "physics/pendulum-gusty", "pixels", 0, 128},
		{"encoder_hidden", "physics/pendulum", "state", 0, -1},
		{"encoder_hidden", "physics/cartpole", "pixels", 0, 128},
		{"encoder_hidden", "physics/cartpole", "pixels", -1, -1},
		{"encoder_hidden", "physics/cartpole", "state", 0, -1},
		{"encoder_hidden", "gridworld/frozenlake-4x4", "pixels", 0, -1},
		{"encoder_hidden", "physics/pendulum", "pixels", 64, 64},

		{"horizon", "gridworld/frozenlake-4x4", "pixels", 0, DefaultHorizon},
		{"horizon", "gridworld/frozenlake-8x8", "state", 0, DefaultHorizon},
		{"horizon", "physics/pendulum", "", 0, DefaultHorizon},
		{"horizon", "physics/cartpole", "state", 0, DefaultHorizon},
		{"horizon", "physics/pendulum", "pixels", 5, 5},
		{"horizon", "gridworld/frozenlake-4x4", "pixels", 3, 3},
	} {
		cfg, err := Preset("default")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Env, cfg.Obs = c.env, c.obs
		*fields[c.key](&cfg) = c.set
		got := cfg.WithDefaults()
		if v := *fields[c.key](&got); v != c.want {
			t.Errorf("%s, obs %q, %s %d: %d, want %d", c.env, c.obs, c.key, c.set, v, c.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s, obs %q, %s %d: %v", c.env, c.obs, c.key, c.set, err)
		}
	}
}

// TestValueDefaults checks the defaults of exploration and value learning
// by the environment's traits, and that a config's own value wins: with
// finitely many states directed exploration, the expectile value, the
// falling learning rate, the averaged weights, the advantage form of q
// (with an action value) and the value weight; the time limit's
// discount.
func TestValueDefaults(t *testing.T) {
	fields := map[string]func(c *Config) *float64{
		"explore_directed": func(c *Config) *float64 { return &c.ExploreDirected },
		"explore":          func(c *Config) *float64 { return &c.Explore },
		"lr_final":         func(c *Config) *float64 { return &c.LRFinal },
		"value_expectile":  func(c *Config) *float64 { return &c.Model.ValueExpectile },
		"discount":         func(c *Config) *float64 { return &c.Model.Discount },
		"planner.discount": func(c *Config) *float64 { return &c.Planner.Discount },
		"explore_discount": func(c *Config) *float64 { return &c.ExploreDiscount },
		"average_tau":      func(c *Config) *float64 { return &c.Model.AverageTau },
		"value_weight":     func(c *Config) *float64 { return &c.Model.ValueWeight },
	}
	for _, c := range []struct {
		key, env  string
		set, want float64
		lambda    bool // value_target lambda
	}{
		{"explore_directed", "gridworld/frozenlake-4x4", 0, 0.3, false},
		{"explore_directed", "gridworld/frozenlake-8x8", -1, -1, false},
		{"explore_directed", "gridworld/frozenlake-8x8", 0.05, 0.05, false},
		{"explore_directed", "physics/cartpole", 0, 0, false},
		{"explore_directed", "physics/cartpole", 0.2, 0.2, false},
		{"explore", "gridworld/frozenlake-4x4", 0, 0.1, false},
		{"explore", "physics/pendulum", 0, 0.5, false},
		{"explore", "physics/pendulum", 0.2, 0.2, false},
		{"lr_final", "gridworld/frozenlake-4x4", 0, 0.1, false},
		{"lr_final", "physics/pendulum", 0, 1, false},
		{"lr_final", "physics/pendulum", 0.5, 0.5, false},
		{"value_expectile", "gridworld/frozenlake-8x8", 0, 0.7, false},
		{"value_expectile", "physics/cartpole", 0, 0, false},
		{"value_expectile", "gridworld/frozenlake-8x8", -1, -1, false},
		{"value_expectile", "gridworld/frozenlake-4x4", 0, 0, true},
		{"discount", "gridworld/frozenlake-8x8", 0, 0.995, false},
		{"planner.discount", "gridworld/frozenlake-8x8", 0, 0.995, false},
		{"discount", "gridworld/frozenlake-8x8", 0.99, 0.99, false},
		{"discount", "gridworld/frozenlake-4x4", 0, 0.99, false},
		{"planner.discount", "physics/cartpole", 0, 0.99, false},
		{"discount", "gridworld/windy", 0, 0.995, false},
		{"explore_discount", "gridworld/frozenlake-4x4", 0, 0.9, false},
		{"average_tau", "gridworld/frozenlake-8x8", 0, 0.9998, false},
		{"average_tau", "gridworld/frozenlake-4x4", 0, 0.9998, true},
		{"average_tau", "gridworld/frozenlake-8x8", -1, -1, false},
		{"average_tau", "physics/cartpole", 0, 0, false},
		{"average_tau", "physics/cartpole", 0.999, 0.999, false},
		{"value_weight", "gridworld/frozenlake-8x8", 0, 50, false},
		{"value_weight", "gridworld/frozenlake-4x4", 0, 50, false},
		{"value_weight", "gridworld/frozenlake-8x8", 2, 2, false},
		{"value_weight", "gridworld/frozenlake-4x4", 0, 1, true},
		{"value_weight", "physics/cartpole", 0, 1, false},
	} {
		cfg, err := Preset("default")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Env = c.env
		if c.lambda {
			cfg.Model.ValueTarget = worldmodel.ValueLambda
		}
		if c.set != 0 { // 0: what the preset has
			*fields[c.key](&cfg) = c.set
		}
		got := cfg.WithDefaults()
		if v := *fields[c.key](&got); v != c.want {
			t.Errorf("%s, %s %g: %g, want %g", c.env, c.key, c.set, v, c.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s, %s %g: %v", c.env, c.key, c.set, err)
		}
	}

	// The advantage form of q, where the model has a q.
	for _, c := range []struct {
		env, set, want string
		lambda         bool // value_target lambda
	}{
		{"gridworld/frozenlake-8x8", "", worldmodel.QHeadAdvantage, false},
		{"physics/pendulum", "", worldmodel.QHeadDirect, false},
		{"gridworld/frozenlake-8x8", worldmodel.QHeadDirect, worldmodel.QHeadDirect, false},
		{"gridworld/frozenlake-4x4", "", worldmodel.QHeadDirect, true},
	} {
		cfg, err := Preset("default")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Env = c.env
		if c.set != "" { // "": what the preset has
			cfg.Model.QHead = c.set
		}
		if c.lambda {
			cfg.Model.ValueTarget = worldmodel.ValueLambda
		}
		got := cfg.WithDefaults()
		if got.Model.QHead != c.want {
			t.Errorf("%s, q_head %q (lambda %v): %q, want %q", c.env, c.set, c.lambda, got.Model.QHead, c.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s, q_head %q: %v", c.env, c.set, err)
		}
	}
}

// TestLRSchedule checks the learning rate's linear fall from the end of
// the seed steps to lr_final at the last step, and that a run's model
// trains at that rate at its end.
func TestLRSchedule(t *testing.T) {
	r := &Run{cfg: Config{Steps: 1000, SeedSteps: 200, LRFinal: 0.1}}
	for _, tc := range []struct {
		step int
		want float64
	}{{0, 1}, {200, 1}, {600, 0.55}, {1000, 0.1}, {1500, 0.1}} {
		r.st.EnvSteps = tc.step
		if got := r.lrScale(); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("step %d: rate ×%g, want ×%g", tc.step, got, tc.want)
		}
	}
	r.cfg.LRFinal = 1
	if got := r.lrScale(); got != 1 {
		t.Errorf("lr_final 1: rate ×%g, want 1", got)
	}

	cfg := debugConfig(t, "gridworld/frozenlake-4x4", 200)
	cfg.LRFinal = 0.25
	run, err := New(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The last gradient step is within the last few env steps (the
	// debug preset trains less than once per step): ×0.25 plus at most
	// 0.75 × 3/100.
	if got := run.model.LRScale(); got < 0.25 || got > 0.25+0.75*3/100 {
		t.Errorf("after the last step the model trains at ×%g, want about ×0.25", got)
	}
}

// TestQuantilesFollowTheRisk checks QuantilesFor through WithDefaults: a
// risk other than the mean turns on DefaultQuantiles quantiles, the mean
// none; −1 keeps a risk without them and a config's own number wins; a
// value without q gets none; and a resolved config resolves to itself.
func TestQuantilesFollowTheRisk(t *testing.T) {
	cvar := planner.Risk{Kind: planner.RiskCVaR, Level: 0.1}
	for _, tt := range []struct {
		name        string
		risk        planner.Risk
		set, target string
		quantiles   int
		want        int
	}{
		{"mean", planner.Risk{}, "", "", 0, 0},
		{"cvar", cvar, "", "", 0, DefaultQuantiles},
		{"quantile", planner.Risk{Kind: planner.RiskQuantile, Level: 0.2}, "", "", 0, DefaultQuantiles},
		{"cvar without them", cvar, "", "", -1, -1},
		{"cvar with 8", cvar, "", "", 8, 8},
		{"mean with 8", planner.Risk{}, "", "", 8, 8},
		{"no action value", cvar, "", worldmodel.ValueLambda, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Preset("default")
			if err != nil {
				t.Fatal(err)
			}
			c.Env, c.Obs = "gridworld/cliff-ice", "state"
			c.Planner.Risk, c.Model.QQuantiles = tt.risk, tt.quantiles
			if tt.target != "" {
				c.Model.ValueTarget = tt.target
			}
			r := c.WithDefaults()
			if r.Model.QQuantiles != tt.want {
				t.Errorf("q_quantiles %d, want %d", r.Model.QQuantiles, tt.want)
			}
			if err := r.Validate(); err != nil {
				t.Errorf("resolved config: %v", err)
			}
			if again := r.WithDefaults(); again.Model.QQuantiles != r.Model.QQuantiles {
				t.Errorf("resolved again: q_quantiles %d, want %d", again.Model.QQuantiles, r.Model.QQuantiles)
			}
		})
	}
}
