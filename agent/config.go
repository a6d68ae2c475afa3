// Package agent runs dream's learning loop: it collects experience with
// the imagination planner, trains the world model on replayed sequences,
// evaluates, logs and checkpoints a run directory.
package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gym"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// ErrConfig reports a run configuration that cannot be used.
var ErrConfig = errors.New("bad config")

// Planning modes.
const (
	// PlanSamples scores each candidate on K futures sampled from the
	// predicted distributions.
	PlanSamples = "samples"
	// PlanMean scores each candidate on one future that follows the
	// predicted means (for a Gaussian its mean), so that the effect of
	// sampling can be told from that of the learned representation.
	PlanMean = "mean"
	// PlanComponents scores each candidate on K futures whose every step
	// draws a component of the predicted mixture by its weight and follows
	// its mean, without the noise within the component, so that imagined
	// latents stay on the outcomes the components sit on
	// (worldmodel.Model.StepComponents). A Gaussian or deterministic model
	// has one component: its futures follow the mean.
	PlanComponents = "components"
)

// Config holds every setting of a run. The zero value of each field means
// the default written next to it (WithDefaults fills them in; the run
// directory's config.json holds the filled-in config). JSON and YAML
// config files use the snake_case names.
type Config struct {
	// Env is the environment's registry name. Default DefaultEnv.
	Env string `json:"env"`
	// Map is the map file of the environment "gridworld".
	Map string `json:"map,omitempty"`
	// Python is the interpreter of a Gymnasium environment (env
	// "gym:ID"): a name on PATH or a path. Default python3 on PATH.
	Python string `json:"python,omitempty"`
	// GymKwargs is a JSON object of keyword arguments for gymnasium.make
	// of a Gymnasium environment, such as {"max_episode_steps": 200}.
	GymKwargs string `json:"gym_kwargs,omitempty"`
	// Obs is what the agent observes: "pixels" (default) or "state".
	Obs string `json:"obs"`
	// Size is the side of pixel observations. Default 32.
	Size int `json:"size"`
	// Seed derives every random stream of the run. Default 0 (a valid seed).
	Seed uint64 `json:"seed"`
	// Steps is the total number of environment steps. Default: the
	// environment's budget (BudgetFor).
	Steps int `json:"steps"`
	// SeedSteps is the number of first steps taken with random actions,
	// before the planner acts and training starts. Default
	// min(5000, Steps/4): sparse-reward gridworlds need the random phase
	// to reach their goals a few times.
	SeedSteps int `json:"seed_steps"`
	// TrainRatio is the number of gradient steps per environment step
	// (fractions accumulate). Default 1.
	TrainRatio float64 `json:"train_ratio"`
	// BatchSize is the number of sequences per gradient step. Default 64.
	BatchSize int `json:"batch_size"`
	// BufferSize is the replay capacity in steps. Default 100000.
	BufferSize int `json:"buffer_size"`
	// EvalEvery is the number of environment steps between evaluations.
	// Default Steps/10.
	EvalEvery int `json:"eval_every"`
	// EvalEpisodes is the number of episodes of each evaluation.
	// Default 20.
	EvalEpisodes int `json:"eval_episodes"`
	// LogEvery is the number of environment steps between log rows.
	// Default 500.
	LogEvery int `json:"log_every"`
	// CheckpointEvery is the number of environment steps between
	// checkpoints (one is also written at the end and on interrupt).
	// Default 5000.
	CheckpointEvery int `json:"checkpoint_every"`
	// KeepCheckpoints is how many of the newest checkpoints are kept.
	// Default 2.
	KeepCheckpoints int `json:"keep_checkpoints"`
	// Explore is the exploration while training: the probability of a
	// uniformly random action for discrete actions, the standard
	// deviation of Gaussian action noise as a fraction of the action range
	// for continuous ones. It decays linearly to ExploreFinal over
	// ExploreSteps steps after SeedSteps. Defaults by the action space
	// (ExplorationFor): 0.1 and 0.02 for discrete actions, where directed
	// exploration leads, 0.5 and 0.05 for continuous ones; Steps/2.
	Explore      float64 `json:"explore"`
	ExploreFinal float64 `json:"explore_final"`
	ExploreSteps int     `json:"explore_steps"`
	// ExploreBonus is β of a count-based exploration bonus β/√n(o') added
	// to the rewards of the value targets (not to the reward model's), n
	// counting the observations seen so far that share o''s SimHash code
	// (see novelty). It decays linearly to 0 over ExploreSteps steps after
	// SeedSteps, as Explore does. 0 (default) turns it off.
	ExploreBonus float64 `json:"explore_bonus"`
	// ExploreDirected is β of directed exploration (see directed): while
	// training, the planner adds β·U(c, a) to the score of every plan
	// starting with action a, U being an exploration value computed by
	// value iteration on the transition counts between the SimHash codes
	// c of observations, with the reward 1/√n(c′) of reaching code c′ and
	// the largest value, 1/(1 − γ), for pairs never tried. It heads for
	// what was tried least over many steps, where ε-random actions
	// dither. Discrete actions only. It decays linearly to 0 over
	// ExploreSteps as Explore does; the model is trained on the
	// environment's rewards alone. Default 0.3 for discrete actions, −1
	// (none) for continuous ones (ExplorationFor); −1 turns it off.
	ExploreDirected float64 `json:"explore_directed"`
	// ExploreDiscount is the discount γ of directed exploration's value
	// U. Default 0.9: acting on U alone on the slippery FrozenLake 8x8
	// reached the goal 14–64 times in 20,000 steps at 0.9 (three seeds),
	// 5–21 at 0.95 and 3 at 0.99, which look so far ahead that ending an
	// episode, at the goal too, forfeits more bonus than it earns.
	ExploreDiscount float64 `json:"explore_discount"`
	// BonusBits is the length k of the SimHash codes, 1 to 64. Default 32.
	BonusBits int `json:"bonus_bits"`
	// LRFinal is the world model's learning rate at the end of the run as
	// a fraction of model.lr: the rate falls linearly from model.lr after
	// SeedSteps to LRFinal·model.lr at Steps, which averages the noise of
	// the last updates away where the values of a state's actions differ
	// by less than their regression noise. Default 0.1; 1 keeps it
	// constant.
	LRFinal float64 `json:"lr_final"`
	// PlanWith is "samples" (default), "mean" or "components" (see
	// PlanSamples, PlanMean, PlanComponents).
	PlanWith string `json:"plan_with"`
	// SnapLatents is the number of real latents, encoded from frames of
	// the replay buffer, that every imagined latent of a plan is snapped
	// to (the nearest one), so that the planner reads its heads only on
	// latents the encoder produced. 0 (default) snaps nothing.
	SnapLatents int `json:"snap_latents"`
	// MaxBadSteps is the number of gradient steps in a row with a NaN or
	// Inf loss or gradient after which the run stops with an error (each
	// is skipped and counted). Default 20.
	MaxBadSteps int `json:"max_bad_steps"`
	// Model configures the world model.
	Model worldmodel.Config `json:"model"`
	// Planner configures the planner.
	Planner planner.Config `json:"planner"`
}

// WithDefaults returns c with every zero field set to its default, the
// environment's traits read from the built-in registry (WithDefaultsIn).
func (c Config) WithDefaults() Config { return c.WithDefaultsIn(nil) }

// WithDefaultsIn returns c with every zero field set to its default. The
// settings that depend on the environment follow the rules of rules.go
// from the traits it declares in reg (nil means the built-ins); an
// environment reg cannot make gets the rules' answers for no traits, and
// Validate reports why.
func (c Config) WithDefaultsIn(reg *registry.Registry) Config {
	if c.Env == "" {
		c.Env = DefaultEnv
	}
	if c.Obs == "" {
		c.Obs = string(envs.ObsPixels)
	}
	if c.Size == 0 {
		c.Size = envs.DefaultSize
	}
	t := c.traits(reg)
	if c.Steps == 0 {
		c.Steps = BudgetFor(t)
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setFloat := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&c.SeedSteps, max(1, min(5000, c.Steps/4)))
	setFloat(&c.TrainRatio, 1)
	setInt(&c.BatchSize, 64)
	setInt(&c.BufferSize, 100000)
	setInt(&c.EvalEvery, max(1, c.Steps/10))
	setInt(&c.EvalEpisodes, 20)
	setInt(&c.LogEvery, 500)
	setInt(&c.CheckpointEvery, 5000)
	setInt(&c.KeepCheckpoints, 2)
	x := ExplorationFor(t)
	setFloat(&c.Explore, x.Explore)
	setFloat(&c.ExploreFinal, x.Final)
	setFloat(&c.ExploreDirected, x.Directed)
	setInt(&c.ExploreSteps, max(1, c.Steps/2))
	v := ValueLearningFor(t)
	setFloat(&c.LRFinal, v.LRFinal)
	setFloat(&c.Model.AverageTau, v.AverageTau)
	if c.Model.WithDefaults().ValueTarget == worldmodel.ValueQ {
		setFloat(&c.Model.ValueExpectile, v.Expectile)
		if c.Model.QHead == "" {
			c.Model.QHead = v.QHead
		}
		setFloat(&c.Model.ValueWeight, v.Weight)
		setInt(&c.Model.QQuantiles, QuantilesFor(c.Planner.Risk))
	}
	g := DiscountFor(t)
	setFloat(&c.Model.Discount, g)
	setFloat(&c.Planner.Discount, g)
	setFloat(&c.ExploreDiscount, 0.9)
	setInt(&c.BonusBits, 32)
	if c.PlanWith == "" {
		c.PlanWith = PlanSamples
	}
	setInt(&c.MaxBadSteps, 20)
	setInt(&c.Planner.Horizon, DefaultHorizon)
	setInt(&c.Model.FrameStack, FrameStackFor(c.Obs, t))
	setInt(&c.Model.EncoderHidden, EncoderHiddenFor(c.Model.FrameStack))
	c.Model = c.Model.WithDefaults()
	c.Planner = c.Planner.WithDefaults()
	return c
}

// traits returns what c's environment declares in reg (nil: the
// built-ins), or no traits when reg cannot make it.
func (c Config) traits(reg *registry.Registry) envs.Traits {
	t, err := c.TraitsIn(reg)
	if err != nil {
		return envs.Traits{}
	}
	return t
}

// TraitsIn returns what c's environment declares (its env, map and
// Gymnasium options) in reg, nil meaning the built-ins: what the rules of
// WithDefaultsIn read.
func (c Config) TraitsIn(reg *registry.Registry) (envs.Traits, error) {
	if reg == nil {
		reg = registry.Builtin()
	}
	if c.Env == "" {
		c.Env = DefaultEnv
	}
	return reg.Traits(c.Env, envs.Options{MapFile: c.Map, Python: c.Python, GymKwargs: c.GymKwargs})
}

// Validate checks the config after filling in defaults and returns an
// error wrapping ErrConfig naming the first bad field and what is allowed.
// Its env must be a built-in environment (ValidateIn checks it against
// another registry).
func (c Config) Validate() error {
	return c.ValidateIn(registry.Builtin())
}

// ValidateIn is Validate with the env looked up in reg (nil means the
// built-ins).
func (c Config) ValidateIn(reg *registry.Registry) error {
	if reg == nil {
		reg = registry.Builtin()
	}
	c = c.WithDefaultsIn(reg)
	bad := func(field string, v any, allowed string) error {
		return fmt.Errorf("%w: %s %v (allowed: %s)", ErrConfig, field, v, allowed)
	}
	if _, err := reg.Lookup(c.Env); err != nil {
		return fmt.Errorf("%w: env: %w", ErrConfig, err)
	}
	if c.Env == "gridworld" && c.Map == "" {
		return fmt.Errorf("%w: env \"gridworld\" needs a map file (map, or --map FILE)", ErrConfig)
	}
	if c.Env != "gridworld" && c.Map != "" {
		return fmt.Errorf("%w: map applies only to env \"gridworld\", not %q", ErrConfig, c.Env)
	}
	if !strings.HasPrefix(c.Env, gym.Prefix) && (c.Python != "" || c.GymKwargs != "") {
		return fmt.Errorf("%w: python and gym_kwargs apply only to env %sID, not %q", ErrConfig, gym.Prefix, c.Env)
	}
	if c.GymKwargs != "" {
		if err := envs.CheckGymKwargs(c.GymKwargs); err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	if c.Obs != string(envs.ObsPixels) && c.Obs != string(envs.ObsState) {
		return bad("obs", fmt.Sprintf("%q", c.Obs), `"pixels", "state"`)
	}
	ints := []struct {
		name   string
		v, lo  int
		hi     int
		detail string
	}{
		{"size", c.Size, 8, 256, ""},
		{"steps", c.Steps, 1, 100_000_000, ""},
		{"seed_steps", c.SeedSteps, 1, c.Steps, " and at most steps"},
		{"batch_size", c.BatchSize, 1, 4096, ""},
		{"buffer_size", c.BufferSize, 100, 10_000_000, ""},
		{"eval_every", c.EvalEvery, 1, 100_000_000, ""},
		{"eval_episodes", c.EvalEpisodes, 1, 10000, ""},
		{"log_every", c.LogEvery, 1, 100_000_000, ""},
		{"checkpoint_every", c.CheckpointEvery, 1, 100_000_000, ""},
		{"keep_checkpoints", c.KeepCheckpoints, 1, 1000, ""},
		{"explore_steps", c.ExploreSteps, 1, 100_000_000, ""},
		{"max_bad_steps", c.MaxBadSteps, 1, 1_000_000, ""},
		{"bonus_bits", c.BonusBits, 1, 64, ""},
	}
	for _, f := range ints {
		if f.v < f.lo || f.v > f.hi {
			return bad(f.name, f.v, fmt.Sprintf("%d to %d%s", f.lo, f.hi, f.detail))
		}
	}
	floats := []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"train_ratio", c.TrainRatio, 0, 64},
		{"explore", c.Explore, 0, 1},
		{"explore_final", c.ExploreFinal, 0, 1},
		{"explore_bonus", c.ExploreBonus, 0, 100},
	}
	for _, f := range floats {
		if math.IsNaN(f.v) || f.v < f.lo || f.v > f.hi {
			return bad(f.name, f.v, fmt.Sprintf("%g to %g", f.lo, f.hi))
		}
	}
	if d := c.ExploreDirected; d != -1 && (math.IsNaN(d) || d < 0 || d > 100) {
		return bad("explore_directed", d, "0 to 100, or -1 for none")
	}
	if f := c.LRFinal; math.IsNaN(f) || f <= 0 || f > 1 {
		return bad("lr_final", f, "0 < f ≤ 1")
	}
	if g := c.ExploreDiscount; math.IsNaN(g) || g <= 0 || g >= 1 {
		return bad("explore_discount", g, "0 < γ < 1")
	}
	if c.SnapLatents < 0 || c.SnapLatents > 65536 {
		return bad("snap_latents", c.SnapLatents, "0 (none) to 65536")
	}
	if c.PlanWith != PlanSamples && c.PlanWith != PlanMean && c.PlanWith != PlanComponents {
		return bad("plan_with", fmt.Sprintf("%q", c.PlanWith), `"samples", "mean", "components"`)
	}
	if err := c.Model.Validate(); err != nil {
		return fmt.Errorf("%w: model: %v", ErrConfig, err)
	}
	if err := c.Planner.Validate(); err != nil {
		return fmt.Errorf("%w: planner: %v", ErrConfig, err)
	}
	return nil
}

// Preset returns the config of a named preset: "default", or "debug"
// (tiny networks and budgets: a run finishes in seconds).
func Preset(name string) (Config, error) {
	switch name {
	case "", "default":
		m, err := worldmodel.Preset("default")
		return Config{Model: agentModel(m), Planner: planner.Config{Candidates: 64, Iterations: 3}}, err
	case "debug":
		m, err := worldmodel.Preset("debug")
		if err != nil {
			return Config{}, err
		}
		m = agentModel(m)
		return Config{
			Steps:           2000,
			SeedSteps:       200,
			TrainRatio:      0.25,
			BatchSize:       16,
			BufferSize:      5000,
			EvalEpisodes:    5,
			LogEvery:        100,
			CheckpointEvery: 500,
			Model:           m,
			Planner:         planner.Config{Candidates: 32, Iterations: 2, Horizon: 3, Samples: 2},
		}, nil
	}
	return Config{}, fmt.Errorf("%w: preset %q (allowed: \"default\", \"debug\")", ErrConfig, name)
}

// agentModel is a world-model preset with the agent's choices, which every
// agent preset shares (experiments/README.md gives the runs behind each):
//   - an action value learned from replay transitions, which reached the
//     optimal values' greedy policy on FrozenLake where n-step and imagined
//     TD(λ) value targets stayed starved;
//   - β-NLL with β = 1: the plain NLL's precision-weighted gradient
//     overwhelmed the collapse guard, contracted the embedding and kept the
//     Gaussian agent from solving windy;
//   - RMS-normalised latents and values trained on real latents: the
//     embedding no longer widens past what SIGReg can pull back, and no
//     value is fitted on a rollout mean between a transition's outcomes;
//   - frame_stack, encoder_hidden and discount left to the rules of
//     rules.go, by what the environment declares.
func agentModel(m worldmodel.Config) worldmodel.Config {
	m.ValueTarget = worldmodel.ValueQ
	m.BetaNLL = 1
	m.EmbedNorm, m.ValueLatents = worldmodel.EmbedNormRMS, worldmodel.ValueLatentsReal
	m.FrameStack = 0
	m.Discount = 0    // DiscountFor the environment's time limit
	m.QHead = ""      // advantage with an action value (WithDefaults)
	m.ValueWeight = 0 // ValueWeightFor the environment's traits
	return m
}

// LoadConfigFile reads a JSON or YAML config file over base (fields the
// file does not name keep base's values). Unknown keys are errors.
func LoadConfigFile(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := ParseConfig(data, strings.ToLower(filepath.Ext(path)) == ".json", base)
	if err != nil {
		return base, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes a JSON (isJSON) or YAML document over base,
// rejecting unknown keys and values of the wrong type.
func ParseConfig(data []byte, isJSON bool, base Config) (Config, error) {
	if !isJSON {
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return base, fmt.Errorf("%w: %s", ErrConfig, firstLine(err.Error()))
		}
		if doc == nil {
			return base, nil
		}
		j, err := json.Marshal(doc)
		if err != nil {
			return base, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		data = j
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	c := base
	if err := dec.Decode(&c); err != nil {
		return base, fmt.Errorf("%w: %s", ErrConfig, strings.TrimPrefix(firstLine(err.Error()), "json: "))
	}
	if dec.More() {
		return base, fmt.Errorf("%w: trailing data after the config", ErrConfig)
	}
	return c, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
