package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/replay"
	"github.com/dreamrl/dream/worldmodel"
)

// torchPython returns an interpreter with torch and numpy. PATH's python3
// may be a shim of another installation, so Debian's comes second. It
// finds the modules without importing torch, which takes seconds.
func torchPython(t *testing.T) string {
	t.Helper()
	const probe = "import importlib.util as u, sys; sys.exit(not (u.find_spec('torch') and u.find_spec('numpy')))"
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", probe).Run() == nil {
			return path
		}
	}
	t.Fatal("no Python 3 with torch and numpy: install python3-torch (make deps)")
	return ""
}

// twinTerms is what `torch_twin.py check` prints for one style.
type twinTerms struct {
	Prediction, Entropy, Guard, Reward, Cont, Value, Total, Decoder float64
	ActionValue                                                     float64   `json:"action_value"`
	GradNorm                                                        float64   `json:"grad_norm"`
	DecoderGradNorm                                                 float64   `json:"decoder_grad_norm"`
	ValueTargets                                                    []float64 `json:"value_targets"`
	ValueWeights                                                    []float64 `json:"value_weights"`
	ActionValueTargets                                              []float64 `json:"action_value_targets"`
	// Imagine is the sampled imagination step's outputs.
	Imagine struct {
		Next, Reward, Cont []float64
	}
	// After holds, per param, the largest difference of the twin's
	// weights after the step from dream's, and Change dream's largest
	// change of them in the step.
	After struct {
		Diff, Change map[string]float64
	}
}

// twinCase is one model config, batch and traced dream step: the debug
// preset's config of env with dynamics dyn, changed by mod.
type twinCase struct {
	name, env, dyn string
	mod            func(*agent.Config)
	dir            string
	tr             worldmodel.StepTrace
	// next, reward and cont are Model.Step's sampled imagination step
	// from the model after the step.
	next, reward, cont []float32
}

// Tolerances of the agreement, for float32 networks computed in another
// order (gonum/OpenBLAS kernels against PyTorch's, float64 loss kernels in
// dream against float32 in the twin). A loss is a sum of a few thousand
// float32 products and exponentials, each rounded to 2^-24 ≈ 6e-8; summed
// in another order their errors reach ~1e-6 relative (measured: at most
// 6e-7 of a loss term, 3e-6 of a gradient norm). termRel leaves a margin
// of 10 over that for other BLAS kernels; termAbs covers terms near zero,
// whose relative error means nothing.
const (
	termRel = 3e-5
	termAbs = 1e-7
	// The weights after the step: Adam moves each by about lr·m̂/(√v̂+ε),
	// a smooth function of the gradient once the moments are warm (two
	// steps here), so gradients that agree to ~1e-6 give steps that agree
	// to ~1e-6 of lr (measured: at most 1.2e-4 of dream's largest change,
	// the float32 rounding of the weights themselves). stepRel allows a
	// margin of 16 for weights whose gradient is near zero, where m̂/√v̂
	// is less smooth.
	stepRel = 2e-3
)

func agrees(got, want float64) bool {
	return math.Abs(got-want) <= termAbs+termRel*math.Abs(want)
}

// TestTwinAgrees runs one training step of dream's world model and of
// the PyTorch twin from the same weights on the same batch with the same
// SIGReg directions, for the gridworld and the physics defaults (the debug
// preset's sizes) and every dynamics, and checks that every loss term, the
// value targets, the gradient norms and the weights after the step
// (Adam, clipping, EMA target, Polyak average) agree, and so do the
// outputs of a sampled imagination step with the same draws, for each of
// the twin's styles. The configs are agent.Config's resolved defaults, passed
// to the twin in the model files: a default dream changes reaches the twin
// without an edit here.
func TestTwinAgrees(t *testing.T) {
	py := torchPython(t)
	// The plain twin, the tuned twin with its default knobs, and the
	// tuned twin with every other knob.
	twinStyles := []string{"plain", "tuned", "tuned:sigreg=rotation:optim=flat:patchify=conv-cl:jit"}
	root := t.TempDir()
	var cases []*twinCase
	for _, env := range []struct{ kind, name string }{
		{"gridworld", "gridworld/frozenlake-4x4"},
		{"physics", "physics/cartpole"},
	} {
		for _, dyn := range []string{worldmodel.DynamicsGaussian, worldmodel.DynamicsDeterministic, worldmodel.DynamicsMixture} {
			cases = append(cases, &twinCase{name: env.kind + "/" + dyn, env: env.name, dyn: dyn})
		}
	}
	// The twin's other settings, which no environment's defaults reach
	// today: the world model's own defaults (imagined TD(λ) targets on
	// imagined latents, no RMS normalisation), state vectors, n-step
	// targets, and the other forms of q.
	cases = append(cases,
		&twinCase{name: "worldmodel-defaults", env: "gridworld/frozenlake-4x4", dyn: worldmodel.DynamicsGaussian,
			mod: func(c *agent.Config) {
				m, _ := worldmodel.Preset("debug")
				c.Model = m
			}},
		&twinCase{name: "state-nstep-symlog-stopgrad", env: "physics/cartpole", dyn: worldmodel.DynamicsMixture,
			mod: func(c *agent.Config) {
				c.Obs = string(envs.ObsState)
				c.Model.ValueTarget, c.Model.ValueTransform = worldmodel.ValueNStep, worldmodel.ValueTransformSymlog
				c.Model.Target = worldmodel.TargetStopGrad
			}},
		&twinCase{name: "own-q-average-greedy", env: "gridworld/frozenlake-4x4", dyn: worldmodel.DynamicsDeterministic,
			mod: func(c *agent.Config) {
				c.Model.ValueExpectile, c.Model.ValueGreedy = -1, worldmodel.ValueGreedyAverage
				c.Model.QNet, c.Model.ValueLatents = worldmodel.QNetOwn, worldmodel.ValueLatentsImagined
			}},
	)
	for _, c := range cases {
		c.dir = filepath.Join(root, strings.ReplaceAll(c.name, "/", "-"))
		if err := c.write(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	args := []string{"torch_twin.py", "check", "--styles", strings.Join(twinStyles, ",")}
	for _, c := range cases {
		args = append(args, c.dir)
	}
	cmd := exec.Command(py, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("torch_twin.py check: %v\n%s", err, stderr.String())
	}
	var out struct {
		Version int
		Cases   []struct {
			Fixture string
			Styles  map[string]twinTerms
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("twin output: %v\n%s", err, stdout.String())
	}
	if out.Version != TwinVersion {
		t.Errorf("twin version %d, want %d", out.Version, TwinVersion)
	}
	if len(out.Cases) != len(cases) {
		t.Fatalf("%d cases from the twin, want %d", len(out.Cases), len(cases))
	}
	for i, c := range cases {
		if len(out.Cases[i].Styles) != len(twinStyles) {
			t.Errorf("%s: styles %v, want %d", c.name, out.Cases[i].Styles, len(twinStyles))
		}
		for style, got := range out.Cases[i].Styles {
			t.Run(c.name+"/"+style, func(t *testing.T) { checkTwin(t, c, got) })
		}
	}
}

func checkTwin(t *testing.T, c *twinCase, got twinTerms) {
	tr := &c.tr
	for _, x := range []struct {
		name      string
		got, want float64
	}{
		{"prediction", got.Prediction, tr.Prediction},
		{"entropy", got.Entropy, tr.Entropy},
		{"guard", got.Guard, tr.Guard},
		{"reward", got.Reward, tr.Reward},
		{"cont", got.Cont, tr.Cont},
		{"value", got.Value, tr.Value},
		{"action_value", got.ActionValue, tr.ActionValue},
		{"decoder", got.Decoder, tr.Decoder},
		{"total", got.Total, tr.Total},
		{"grad_norm", got.GradNorm, tr.GradNorm},
		{"decoder_grad_norm", got.DecoderGradNorm, tr.DecoderGradNorm},
	} {
		if !agrees(x.got, x.want) {
			t.Errorf("%s: twin %.9g, dream %.9g (relative %.2g)", x.name, x.got, x.want, math.Abs(x.got-x.want)/math.Abs(x.want))
		} else if testing.Verbose() && x.want != 0 {
			t.Logf("%s: twin %.9g, dream %.9g (relative %.2g)", x.name, x.got, x.want, math.Abs(x.got-x.want)/math.Abs(x.want))
		}
	}
	// An element of an array is a sum of terms of about the array's
	// scale (a latent μ + σε near zero, say): its tolerance is relative
	// to the largest element.
	rows := func(name string, got []float64, want []float32) {
		if len(got) != len(want) {
			t.Errorf("%s: %d rows from the twin, dream has %d", name, len(got), len(want))
			return
		}
		scale := 0.0
		for _, w := range want {
			scale = max(scale, math.Abs(float64(w)))
		}
		for i, w := range want {
			if d := math.Abs(got[i] - float64(w)); d > termAbs+termRel*scale {
				t.Errorf("%s row %d: twin %.9g, dream %.9g (%.2g of the largest, %.3g)", name, i, got[i], w, d/scale, scale)
				return
			}
		}
	}
	rows("value targets", got.ValueTargets, tr.ValueTargets)
	rows("imagined next latents", got.Imagine.Next, c.next)
	rows("imagined rewards", got.Imagine.Reward, c.reward)
	rows("imagined continuation", got.Imagine.Cont, c.cont)
	rows("value weights", got.ValueWeights, tr.ValueWeights)
	if tr.ActionValueTargets != nil || got.ActionValueTargets != nil {
		rows("action-value targets", got.ActionValueTargets, tr.ActionValueTargets)
	}
	worst, at, change := 0.0, "", 0.0
	for name, diff := range got.After.Diff {
		change = max(change, got.After.Change[name])
		if diff > worst {
			worst, at = diff, name
		}
	}
	if len(got.After.Diff) == 0 || change == 0 {
		t.Fatalf("the twin compared no weights after the step (%d params, largest change %g)", len(got.After.Diff), change)
	}
	if worst > stepRel*change {
		t.Errorf("after the step %s differs by %.3g, %.2g of dream's largest change %.3g", at, worst, worst/change, change)
	} else if testing.Verbose() {
		t.Logf("after the step: largest difference %.3g (%s), %.2g of dream's largest change %.3g", worst, at, worst/change, change)
	}
}

// write writes the case's check fixture into c.dir: a model of its
// resolved config, warmed by two steps, one batch of its environment's
// frames, dream's step on it and the model after the step.
func (c *twinCase) write() error {
	cfg, err := agent.Preset("debug")
	if err != nil {
		return err
	}
	cfg.Env = c.env
	if c.mod != nil {
		c.mod(&cfg)
	}
	cfg.Model.Dynamics = c.dyn
	cfg = cfg.WithDefaults()
	env, err := registry.Make(cfg.Env, envs.Options{Obs: envs.ObsMode(cfg.Obs), Size: cfg.Size})
	if err != nil {
		return err
	}
	spec := agent.ModelSpec(env, cfg.Model.FrameStack)
	rng := rand.New(rand.NewPCG(7, 11))
	m, err := worldmodel.New(cfg.Model, spec, rng)
	if err != nil {
		return err
	}
	spec = m.Spec()
	frames := playFrames(env, spec, 64, rng)
	B, K := cfg.BatchSize, cfg.Model.Horizon
	// Two steps first: the heads leave zero, Adam has moments, and the
	// input statistics have frames.
	for range 2 {
		if _, err := m.TrainStep(twinBatch(frames, spec, B, K, rng), rng); err != nil {
			return err
		}
	}
	b := twinBatch(frames, spec, B, K, rng)
	f, err := NewFixture(c.dir, b)
	if err != nil {
		return err
	}
	if err := f.WriteModel("before.dwm", m); err != nil {
		return err
	}
	if _, err := m.TrainStepTraced(b, rng, &c.tr); err != nil {
		return err
	}
	if err := f.WriteModel("after.dwm", m); err != nil {
		return err
	}
	if err := f.SetCheck("before.dwm", "after.dwm", &c.tr, m.LatentDim()); err != nil {
		return err
	}
	// One sampled imagination step, with the draws Step takes from its
	// generator (documented: row after row, ε, or u then ε for the
	// mixture) drawn again from a generator in the same state.
	const rows = 16
	d, A := m.LatentDim(), m.ActionDim()
	z, a := make([]float32, rows*d), make([]float32, rows*A)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	for r := range rows {
		a[r*A+rng.IntN(A)] = 1
	}
	var noise []float32
	draws := rand.New(rand.NewPCG(3, 5))
	switch c.dyn {
	case worldmodel.DynamicsGaussian:
		noise = make([]float32, rows*d)
		for i := range noise {
			noise[i] = float32(draws.NormFloat64())
		}
	case worldmodel.DynamicsMixture:
		noise = make([]float32, rows*(d+1))
		for i := range noise {
			if i%(d+1) == 0 {
				noise[i] = float32(draws.Float64())
			} else {
				noise[i] = float32(draws.NormFloat64())
			}
		}
	}
	c.next, c.reward, c.cont = make([]float32, rows*d), make([]float32, rows), make([]float32, rows)
	m.Step(c.next, c.reward, c.cont, z, a, rows, true, rand.New(rand.NewPCG(3, 5)))
	if err := f.SetCheckImagine("after.dwm", z, a, noise, rows); err != nil {
		return err
	}
	return f.Close()
}

// playFrames returns n input rows of random play in env: each row stacks
// the spec's frames, the newest last, restarting at an episode's end.
func playFrames(env envs.Env, spec worldmodel.Spec, n int, rng *rand.Rand) [][]float32 {
	in, unit := spec.InputDim(), spec.ObsDim
	raw := make([]uint8, unit)
	obsRow := func(o envs.Observation) []float32 {
		row := make([]float32, unit)
		if spec.Pixels() {
			h, w := spec.Frame[0], spec.Frame[1]
			raw = replay.PackRGB(raw, o.Frame)
			worldmodel.PixelsToInput(row, raw, 1, h, w)
			return row
		}
		for i, v := range o.Vector {
			row[i] = float32(v)
		}
		return row
	}
	action := make([]float64, env.ActionSpace().Dim())
	history := [][]float32{obsRow(env.Reset(1))}
	rows := make([][]float32, 0, n)
	for len(rows) < n {
		agent.RandomAction(action, env.ActionSpace(), rng)
		o, _, term, trunc := env.Step(action)
		if term || trunc {
			o = env.Reset(rng.Uint64())
			history = history[:0]
		}
		history = append(history, obsRow(o))
		row := make([]float32, in)
		for s := 0; s < spec.Stack; s++ {
			k := max(len(history)-spec.Stack+s, 0)
			copy(row[s*unit:(s+1)*unit], history[k])
		}
		rows = append(rows, row)
	}
	return rows
}

// twinBatch draws a batch of B sequences of K steps from frames: random
// frames and actions, rewards of 0, 1 or a fraction, and about one
// terminal step in eight, so that the masks after it are exercised.
func twinBatch(frames [][]float32, spec worldmodel.Spec, B, K int, rng *rand.Rand) *worldmodel.Batch {
	in, A := spec.InputDim(), spec.ActionDim
	b := &worldmodel.Batch{B: B, K: K,
		Obs:        make([]float32, (K+1)*B*in),
		Actions:    make([]float32, K*B*A),
		Rewards:    make([]float32, K*B),
		Terminated: make([]float32, K*B),
	}
	for r := 0; r < (K+1)*B; r++ {
		copy(b.Obs[r*in:(r+1)*in], frames[rng.IntN(len(frames))])
	}
	for r := 0; r < K*B; r++ {
		row := b.Actions[r*A : (r+1)*A]
		if spec.Discrete {
			row[rng.IntN(A)] = 1
		} else {
			for i := range row {
				row[i] = float32(2*rng.Float64() - 1)
			}
		}
		switch rng.IntN(4) {
		case 0:
			b.Rewards[r] = 1
		case 1:
			b.Rewards[r] = float32(rng.Float64())
		}
		if rng.IntN(8) == 0 {
			b.Terminated[r] = 1
		}
	}
	return b
}

// TestTwinTimes runs the twin's timing on a tiny fixture of each
// environment's debug-preset config, in each style, and checks that it
// reports every row: a smoke test of what `dream bench` runs (its
// numbers mean nothing here).
func TestTwinTimes(t *testing.T) {
	py := torchPython(t)
	dir := t.TempDir()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env = "physics/cartpole"
	cfg = cfg.WithDefaults()
	env, err := registry.Make(cfg.Env, envs.Options{Obs: envs.ObsMode(cfg.Obs), Size: cfg.Size})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	spec := agent.ModelSpec(env, cfg.Model.FrameStack)
	m, err := worldmodel.New(cfg.Model, spec, rng)
	if err != nil {
		t.Fatal(err)
	}
	spec = m.Spec()
	f, err := NewFixture(dir, twinBatch(playFrames(env, spec, 16, rng), spec, 4, cfg.Model.Horizon, rng))
	if err != nil {
		t.Fatal(err)
	}
	f.SetRounds(1)
	rows := []string{"imagine/step"}
	for _, dyn := range []string{worldmodel.DynamicsGaussian, worldmodel.DynamicsDeterministic, worldmodel.DynamicsMixture} {
		mc := cfg.Model
		mc.Dynamics = dyn
		m, err := worldmodel.New(mc, spec, rng)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.AddTrain("train/"+dyn, dyn+".dwm", m, 1); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, "train/"+dyn)
	}
	z, a := make([]float32, 8*m.LatentDim()), make([]float32, 8*m.ActionDim())
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	for r := range 8 {
		a[r*m.ActionDim()] = 1
	}
	if err := f.SetImagine("imagine/step", "imagine.dwm", m, z, a, 8, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		twin string
		args []string
	}{
		{"2-plain", []string{"--style", "plain"}},
		// The tuned twin times in a process of its own with OpenBLAS's
		// threads set; its knobs' code is the agreement test's.
		{"2-tuned+sigreg=rotation", []string{"--style", "tuned", "--sigreg", "rotation"}},
	} {
		t.Run(tc.twin, func(t *testing.T) {
			cmd := exec.Command(py, append([]string{"torch_twin.py", "time", dir, "--threads", "1"}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("torch_twin.py time: %v\n%s", err, stderr.String())
			}
			var out struct {
				Twin    string
				Threads map[string]map[string]struct {
					BestMs   float64 `json:"best_ms"`
					MedianMs float64 `json:"median_ms"`
				}
				OpenBLASThreads map[string]string `json:"openblas_threads"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("twin output: %v\n%s", err, stdout.String())
			}
			if out.Twin != tc.twin {
				t.Errorf("twin %q, want %q", out.Twin, tc.twin)
			}
			for _, r := range rows {
				if tm, ok := out.Threads["1"][r]; !ok || !(tm.BestMs > 0) || tm.MedianMs < tm.BestMs {
					t.Errorf("row %s: %+v (present %v)", r, tm, ok)
				}
			}
			if strings.HasPrefix(tc.twin, "2-tuned") && out.OpenBLASThreads["1"] != "1" {
				t.Errorf("the tuned twin ran with OpenBLAS threads %q, want 1", out.OpenBLASThreads["1"])
			}
		})
	}
}
