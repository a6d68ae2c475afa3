package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/replay"
	"github.com/dreamrl/dream/worldmodel"
)

// Errors a caller branches on.
var (
	// ErrInterrupted is returned by Train when its context was cancelled;
	// a checkpoint was written and the run can be resumed.
	ErrInterrupted = errors.New("interrupted")
	// ErrNonFinite is returned when MaxBadSteps gradient steps in a row
	// had a NaN or Inf loss or gradient; the last good checkpoint is kept.
	ErrNonFinite = errors.New("training diverged")
	// ErrRunDir reports a run directory that cannot be used as asked.
	ErrRunDir = errors.New("run directory")
)

// Status is what Train reports to its progress callback.
type Status struct {
	EnvSteps, TotalSteps int
	GradSteps            int
	Episodes             int
	// StepsPerSecond is the rate over the last half minute, so that the
	// ETA follows the training phase and not the fast random seed phase
	// before it.
	StepsPerSecond float64
	Elapsed        time.Duration
	// LastEval is the newest evaluation (zero Steps if none yet).
	LastEval Eval
	// Log is true for the rows written to metrics.csv (log intervals and
	// evaluations); other calls are progress ticks.
	Log bool
}

// counters is the part of a run's state that is not the model, the buffer
// or a random stream.
type counters struct {
	EnvSteps     int     `json:"env_steps"`
	GradSteps    int     `json:"grad_steps"`
	Episodes     int     `json:"episodes"`
	SkippedSteps int     `json:"skipped_steps"`
	BadInARow    int     `json:"bad_in_a_row"`
	TrainDebt    float64 `json:"train_debt"`
	WallSeconds  float64 `json:"wall_seconds"`
	LastEval     Eval    `json:"last_eval"`
}

// Run is one training run in a run directory. It is not safe for
// concurrent use; separate Runs may train on separate goroutines.
type Run struct {
	cfg  Config
	dir  string
	reg  *registry.Registry // makes the run's environments
	env  envs.Env
	sim  envs.Simulator
	spec worldmodel.Spec

	model *worldmodel.Model
	plan  *planner.MPC
	buf   *replay.Buffer
	batch *replay.Batch
	wmb   *worldmodel.Batch

	// Random streams, each derived from the run's seed.
	envSrc, actSrc, trainSrc *rand.PCG
	envRNG, actRNG, trainRNG *rand.Rand

	st counters

	// nov counts visits for the exploration bonus and codes observations
	// for directed exploration (nil without either).
	nov   *novelty
	bonus []float32 // the batch's bonuses
	// directed is directed exploration (nil without it); code is the SimHash
	// code of the current observation and first the planner's bonus per
	// first action.
	directed *directed
	code     uint64
	first    []float64

	// Acting state.
	obs          *Observer
	action       []float64 // env action
	modelAction  []float32 // model/replay action (one-hot for discrete)
	episodeRet   float64
	recentReturn []float64

	log *metricsLog
	// evalPlan, when set (SetEvalPlanner), is the planner Evaluate acts
	// with instead of the run's.
	evalPlan *evalPlan
	evalSnap *int // snap_latents of Evaluate, when SetEvalSnapLatents set it
	snapAt   int  // the block of snapEvery steps whose real latents the planner snaps to, or −1
	// Progress, when set, is called after every log interval and evaluation
	// and about once a second otherwise.
	Progress func(Status)
	// FailAfterBytes, when positive, makes checkpoint writes fail after
	// that many bytes (to test that a failed write keeps the last good
	// checkpoint).
	FailAfterBytes int64
	// corruptBatch, when set, is applied to each training batch before the
	// gradient step (tests inject NaNs through it).
	corruptBatch func(*worldmodel.Batch)
}

// ConfigFile is the name of the resolved config in a run directory.
const ConfigFile = "config.json"

// New creates a fresh run in dir, which must not exist or be empty. It
// writes the resolved config there. Its environment comes from the
// built-in registry unless an option (WithRegistry) names another.
func New(cfg Config, dir string, opts ...Option) (*Run, error) {
	o := resolveOptions(opts)
	cfg = cfg.WithDefaultsIn(o.reg)
	if err := cfg.ValidateIn(o.reg); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil {
		// A process killed while writing the config leaves only a
		// temporary file: the directory counts as empty.
		for _, e := range entries {
			if !isStrayTemp(e.Name()) {
				return nil, fmt.Errorf("%w %s is not empty: resume it with --resume or choose another --run-dir", ErrRunDir, dir)
			}
		}
		if err := removeStrayTemps(dir); err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
		}
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
	}
	// Make everything before writing anything, so that a config that
	// cannot run (a bad map, a model it cannot build) leaves no directory.
	r, err := build(cfg, dir, o.reg)
	if err != nil {
		return nil, err
	}
	r.model, err = worldmodel.New(cfg.Model, r.spec, rand.New(rand.NewPCG(cfg.Seed, streamModelInit)))
	if err != nil {
		return nil, fmt.Errorf("%w: model: %v", ErrConfig, err)
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrRunDir, dir, err)
	}
	if err := writeJSONAtomic(filepath.Join(dir, ConfigFile), cfg); err != nil {
		return nil, fmt.Errorf("%w %s: write config: %v", ErrRunDir, dir, err)
	}
	return r, r.openLog()
}

// Stream identifiers: the second PCG word of each random stream.
const (
	streamModelInit = 0x6d6f64656c // "model"
	streamEnv       = 0x656e76     // "env"
	streamAct       = 0x616374     // "act"
	streamTrain     = 0x747261696e // "train"
	streamEval      = 0x6576616c   // "eval"
	streamNovelty   = 0x6e6f76     // "nov"
	streamSnap      = 0x736e6170   // "snap"
)

// build makes everything of a run but the model and the log; the run's
// environments come from reg.
func build(cfg Config, dir string, reg *registry.Registry) (*Run, error) {
	r := &Run{cfg: cfg, dir: dir, reg: reg, snapAt: -1}
	var err error
	r.env, err = r.makeEnv()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	r.sim = r.env.Simulator()
	r.spec = ModelSpec(r.env, cfg.Model.FrameStack)
	r.envSrc = rand.NewPCG(cfg.Seed, streamEnv)
	r.actSrc = rand.NewPCG(cfg.Seed, streamAct)
	r.trainSrc = rand.NewPCG(cfg.Seed, streamTrain)
	r.envRNG, r.actRNG, r.trainRNG = rand.New(r.envSrc), rand.New(r.actSrc), rand.New(r.trainSrc)
	rs := replay.Spec{ActionDim: r.spec.ActionDim}
	if r.spec.Pixels() {
		rs.FrameShape = r.spec.Frame
	} else {
		rs.ObsDim = r.spec.ObsDim
	}
	r.buf, err = replay.New(rs, cfg.BufferSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	// Terminal transitions then appear at every position of the training
	// sequences, so the reward and continuation heads learn them on real
	// latents, not only at the end of an imagined rollout.
	r.buf.SetAbsorbing(cfg.Model.WithDefaults().Horizon)
	if cfg.ExploreBonus > 0 || cfg.ExploreDirected > 0 {
		r.nov = newNovelty(rs, cfg.BonusBits, rand.New(rand.NewPCG(cfg.Seed, streamNovelty)))
	}
	if cfg.ExploreDirected > 0 {
		as := r.env.ActionSpace()
		if as.Kind != envs.KindDiscrete {
			return nil, fmt.Errorf("%w: explore_directed needs a discrete action space; env %s has a box of %d dimensions (use explore or explore_bonus)", ErrConfig, cfg.Env, as.Dim())
		}
		r.directed = newDirected(as.N, cfg.ExploreDiscount)
		r.first = make([]float64, as.N)
	}
	return r, nil
}

// finish makes the parts that need the model.
func (r *Run) finish() error {
	cfg := r.cfg
	var err error
	r.plan, err = newPlanner(cfg, r.env.ActionSpace(), r.model, nil)
	if err != nil {
		return err
	}
	k, f := cfg.Model.Horizon, r.spec.Stack
	r.batch = replay.NewBatch(r.buf.Spec(), cfg.BatchSize, k, f)
	r.wmb = newModelBatch(r.spec, cfg.BatchSize, k)
	r.bonus = make([]float32, len(r.wmb.Rewards))
	r.obs = NewObserver(r.spec)
	r.action = make([]float64, r.env.ActionSpace().Dim())
	r.modelAction = make([]float32, r.spec.ActionDim)
	return nil
}

// ModelSpec describes the environment's observations and actions to the
// world model.
func ModelSpec(env envs.Env, stack int) worldmodel.Spec {
	s := worldmodel.Spec{Stack: max(stack, 1)}
	if env.Mode() == envs.ObsPixels {
		shape := env.ObservationSpace().Shape
		s.Frame = [3]int{shape[0], shape[1], 3}
		s.ObsDim = shape[0] * shape[1] * 3
	} else {
		s.ObsDim = env.ObservationSpace().Dim()
	}
	as := env.ActionSpace()
	if as.Kind == envs.KindDiscrete {
		s.ActionDim, s.Discrete = as.N, true
	} else {
		s.ActionDim = as.Dim()
	}
	return s
}

// newPlanner makes a planner for the action space with the run's planning
// mode. book holds the real latents that imagined latents snap to
// (snap_latents), or nil for none.
func newPlanner(cfg Config, space envs.Space, m planner.Model, book []float32) (*planner.MPC, error) {
	pc := cfg.Planner
	if cfg.PlanWith == PlanMean || cfg.Model.Dynamics == worldmodel.DynamicsDeterministic {
		pc.Samples = 1
	}
	if cfg.PlanWith == PlanComponents {
		c, ok := m.(componentStepper)
		if !ok {
			return nil, fmt.Errorf("%w: plan_with %q needs a world model that draws components", ErrConfig, PlanComponents)
		}
		m = newComponentModel(m, c)
	}
	if len(book) > 0 {
		m = newSnapModel(m, book)
	}
	spec := planner.ActionSpec{}
	if space.Kind == envs.KindDiscrete {
		spec.Discrete = space.N
	} else {
		spec.Dim, spec.Low, spec.High = space.Dim(), space.Low, space.High
		m = newScaledModel(m, space)
	}
	p, err := planner.New(pc, spec, m)
	if err != nil {
		return nil, fmt.Errorf("%w: planner: %v", ErrConfig, err)
	}
	return p, nil
}

// Config returns the run's resolved config.
func (r *Run) Config() Config { return r.cfg }

// Model returns the run's world model.
func (r *Run) Model() *worldmodel.Model { return r.model }

// EnvSteps is the number of environment steps taken so far.
func (r *Run) EnvSteps() int { return r.st.EnvSteps }

// Buffer returns the run's replay buffer.
func (r *Run) Buffer() *replay.Buffer { return r.buf }

// SetSteps raises (or lowers, not below the steps taken) the run's total
// budget, as `dream train --resume --steps N` does.
func (r *Run) SetSteps(n int) error {
	if n < r.st.EnvSteps {
		return fmt.Errorf("%w: steps %d is below the %d steps already taken", ErrConfig, n, r.st.EnvSteps)
	}
	r.cfg.Steps = n
	return writeJSONAtomic(filepath.Join(r.dir, ConfigFile), r.cfg)
}

// exploration is the current exploration level.
func (r *Run) exploration() float64 {
	c := r.cfg
	t := r.exploreProgress()
	return c.Explore + t*(c.ExploreFinal-c.Explore)
}

// lrScale is the world model's learning rate as a fraction of model.lr:
// linear from 1 after the seed steps to LRFinal at the end of the run.
func (r *Run) lrScale() float64 {
	c := r.cfg
	if c.LRFinal == 1 || c.Steps <= c.SeedSteps {
		return 1
	}
	t := float64(r.st.EnvSteps-c.SeedSteps) / float64(c.Steps-c.SeedSteps)
	t = math.Min(math.Max(t, 0), 1)
	return 1 + t*(c.LRFinal-1)
}

// exploreProgress is the fraction of the exploration schedule done, 0 to 1.
func (r *Run) exploreProgress() float64 {
	c := r.cfg
	t := float64(r.st.EnvSteps-c.SeedSteps) / float64(c.ExploreSteps)
	return math.Min(math.Max(t, 0), 1)
}

// Train runs until the step budget is spent or ctx is cancelled. On
// cancellation it writes a checkpoint and returns ErrInterrupted. An
// environment that fails (an envs.Failure, such as a Gymnasium child that
// died) stops it with a checkpoint too (see recoverEnvFailure).
func (r *Run) Train(ctx context.Context) (err error) {
	defer r.recoverEnvFailure(&err)
	start := time.Now()
	wall0 := r.st.WallSeconds
	lastTick := start
	rate := newStepRate(start, r.st.EnvSteps)
	status := func(log bool) Status {
		now := time.Now()
		r.st.WallSeconds = wall0 + now.Sub(start).Seconds()
		sps := rate.update(now, r.st.EnvSteps)
		return Status{EnvSteps: r.st.EnvSteps, TotalSteps: r.cfg.Steps, GradSteps: r.st.GradSteps,
			Episodes: r.st.Episodes, StepsPerSecond: sps, Elapsed: time.Duration(r.st.WallSeconds * float64(time.Second)),
			LastEval: r.st.LastEval, Log: log}
	}
	if r.log == nil {
		if err := r.openLog(); err != nil {
			return err
		}
	}
	r.startEpisode()
	space := r.env.ActionSpace()
	for r.st.EnvSteps < r.cfg.Steps {
		if ctx.Err() != nil {
			status(false)
			if err := r.Checkpoint(); err != nil {
				return fmt.Errorf("%w, and the checkpoint failed: %v", ErrInterrupted, err)
			}
			return ErrInterrupted
		}
		r.act(space)
		obs, rew, term, trunc := r.env.Step(r.action)
		if bad := nonFinite(obs, rew); bad != "" {
			return fmt.Errorf("env %s returned %s at env step %d: nothing of that step was stored and the last checkpoint is kept",
				r.cfg.Env, bad, r.st.EnvSteps+1)
		}
		r.st.EnvSteps++
		r.episodeRet += rew
		next := r.obs.Push(obs)
		r.buf.Append(r.modelAction, float32(rew), term, trunc, next)
		if r.nov != nil {
			code := r.nov.observe(next)
			if r.directed != nil {
				r.directed.observe(r.code, int(r.action[0]), code, term)
			}
			r.code = code
		}
		if term || trunc {
			r.st.Episodes++
			r.recentReturn = append(r.recentReturn, r.episodeRet)
			if len(r.recentReturn) > 20 {
				r.recentReturn = r.recentReturn[1:]
			}
			r.startEpisode()
		}
		if r.st.EnvSteps >= r.cfg.SeedSteps {
			if err := r.trainSome(); err != nil {
				return err
			}
		}
		n := r.st.EnvSteps
		if n%r.cfg.EvalEvery == 0 || n == r.cfg.Steps {
			ev := r.Evaluate(r.cfg.EvalEpisodes, evalSeed(r.cfg.Seed), nil)
			ev.Steps = n
			r.st.LastEval = ev
			if err := r.log.write(r.row("eval", status(true))); err != nil {
				return err
			}
			r.report(status(true))
		} else if n%r.cfg.LogEvery == 0 {
			if err := r.log.write(r.row("log", status(true))); err != nil {
				return err
			}
			r.report(status(true))
		} else if time.Since(lastTick) > time.Second {
			lastTick = time.Now()
			r.report(status(false))
		}
		if n%r.cfg.CheckpointEvery == 0 && n != r.cfg.Steps {
			if err := r.Checkpoint(); err != nil {
				return err
			}
		}
	}
	status(false)
	return r.Checkpoint()
}

func (r *Run) report(s Status) {
	if r.Progress != nil {
		r.Progress(s)
	}
}

// startEpisode resets the environment with the next seed of its stream.
func (r *Run) startEpisode() {
	first := r.obs.Reset(r.env.Reset(r.envRNG.Uint64()))
	r.buf.StartEpisode(first)
	if r.nov != nil {
		r.code = r.nov.observe(first)
		if r.directed != nil {
			r.directed.start(r.code)
		}
	}
	r.plan.Reset()
	r.episodeRet = 0
}

// act chooses the next action: random during the seed steps, then the
// planner's with exploration.
func (r *Run) act(space envs.Space) {
	if r.st.EnvSteps < r.cfg.SeedSteps {
		RandomAction(r.action, space, r.actRNG)
	} else {
		r.refreshSnap(space)
		z := r.obs.Encode(r.model)
		r.plan.SetFirstBonus(nil)
		if beta := r.cfg.ExploreDirected * (1 - r.exploreProgress()); r.directed != nil && beta > 0 {
			r.directed.update()
			r.directed.values(r.first, r.code, beta)
			r.plan.SetFirstBonus(r.first)
		}
		copy(r.action, r.plan.Plan(z, r.actRNG))
		explore(r.action, space, r.exploration(), r.actRNG)
	}
	EncodeAction(r.modelAction, r.action, space)
}

// snapEvery is the number of environment steps between two encodings of
// the real latents that a run with snap_latents snaps imagined latents to.
const snapEvery = 1000

// refreshSnap encodes the real latents of snap_latents anew, with the
// current model, from a sample of the replay buffer drawn by a stream
// seeded by the block of snapEvery steps, once per block, and gives the
// run a planner that snaps to them.
func (r *Run) refreshSnap(space envs.Space) {
	block := r.st.EnvSteps / snapEvery
	if r.cfg.SnapLatents == 0 || block == r.snapAt {
		return
	}
	rng := rand.New(rand.NewPCG(r.cfg.Seed+uint64(block), streamSnap))
	book := replayLatents(r.model, r.spec, r.buf, r.cfg.SnapLatents, rng)
	if book == nil {
		return
	}
	p, err := newPlanner(r.cfg, space, r.model, book)
	if err != nil {
		panic(fmt.Sprintf("agent: the run's planner cannot be made again: %v", err))
	}
	r.plan, r.snapAt = p, block
}

// RandomAction draws a uniform action from space into dst.
func RandomAction(dst []float64, space envs.Space, rng *rand.Rand) {
	if space.Kind == envs.KindDiscrete {
		dst[0] = float64(rng.IntN(space.N))
		return
	}
	for i := range dst {
		dst[i] = space.Low[i] + rng.Float64()*(space.High[i]-space.Low[i])
	}
}

// explore perturbs an action: ε-random for discrete spaces, clipped
// Gaussian noise of std level·range for boxes.
func explore(a []float64, space envs.Space, level float64, rng *rand.Rand) {
	if level <= 0 {
		return
	}
	if space.Kind == envs.KindDiscrete {
		if rng.Float64() < level {
			a[0] = float64(rng.IntN(space.N))
		}
		return
	}
	for i := range a {
		lo, hi := space.Low[i], space.High[i]
		a[i] = math.Min(math.Max(a[i]+level*(hi-lo)*rng.NormFloat64(), lo), hi)
	}
}

// nonFinite describes the first NaN or infinity in a step's reward or
// state observation, or is "" if there is none (pixels are bytes).
func nonFinite(obs envs.Observation, reward float64) string {
	if math.IsNaN(reward) || math.IsInf(reward, 0) {
		return fmt.Sprintf("a non-finite reward %g", reward)
	}
	for i, v := range obs.Vector {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("a non-finite observation (component %d is %g)", i, v)
		}
	}
	return ""
}

// trainSome takes the gradient steps owed for one environment step.
func (r *Run) trainSome() error {
	r.st.TrainDebt += r.cfg.TrainRatio
	for r.st.TrainDebt >= 1 {
		r.st.TrainDebt--
		if r.buf.Sequences(r.batch.K, r.batch.F) == 0 {
			continue
		}
		if err := r.buf.Sample(r.trainRNG, r.batch); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		toModelBatch(r.wmb, r.batch, r.spec)
		r.wmb.Bonus = nil
		if beta := r.cfg.ExploreBonus * (1 - r.exploreProgress()); r.nov != nil && beta > 0 {
			r.wmb.Bonus = r.bonus[:len(r.wmb.Rewards)]
			r.nov.bonus(r.wmb.Bonus, r.batch, beta)
		}
		if r.corruptBatch != nil {
			r.corruptBatch(r.wmb)
		}
		r.model.SetLRScale(r.lrScale())
		m, err := r.model.TrainStep(r.wmb, r.trainRNG)
		if errors.Is(err, worldmodel.ErrNonFinite) {
			r.st.SkippedSteps++
			r.st.BadInARow++
			if r.st.BadInARow >= r.cfg.MaxBadSteps {
				// Skipped steps changed no weight, so the state is still good.
				if cerr := r.Checkpoint(); cerr != nil {
					return fmt.Errorf("%w at env step %d (%v), and the checkpoint failed: %v", ErrNonFinite, r.st.EnvSteps, err, cerr)
				}
				return fmt.Errorf("%w at env step %d: %d gradient steps in a row skipped, the last because %v; the last good checkpoint is kept", ErrNonFinite, r.st.EnvSteps, r.st.BadInARow, err)
			}
			continue
		}
		if err != nil {
			return err
		}
		r.st.BadInARow = 0
		r.st.GradSteps++
		r.log.observe(m)
	}
	return nil
}

// toModelBatch converts a replay batch into the model's layout.
func toModelBatch(dst *worldmodel.Batch, src *replay.Batch, spec worldmodel.Spec) {
	rows := (src.K + 1) * src.B
	in := spec.InputDim()
	if spec.Pixels() {
		h, w := spec.Frame[0], spec.Frame[1]
		per := src.F * spec.ObsDim
		for i := 0; i < rows; i++ {
			worldmodel.PixelsToInput(dst.Obs[i*in:(i+1)*in], src.Frames[i*per:(i+1)*per], src.F, h, w)
		}
	} else {
		copy(dst.Obs, src.Vectors[:rows*in])
	}
	copy(dst.Actions, src.Actions)
	copy(dst.Rewards, src.Rewards)
	copy(dst.Terminated, src.Terminated)
}

// LastEval is the newest evaluation (zero Episodes if none yet).
func (r *Run) LastEval() Eval { return r.st.LastEval }

// newModelBatch allocates a world-model batch of b sequences of k steps.
func newModelBatch(spec worldmodel.Spec, b, k int) *worldmodel.Batch {
	return &worldmodel.Batch{
		B: b, K: k,
		Obs:        make([]float32, (k+1)*b*spec.InputDim()),
		Actions:    make([]float32, k*b*spec.ActionDim),
		Rewards:    make([]float32, k*b),
		Terminated: make([]float32, k*b),
	}
}

// stepRate is the rate of environment steps per second over the last
// rateWindow seconds: samples are kept at most once a second in a ring.
type stepRate struct {
	t     [rateWindow]time.Time
	steps [rateWindow]int
	n     int // samples taken; the newest is at (n−1) % rateWindow
}

const rateWindow = 30

func newStepRate(t time.Time, steps int) *stepRate {
	s := &stepRate{}
	s.t[0], s.steps[0], s.n = t, steps, 1
	return s
}

func (s *stepRate) update(now time.Time, steps int) float64 {
	newest := (s.n - 1) % rateWindow
	if now.Sub(s.t[newest]) >= time.Second {
		i := s.n % rateWindow
		s.t[i], s.steps[i] = now, steps
		s.n++
	}
	oldest := 0
	if s.n > rateWindow {
		oldest = s.n % rateWindow
	}
	dt := now.Sub(s.t[oldest]).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(steps-s.steps[oldest]) / dt
}
