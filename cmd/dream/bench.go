package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/replay"
	"github.com/dreamrl/dream/worldmodel"
)

type benchOptions struct {
	out      io.Writer
	json     bool
	quick    bool
	python   string
	noTorch  bool
	twin     string
	twinArgs string
	env      string
	scaling  string
	budget   time.Duration
	e2e      int
	gym      string
}

func newBenchCmd(runF func(context.Context, *benchOptions) error) *cobra.Command {
	opts := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time the hot paths on this machine (and PyTorch's, when installed)",
		Long: `Time the hot paths of the default agent on this machine: a training step of
the default world model (Gaussian, deterministic and mixture) at batch 256, one
planner decision at the default budget, one batched imagination step, an
environment step with its 32x32 frame for every built-in environment, and the
environment steps per second of the default 'dream train' run with its
projected wall time. Each row gives the best and the median time per operation
over three rounds and the allocations per operation of the best round. --env
takes the defaults of another environment (physics/cartpole, say).

When python3 with torch is installed, the PyTorch twin of the world model
(experiments/bench/torch_twin.py) runs too: dream hands it the model files of
its rows (the resolved config, the same initial weights) and the same batch,
and the twin times the same steps in rounds of the same length, with 1 and 2
threads. Each ratio ours/PyTorch names the twin it was measured against:
--twin tuned (default) is the twin as a PyTorch engineer tunes it, plain the
twin as a PyTorch user writes it, both runs the two; --twin-args passes knobs
to the tuned twin (--sigreg rotation, --optim flat, --patchify conv, --jit).

--gym ID (default CartPole-v1) times the Gymnasium bridge on gym:ID with the
--python interpreter (default python3), when it has gymnasium: the rows
gym/state and gym/pixels give the bridge's overhead per step, the Go-side
round trip less the time the child spent in the environment itself.

--scaling DIR measures how the cost grows (training step against batch size,
latent size d and covariance rank r; the Gaussian NLL against d and r; the
decision against samples K and horizon H) and writes scaling.md, scaling.json
and scaling.png into DIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBench(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.json, "json", false, "print the results as JSON")
	f.BoolVar(&opts.quick, "quick", false, "tiny budgets and the debug preset (a smoke test, not a measurement)")
	f.StringVar(&opts.python, "python", "", "Python interpreter with torch, or gymnasium for --gym (default: python3, then /usr/bin/python3 for torch)")
	f.StringVar(&opts.gym, "gym", "CartPole-v1", "Gymnasium ID whose bridge overhead to time (empty: none)")
	f.BoolVar(&opts.noTorch, "no-torch", false, "skip the PyTorch twin")
	f.StringVar(&opts.twin, "twin", "tuned", "PyTorch twin to compare with: tuned, plain or both")
	f.StringVar(&opts.twinArgs, "twin-args", "", "knobs of the tuned twin, such as \"--sigreg rotation --optim flat\"")
	f.StringVar(&opts.env, "env", "", "environment whose defaults to time (default: the agent's default environment)")
	f.StringVar(&opts.scaling, "scaling", "", "also measure how the cost grows and write the table and plot into this directory")
	f.DurationVar(&opts.budget, "time", time.Second, "time spent on each row")
	f.IntVar(&opts.e2e, "e2e-steps", 400, "environment steps of the default run measured after its seed steps")
	return cmd
}

// benchRow is one line of the table.
type benchRow struct {
	Name string `json:"name"`
	What string `json:"what"`
	// NsPerOp is the best time per operation over the rounds; AllocsPerOp
	// and BytesPerOp are the heap allocations of that round.
	// MedianNsPerOp is the median round's.
	NsPerOp       float64 `json:"ns_per_op"`
	MedianNsPerOp float64 `json:"median_ns_per_op,omitempty"`
	AllocsPerOp   float64 `json:"allocs_per_op"`
	BytesPerOp    float64 `json:"bytes_per_op"`
	// Ops is the number of operations of each round.
	Ops int `json:"ops"`
	// Twins are the PyTorch twins' times of the same operation, each
	// with the ratios to ours; none without PyTorch.
	Twins []twinRow `json:"twins,omitempty"`
	// Note adds what the columns cannot say (steps per second, projections).
	Note string `json:"note,omitempty"`
}

// benchReport is everything `dream bench --json` prints.
type benchReport struct {
	BLAS string `json:"blas"`
	Go   string `json:"go"`
	CPU  string `json:"cpu"`
	CPUs int    `json:"cpus"`
	// Load is the 1-minute load average before and after the run (Linux):
	// timings on a machine that others use are worth little without it.
	Load    string         `json:"load,omitempty"`
	Preset  string         `json:"preset"`
	Env     string         `json:"env"`
	Rows    []benchRow     `json:"rows"`
	Twins   []*twinResult  `json:"twins,omitempty"`
	NoTorch string         `json:"no_torch,omitempty"`
	NoGym   string         `json:"no_gym,omitempty"`
	E2E     *e2eResult     `json:"e2e,omitempty"`
	Scaling *scalingReport `json:"scaling,omitempty"`
}

// e2eResult is the measured part of the default `dream train` run and its
// projection to the whole run.
type e2eResult struct {
	Env             string  `json:"env"`
	TotalSteps      int     `json:"total_steps"`
	SeedSteps       int     `json:"seed_steps"`
	SeedSeconds     float64 `json:"seed_seconds"`
	MeasuredSteps   int     `json:"measured_steps"`
	StepsPerSecond  float64 `json:"steps_per_second"`
	EvalSeconds     float64 `json:"eval_seconds"`
	Evaluations     int     `json:"evaluations"`
	ProjectedSecond float64 `json:"projected_seconds"`
}

// benchRounds is the number of timed rounds of a row (the PyTorch twin's
// too).
const benchRounds = 3

// measure runs f until budget is spent, in rounds, after one warm-up call,
// and returns the best round's time and allocations per call and the
// median round's time. The rounds' length comes from a second call: the
// first may build what later calls reuse (a training graph takes far
// longer to build than to run).
func measure(budget time.Duration, f func()) benchRow {
	const rounds = benchRounds
	f()
	start := time.Now()
	f()
	once := max(time.Since(start), time.Microsecond)
	n := max(1, int(budget/rounds/once))
	best := benchRow{NsPerOp: math.Inf(1)}
	var per [rounds]float64
	var ms0, ms1 runtime.MemStats
	for i := range rounds {
		runtime.ReadMemStats(&ms0)
		t0 := time.Now()
		for range n {
			f()
		}
		el := time.Since(t0)
		runtime.ReadMemStats(&ms1)
		ns := float64(el.Nanoseconds()) / float64(n)
		per[i] = ns
		if ns < best.NsPerOp {
			best = benchRow{NsPerOp: ns, Ops: n,
				AllocsPerOp: float64(ms1.Mallocs-ms0.Mallocs) / float64(n),
				BytesPerOp:  float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(n)}
		}
	}
	slices.Sort(per[:])
	best.MedianNsPerOp = per[rounds/2]
	return best
}

// benchFixture is the default agent's model, planner and data.
type benchFixture struct {
	cfg   agent.Config
	spec  worldmodel.Spec
	batch func(B int) *worldmodel.Batch
	// trainBatches are the training rows' batches by B, one per size, so
	// that the PyTorch twin gets the batch a row was timed on.
	trainBatches map[int]*worldmodel.Batch
}

func newBenchFixture(preset, envName string) (*benchFixture, error) {
	cfg, err := agent.Preset(preset)
	if err != nil {
		return nil, err
	}
	cfg.Env = envName
	cfg = cfg.WithDefaults()
	env, err := registry.Make(cfg.Env, envs.Options{Obs: envs.ObsMode(cfg.Obs), Size: cfg.Size})
	if err != nil {
		return nil, err
	}
	spec := agent.ModelSpec(env, cfg.Model.FrameStack)
	// Frames of random play, for batches that look like the agent's.
	rng := rand.New(rand.NewPCG(1, 2))
	in := spec.InputDim()
	const nFrames = 512
	frames := make([]float32, nFrames*in)
	action := make([]float64, env.ActionSpace().Dim())
	obs := env.Reset(1)
	raw := make([]uint8, spec.ObsDim)
	for i := 0; i < nFrames; i++ {
		fillInput(frames[i*in:(i+1)*in], raw, obs, spec)
		agent.RandomAction(action, env.ActionSpace(), rng)
		var term, trunc bool
		obs, _, term, trunc = env.Step(action)
		if term || trunc {
			obs = env.Reset(uint64(i))
		}
	}
	f := &benchFixture{cfg: cfg, spec: spec, trainBatches: map[int]*worldmodel.Batch{}}
	f.batch = func(B int) *worldmodel.Batch {
		K := cfg.Model.Horizon
		b := &worldmodel.Batch{B: B, K: K,
			Obs:        make([]float32, (K+1)*B*in),
			Actions:    make([]float32, K*B*spec.ActionDim),
			Rewards:    make([]float32, K*B),
			Terminated: make([]float32, K*B),
		}
		for r := 0; r < (K+1)*B; r++ {
			j := rng.IntN(nFrames)
			copy(b.Obs[r*in:(r+1)*in], frames[j*in:(j+1)*in])
		}
		for r := 0; r < K*B; r++ {
			row := b.Actions[r*spec.ActionDim : (r+1)*spec.ActionDim]
			if spec.Discrete {
				row[rng.IntN(spec.ActionDim)] = 1
			} else {
				for i := range row {
					row[i] = float32(2*rng.Float64() - 1)
				}
			}
			if rng.IntN(20) == 0 {
				b.Rewards[r] = 1
			}
		}
		return b
	}
	return f, nil
}

// fillInput writes one observation into every stacked slot of an input row.
func fillInput(dst []float32, raw []uint8, obs envs.Observation, spec worldmodel.Spec) {
	n := spec.ObsDim
	for f := 0; f < spec.Stack; f++ {
		if spec.Pixels() {
			h, w := spec.Frame[0], spec.Frame[1]
			raw = replay.PackRGB(raw, obs.Frame)
			worldmodel.PixelsToInput(dst[f*n:(f+1)*n], raw, 1, h, w)
			continue
		}
		for i, v := range obs.Vector {
			dst[f*n+i] = float32(v)
		}
	}
}

// benchActions draws 64 uniform actions of space, which an environment
// row steps through in turn.
func benchActions(space envs.Space, rng *rand.Rand) [][]float64 {
	actions := make([][]float64, 64)
	for i := range actions {
		actions[i] = make([]float64, space.Dim())
		agent.RandomAction(actions[i], space, rng)
	}
	return actions
}

// plannerConfig is the planner the agent builds for cfg.
func plannerConfig(cfg agent.Config) planner.Config {
	pc := cfg.Planner
	if cfg.PlanWith == agent.PlanMean || cfg.Model.Dynamics == worldmodel.DynamicsDeterministic {
		pc.Samples = 1
	}
	return pc.WithDefaults()
}

func actionSpec(spec worldmodel.Spec) planner.ActionSpec {
	if spec.Discrete {
		return planner.ActionSpec{Discrete: spec.ActionDim}
	}
	lo, hi := make([]float64, spec.ActionDim), make([]float64, spec.ActionDim)
	for i := range lo {
		lo[i], hi[i] = -1, 1
	}
	return planner.ActionSpec{Dim: spec.ActionDim, Low: lo, High: hi}
}

// trainModel is the fresh model a training row times.
func (f *benchFixture) trainModel(mc worldmodel.Config) (*worldmodel.Model, error) {
	return worldmodel.New(mc, f.spec, rand.New(rand.NewPCG(3, 4)))
}

// trainBatch is the batch of the training rows at batch size B.
func (f *benchFixture) trainBatch(B int) *worldmodel.Batch {
	b, ok := f.trainBatches[B]
	if !ok {
		b = f.batch(B)
		f.trainBatches[B] = b
	}
	return b
}

// trainRow times TrainStep of a fresh model at batch size B.
func (f *benchFixture) trainRow(mc worldmodel.Config, B int, budget time.Duration) (benchRow, error) {
	m, err := f.trainModel(mc)
	if err != nil {
		return benchRow{}, err
	}
	b := f.trainBatch(B)
	rng := rand.New(rand.NewPCG(5, 6))
	var stepErr error
	row := measure(budget, func() {
		if _, err := m.TrainStep(b, rng); err != nil && stepErr == nil {
			stepErr = err
		}
	})
	return row, stepErr
}

// decisionRow times one planner decision with the agent's planner.
func (f *benchFixture) decisionRow(cfg agent.Config, budget time.Duration) (benchRow, planner.Config, error) {
	m, err := worldmodel.New(cfg.Model, f.spec, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		return benchRow{}, planner.Config{}, err
	}
	pc := plannerConfig(cfg)
	p, err := planner.New(pc, actionSpec(f.spec), m)
	if err != nil {
		return benchRow{}, pc, err
	}
	z := make([]float32, m.LatentDim())
	m.Encode(z, f.batch(1).Obs, 1)
	rng := rand.New(rand.NewPCG(7, 8))
	return measure(budget, func() { p.Plan(z, rng) }), pc, nil
}

// imagineInputs are the model, the latents (rows×d) and the one-hot
// actions (rows×A) of the imagination row, and its generator.
func (f *benchFixture) imagineInputs(mc worldmodel.Config, rows int) (m *worldmodel.Model, z, act []float32, rng *rand.Rand, err error) {
	m, err = worldmodel.New(mc, f.spec, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	d, a := m.LatentDim(), m.ActionDim()
	rng = rand.New(rand.NewPCG(9, 10))
	z, act = make([]float32, rows*d), make([]float32, rows*a)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	for r := 0; r < rows; r++ {
		act[r*a+rng.IntN(a)] = 1
	}
	return m, z, act, rng, nil
}

// imagineRow times one sampled Model.Step on rows rows.
func (f *benchFixture) imagineRow(mc worldmodel.Config, rows int, budget time.Duration) (benchRow, error) {
	m, z, act, rng, err := f.imagineInputs(mc, rows)
	if err != nil {
		return benchRow{}, err
	}
	next := make([]float32, len(z))
	rew, cont := make([]float32, rows), make([]float32, rows)
	return measure(budget, func() { m.Step(next, rew, cont, z, act, rows, true, rng) }), nil
}

// envRow times Env.Step with its observation (a 32×32 frame) for one
// registered environment, resetting when an episode ends.
func envRow(name string, budget time.Duration) (benchRow, error) {
	env, err := registry.Make(name, envs.Options{})
	if err != nil {
		return benchRow{}, err
	}
	env.Reset(1)
	rng := rand.New(rand.NewPCG(11, 12))
	actions := benchActions(env.ActionSpace(), rng)
	i := 0
	return measure(budget, func() {
		if _, _, term, trunc := env.Step(actions[i%len(actions)]); term || trunc {
			env.Reset(uint64(i))
		}
		i++
	}), nil
}

// e2eRun measures the default `dream train` run: its seed steps, then
// measured steps of planning and training, then one evaluation, and
// projects the whole run's wall time.
func e2eRun(parent context.Context, cfg agent.Config, measured int) (*e2eResult, error) {
	dir, err := os.MkdirTemp("", "dream-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	run, err := agent.New(cfg, filepath.Join(dir, "run"))
	if err != nil {
		return nil, err
	}
	cfg = run.Config()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	res := &e2eResult{Env: cfg.Env, TotalSteps: cfg.Steps, SeedSteps: cfg.SeedSteps, Evaluations: cfg.Steps / cfg.EvalEvery}
	start := time.Now()
	var t0 time.Time
	var s0 int
	stop := cfg.SeedSteps + measured
	run.Progress = func(s agent.Status) {
		now := time.Now()
		if t0.IsZero() && s.EnvSteps > cfg.SeedSteps {
			t0, s0 = now, s.EnvSteps
			res.SeedSeconds = now.Sub(start).Seconds() * float64(cfg.SeedSteps) / float64(s.EnvSteps)
		}
		if !t0.IsZero() && s.EnvSteps >= stop {
			res.MeasuredSteps = s.EnvSteps - s0
			if el := now.Sub(t0).Seconds(); el > 0 && res.MeasuredSteps > 0 {
				res.StepsPerSecond = float64(res.MeasuredSteps) / el
			}
			cancel()
		}
	}
	if err := run.Train(ctx); err != nil && !errors.Is(err, agent.ErrInterrupted) {
		return nil, err
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if res.StepsPerSecond == 0 {
		// The run ended before the measured steps: use its totals.
		res.MeasuredSteps = run.EnvSteps()
		res.StepsPerSecond = float64(run.EnvSteps()) / time.Since(start).Seconds()
	}
	t := time.Now()
	run.Evaluate(cfg.EvalEpisodes, 1, nil)
	res.EvalSeconds = time.Since(t).Seconds()
	res.ProjectedSecond = res.SeedSeconds + float64(cfg.Steps-cfg.SeedSteps)/res.StepsPerSecond +
		float64(res.Evaluations)*res.EvalSeconds
	return res, nil
}

// findTorch returns a Python interpreter that imports torch, or why none.
func findTorch(ctx context.Context, python string) (string, error) {
	cands := []string{"python3", "/usr/bin/python3"}
	if python != "" {
		cands = []string{python}
	}
	var why []string
	for _, c := range cands {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		out, err := exec.CommandContext(ctx, c, "-c", "import torch, numpy").CombinedOutput()
		cancel()
		if err == nil {
			return c, nil
		}
		why = append(why, fmt.Sprintf("%s: %s", c, firstLineOf(strings.TrimSpace(string(out))+" "+err.Error())))
	}
	return "", fmt.Errorf("no Python with torch (%s); install it with: apt-get install python3-torch", strings.Join(why, "; "))
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// loadAverage is the 1-minute load average, or "" where unknown.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(data) + " ")[0]
}

func cpuName() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func runBench(ctx context.Context, opts *benchOptions) error {
	preset, budget, measured := "default", opts.budget, opts.e2e
	if opts.quick {
		preset, budget, measured = "debug", min(budget, 30*time.Millisecond), min(measured, 40)
	}
	if budget <= 0 {
		return fmt.Errorf("--time %v is not valid (allowed: a positive duration such as 1s)", opts.budget)
	}
	if measured < 1 {
		return fmt.Errorf("--e2e-steps %d is not valid (allowed: a positive number of steps)", opts.e2e)
	}
	styles, err := twinStyles(opts.twin)
	if err != nil {
		return err
	}
	rep := &benchReport{BLAS: worldmodel.UseFastBLAS(), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		CPU: cpuName(), CPUs: runtime.NumCPU(), Preset: preset}
	load := loadAverage()
	fx, err := newBenchFixture(preset, opts.env)
	if err != nil {
		return err
	}
	cfg := fx.cfg
	rep.Env = cfg.Env
	trainBatch := 256
	if opts.quick {
		trainBatch = 16
	}
	add := func(name, what string, row benchRow) {
		row.Name, row.What = name, what
		rep.Rows = append(rep.Rows, row)
	}
	for _, dyn := range benchDynamics() {
		mc := cfg.Model
		mc.Dynamics = dyn
		row, err := fx.trainRow(mc, trainBatch, budget)
		if err != nil {
			return fmt.Errorf("bench train/%s: %w", dyn, err)
		}
		add("train/"+dyn, fmt.Sprintf("TrainStep, B=%d K=%d d=%d hidden=%d", trainBatch, mc.Horizon, mc.LatentDim, mc.Hidden), row)
	}
	row, pc, err := fx.decisionRow(cfg, budget)
	if err != nil {
		return fmt.Errorf("bench decision: %w", err)
	}
	add("planner/decision", fmt.Sprintf("Plan, %s N=%d K=%d H=%d I=%d", pc.Method, pc.Candidates, pc.Samples, pc.Horizon, pc.Iterations), row)
	rows := pc.Candidates * pc.Samples
	if row, err = fx.imagineRow(cfg.Model, rows, budget); err != nil {
		return fmt.Errorf("bench imagine: %w", err)
	}
	add("imagine/step", fmt.Sprintf("Model.Step sampled, %d rows", rows), row)
	for _, e := range registry.Entries() {
		if e.Name == "gridworld" {
			continue // needs a map file; the built-in maps cover it
		}
		row, err := envRow(e.Name, budget/4)
		if err != nil {
			return fmt.Errorf("bench env %s: %w", e.Name, err)
		}
		add("env/"+e.Name, "Env.Step with its 32x32 frame", row)
	}
	if opts.gym == "" {
		rep.NoGym = "skipped (--gym \"\")"
	} else if gymRows, err := benchGym(opts.gym, opts.python, budget); err != nil {
		rep.NoGym = oneLine(err)
	} else {
		rep.Rows = append(rep.Rows, gymRows...)
	}

	e2eCfg := cfg
	if opts.quick {
		e2eCfg.Steps, e2eCfg.SeedSteps, e2eCfg.EvalEvery, e2eCfg.EvalEpisodes = 2*measured+20, 20, 2*measured+20, 1
	}
	e2e, err := e2eRun(ctx, e2eCfg, measured)
	if err != nil {
		return fmt.Errorf("bench dream train: %w", err)
	}
	rep.E2E = e2e
	add("train/e2e", fmt.Sprintf("dream train default run, %s", e2e.Env), benchRow{
		NsPerOp: 1e9 / e2e.StepsPerSecond, Ops: e2e.MeasuredSteps,
		Note: fmt.Sprintf("%.0f env steps/s; %d steps projected %s", e2e.StepsPerSecond, e2e.TotalSteps, seconds(e2e.ProjectedSecond)),
	})

	if opts.noTorch {
		rep.NoTorch = "skipped (--no-torch)"
	} else if py, err := findTorch(ctx, opts.python); err != nil {
		rep.NoTorch = err.Error()
	} else if err := timeTwins(ctx, py, fx, rep, trainBatch, rows, styles, opts.twinArgs); err != nil {
		rep.NoTorch = err.Error()
	}

	if opts.scaling != "" {
		sc, err := runScaling(fx, opts.scaling, budget, opts.quick)
		if err != nil {
			return err
		}
		rep.Scaling = sc
	}
	if end := loadAverage(); load != "" && end != "" {
		rep.Load = load + " → " + end
	}
	if opts.json {
		enc := json.NewEncoder(opts.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printBench(opts.out, rep)
}

// formatNs prints a duration in ns with three significant digits.
func formatNs(ns float64) string {
	switch {
	case ns <= 0:
		return "-"
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	}
	return fmt.Sprintf("%.3g s", ns/1e9)
}

// seconds prints a number of seconds as a duration rounded to what
// matters: 0.3s, 42s, 4m12s.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func formatBytes(b float64) string {
	switch {
	case b < 1024:
		return fmt.Sprintf("%.0f B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}

func printBench(out io.Writer, rep *benchReport) error {
	fmt.Fprintf(out, "dream bench: %s, %d CPUs, %s; BLAS %s; preset %s, env %s", rep.CPU, rep.CPUs, rep.Go, rep.BLAS, rep.Preset, rep.Env)
	if rep.Load != "" {
		fmt.Fprintf(out, "; load average %s", rep.Load)
	}
	fmt.Fprint(out, "\n\n")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	head := "NAME\tWHAT\tTIME/OP\tMEDIAN\tALLOCS/OP\tBYTES/OP"
	for _, tr := range rep.Twins {
		// Each ratio names the twin it was measured against.
		head += "\tPYTORCH " + tr.Twin + "\tOURS/" + tr.Twin
	}
	fmt.Fprintln(w, head+"\tNOTE")
	for _, r := range rep.Rows {
		allocs, bytes, median := fmt.Sprintf("%.0f", r.AllocsPerOp), formatBytes(r.BytesPerOp), formatNs(r.MedianNsPerOp)
		if r.Name == "train/e2e" {
			allocs, bytes, median = "-", "-", "-"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", r.Name, r.What, formatNs(r.NsPerOp), median, allocs, bytes)
		for _, tr := range rep.Twins {
			torch, ratio := "-", "-"
			for _, t := range r.Twins {
				if t.Twin == tr.Twin {
					torch, ratio = formatNs(t.NsPerOp), fmt.Sprintf("%.2f", t.Ratio)
				}
			}
			line += "\t" + torch + "\t" + ratio
		}
		fmt.Fprintln(w, line+"\t"+r.Note)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(rep.Twins) > 0 {
		fmt.Fprintln(out, "\nPyTorch twins (best and median of their rounds per thread count; each row above takes the best thread count):")
		for _, tr := range rep.Twins {
			fmt.Fprintf(out, "  twin %s, torch %s:", tr.Twin, tr.Torch)
			for _, th := range sortedKeys(tr.Threads) {
				fmt.Fprintf(out, " %s thread(s)", th)
				if ob := tr.OpenBLASThreads[th]; ob != "" {
					fmt.Fprintf(out, " (OpenBLAS %s)", ob)
				}
				for _, row := range sortedKeys(tr.Threads[th]) {
					t := tr.Threads[th][row]
					fmt.Fprintf(out, " %s %.3g/%.3g ms", row, t.BestMs, t.MedianMs)
				}
				fmt.Fprint(out, ";")
			}
			fmt.Fprintln(out)
		}
	}
	if rep.NoTorch != "" {
		fmt.Fprintf(out, "\nPyTorch: %s\n", rep.NoTorch)
	}
	if rep.NoGym != "" {
		fmt.Fprintf(out, "Gymnasium bridge: %s\n", rep.NoGym)
	}
	if e := rep.E2E; e != nil {
		fmt.Fprintf(out, "dream train (%s, %d steps): seed steps %.1f s, then %.0f steps/s over %d steps, evaluation %.1f s × %d: projected %s\n",
			e.Env, e.TotalSteps, e.SeedSeconds, e.StepsPerSecond, e.MeasuredSteps, e.EvalSeconds, e.Evaluations,
			seconds(e.ProjectedSecond))
	}
	if rep.Scaling != nil {
		fmt.Fprintf(out, "scaling: %s\n", strings.Join(rep.Scaling.Files, ", "))
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
