package worldmodel

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCollapse trains on gridworld frames (a red square walking on a grey
// board) with and without the collapse guard. The prediction loss alone
// has a trivial minimum, all embeddings equal: without a guard the spread
// of the embeddings of the board's cells falls towards zero, with SIGReg it
// stays near the unit spread SIGReg asks for. The heads' losses, which
// also keep embeddings apart, are switched almost off.
func TestCollapse(t *testing.T) {
	g := grid{side: 4, cell: 4}
	frames, n := g.frames()
	spread := map[string]float64{}
	for _, guard := range []string{GuardNone, GuardSIGReg} {
		cfg, _ := Preset("debug")
		cfg.Patch = 4
		cfg.Guard = guard
		cfg.RewardWeight, cfg.ContWeight, cfg.ValueWeight = 1e-6, 1e-6, 1e-6
		rng := rand.New(rand.NewPCG(1, 2))
		m, err := New(cfg, g.spec(), rng)
		if err != nil {
			t.Fatal(err)
		}
		var first, last Metrics
		for i := 0; i < 300; i++ {
			met, err := m.TrainStep(g.batch(32, cfg.Horizon, rng), rng)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = met
			}
			last = met
		}
		z := make([]float32, n*cfg.LatentDim)
		m.Encode(z, frames, n)
		spread[guard] = meanStd(z, cfg.LatentDim)
		t.Logf("%s: embedding spread %.4f, log σ² %.2f, decoder loss %.4f → %.4f",
			guard, spread[guard], last.LogVar, first.Decoder, last.Decoder)
		if last.Decoder >= first.Decoder {
			t.Errorf("%s: the probe decoder did not learn: loss %g → %g", guard, first.Decoder, last.Decoder)
		}
	}
	// Over seeds the spreads after 300 steps are 0.02–0.08 without a
	// guard and 0.55–0.92 with SIGReg.
	if spread[GuardNone] > 0.1 || spread[GuardNone] > 0.15*spread[GuardSIGReg] {
		t.Errorf("without a guard the spread is %g, want it collapsed below 0.1 and 0.15× SIGReg's %g",
			spread[GuardNone], spread[GuardSIGReg])
	}
	if spread[GuardSIGReg] < 0.4 {
		t.Errorf("with SIGReg the spread is %g, want at least 0.4", spread[GuardSIGReg])
	}
}

// linearModel trains a debug model with one-step prediction on the linear
// system and returns it.
func linearModel(t *testing.T, sys *linearSystem, rank, steps int, rng *rand.Rand) *Model {
	t.Helper()
	cfg, _ := Preset("debug")
	cfg.Rank = rank
	// One-step training: with k > 1 the predictor also sees imagined
	// means, which carry less information than encoded frames, and its
	// one-step variance grows to cover the k-step spread.
	cfg.Horizon = 1
	m, err := New(cfg, Spec{ObsDim: sys.n, ActionDim: sys.actions, Discrete: true}, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < steps; i++ {
		if _, err := m.TrainStep(sys.batch(32, cfg.Horizon, rng), rng); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestCalibration trains on s' = A s + b_a + ε with Gaussian ε and checks
// the coverage of held-out one-step predictions: the shares of normalised
// residuals within 1σ and 2σ are within 0.08 of 0.683 and 0.954. (Over
// 512·8 residuals the Monte Carlo error of a share is below 0.01.)
func TestCalibration(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sys := newLinearSystem(4, 4, 0.2, 0, rng)
	m := linearModel(t, sys, 0, 1000, rng)
	held := sys.batch(512, 1, rand.New(rand.NewPCG(9, 9)))
	c := m.Calibration(held)
	t.Logf("calibration %+v", c)
	if c.N != 512 {
		t.Fatalf("scored %d rows, want 512", c.N)
	}
	if math.Abs(c.Within1-0.683) > 0.08 || math.Abs(c.Within2-0.954) > 0.08 {
		t.Errorf("coverage 1σ %.3f, 2σ %.3f; want 0.683 ± 0.08 and 0.954 ± 0.08", c.Within1, c.Within2)
	}

	// The deterministic model is scored with unit variances.
	det, _ := testModel(t, func(c *Config) { c.Dynamics = DynamicsDeterministic }, false, 0, rng)
	dc := det.Calibration(sys3(rng).batch(16, 2, rng))
	if dc.N != 32 || math.IsNaN(dc.NLLPerDim) {
		t.Errorf("deterministic calibration %+v", dc)
	}
}

func sys3(rng *rand.Rand) *linearSystem { return newLinearSystem(3, 2, 0.1, 0, rng) }

// TestCorrelatedNoise: where the noise of the next state lies along an
// action-dependent direction (so that no fixed rotation of the latent
// space makes it independent), the rank-1 model reaches a lower held-out
// NLL than the diagonal one trained on the same data.
func TestCorrelatedNoise(t *testing.T) {
	nll := map[int]float64{}
	for _, rank := range []int{0, 1} {
		rng := rand.New(rand.NewPCG(3, 4))
		sys := newLinearSystem(4, 4, 0.05, 0.4, rng)
		m := linearModel(t, sys, rank, 800, rng)
		c := m.Calibration(sys.batch(512, 1, rand.New(rand.NewPCG(9, 9))))
		nll[rank] = c.NLLPerDim
		t.Logf("rank %d: %+v", rank, c)
	}
	if nll[1] > nll[0]-0.1 {
		t.Errorf("held-out NLL per dimension: rank 1 %.3f, diagonal %.3f; want rank 1 lower by 0.1", nll[1], nll[0])
	}
}

// snapshot copies every weight and moment of a model.
func snapshot(m *Model) [][]float32 {
	var s [][]float32
	for _, p := range m.params {
		s = append(s, slices.Clone(p.data), slices.Clone(p.m), slices.Clone(p.v))
	}
	return append(s, slices.Clone(m.norm.mean), []float32{m.norm.inv})
}

func sameSnapshot(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, batch := testModel(t, nil, false, 2, rng)
	before, steps := snapshot(m), m.Steps()
	b := batch(16, m.cfg.Horizon)
	b.Obs[5] = float32(math.NaN())
	_, err := m.TrainStep(b, rng)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("TrainStep with a NaN input = %v, want ErrNonFinite", err)
	}
	t.Log(err)
	if !sameSnapshot(before, snapshot(m)) || m.Steps() != steps {
		t.Fatal("a failed step changed the model")
	}
	b.Obs[5] = 0
	b.Rewards[0] = float32(math.Inf(1))
	if _, err := m.TrainStep(b, rng); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("TrainStep with an infinite reward = %v, want ErrNonFinite", err)
	}
	b.Rewards[0] = 0
	if _, err := m.TrainStep(b, rng); err != nil {
		t.Fatalf("a good step after failed ones: %v", err)
	}
	if m.Steps() != steps+1 {
		t.Errorf("steps %d, want %d", m.Steps(), steps+1)
	}
}

func TestBadBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, batch := testModel(t, nil, false, 0, rng)
	cases := map[string]func(b *Batch){
		"zero B":      func(b *Batch) { b.B = 0 },
		"short obs":   func(b *Batch) { b.Obs = b.Obs[1:] },
		"long acts":   func(b *Batch) { b.Actions = append(b.Actions, 0) },
		"short rew":   func(b *Batch) { b.Rewards = b.Rewards[1:] },
		"no terminal": func(b *Batch) { b.Terminated = nil },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			b := batch(4, 2)
			mod(b)
			if _, err := m.TrainStep(b, rng); !errors.Is(err, ErrBatch) {
				t.Errorf("TrainStep = %v, want ErrBatch", err)
			}
		})
	}
	if _, err := m.TrainStep(nil, rng); !errors.Is(err, ErrBatch) {
		t.Errorf("TrainStep(nil) = %v, want ErrBatch", err)
	}
}

// TestDeterminism: the same seed gives the same weights, whatever the
// batch sizes seen in between (the graph is rebuilt when they change).
func TestDeterminism(t *testing.T) {
	run := func() [][]float32 {
		rng := rand.New(rand.NewPCG(11, 12))
		m, batch := testModel(t, func(c *Config) { c.Rank = 1; c.FeedSamples = true }, false, 3, rng)
		for _, B := range []int{8, 5, 8} {
			if _, err := m.TrainStep(batch(B, 2), rng); err != nil {
				t.Fatal(err)
			}
		}
		return snapshot(m)
	}
	if !sameSnapshot(run(), run()) {
		t.Error("two runs from one seed differ")
	}
}

// TestTargets checks the target networks: stop-gradient copies the online
// encoder after every step, EMA moves ξ ← τξ + (1−τ)θ.
func TestTargets(t *testing.T) {
	for _, target := range []string{TargetStopGrad, TargetEMA} {
		rng := rand.New(rand.NewPCG(1, 2))
		m, batch := testModel(t, func(c *Config) { c.Target = target }, false, 1, rng)
		prevTarget := slices.Clone(m.tenc.second.w.data)
		if _, err := m.TrainStep(batch(8, 2), rng); err != nil {
			t.Fatal(err)
		}
		online, tgt := m.enc.second.w.data, m.tenc.second.w.data
		tau := float32(m.cfg.EMATau)
		for i := range online {
			want := online[i]
			if target == TargetEMA {
				want = tau*prevTarget[i] + (1-tau)*online[i]
			}
			if math.Abs(float64(tgt[i]-want)) > 1e-6 {
				t.Fatalf("%s: target weight %d = %g, want %g", target, i, tgt[i], want)
			}
		}
	}
}

// constantHeads sets the reward, continuation and target value networks to
// constants: r̂ ≡ r, ĉ ≡ sigmoid(logit), V̄ ≡ v.
func constantHeads(m *Model, r, logit, v float32) {
	clear(m.pred.reward.w.data)
	m.pred.reward.b.data[0] = r
	clear(m.pred.cont.w.data)
	m.pred.cont.b.data[0] = logit
	clear(m.tval.out.w.data)
	m.tval.out.b.data[0] = v
}

func TestValueTargets(t *testing.T) {
	const r, logit, v = 0.3, 1.5, 2.0
	p := sigmoid(logit)
	for _, discrete := range []bool{true, false} {
		t.Run(fmt.Sprintf("lambda discrete %v", discrete), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			m, batch := testModel(t, nil, false, 2, rng)
			if !discrete {
				// Continuous actions: the greedy action is one of
				// ValueCandidates random actions.
				var err error
				spec := m.Spec()
				spec.Discrete = false
				if m, err = New(m.Config(), spec, rng); err != nil {
					t.Fatal(err)
				}
				if _, err := m.TrainStep(batch(8, 2), rng); err != nil {
					t.Fatal(err)
				}
			}
			constantHeads(m, r, logit, v)
			b := batch(5, 2)
			dst := make([]float32, b.B)
			x := make([]float32, (b.K+1)*b.B*m.standardLen())
			m.standardize(x, b.Obs, (b.K+1)*b.B)
			valid := []float32{1, 1, 1, 1, 1}
			mean := m.valueTargets(dst, b, x, nil, valid, rng)
			g, gamma, lambda := float64(v), m.cfg.Discount, m.cfg.Lambda
			for h := 0; h < m.cfg.ValueHorizon; h++ {
				g = r + gamma*p*((1-lambda)*v+lambda*g)
			}
			for i, got := range dst {
				if !near(float64(got), g, 1e-5) {
					t.Fatalf("target %d = %g, want %g", i, got, g)
				}
			}
			if !near(mean, g, 1e-5) {
				t.Errorf("mean target %g, want %g", mean, g)
			}
		})
	}
	t.Run("lambda greedy", func(t *testing.T) {
		// With one imagined step the target is max_a r̂ + γ ĉ V̄(μ(s, a)).
		rng := rand.New(rand.NewPCG(1, 2))
		m, batch := testModel(t, func(c *Config) { c.ValueHorizon = 1 }, false, 30, rng)
		for i := range m.tval.out.w.data { // a target value that varies
			m.tval.out.w.data[i] = float32(rng.NormFloat64())
		}
		// Two frames per sequence: the rows of frame j start from s_j.
		b := batch(6, 2)
		rows := b.K * b.B
		x := make([]float32, (b.K+1)*b.B*m.standardLen())
		m.standardize(x, b.Obs, (b.K+1)*b.B)
		dst := make([]float32, rows)
		valid := make([]float32, rows)
		for i := range valid {
			valid[i] = 1
		}
		m.valueTargets(dst, b, x, nil, valid, rng)
		d := m.LatentDim()
		z := make([]float32, rows*d)
		m.Encode(z, b.Obs, rows)
		next, rew, cont, val := make([]float32, d), make([]float32, 1), make([]float32, 1), make([]float32, 1)
		differs := false
		for i := 0; i < rows; i++ {
			best, worst := math.Inf(-1), math.Inf(1)
			for a := 0; a < m.ActionDim(); a++ {
				act := make([]float32, m.ActionDim())
				act[a] = 1
				m.Step(next, rew, cont, z[i*d:(i+1)*d], act, 1, false, nil)
				m.valueWith(m.tval, val, next, 1)
				q := float64(rew[0]) + m.cfg.Discount*float64(cont[0])*float64(val[0])
				best, worst = math.Max(best, q), math.Min(worst, q)
			}
			if !near(float64(dst[i]), best, 1e-5) {
				t.Fatalf("row %d: target %g, want the best one-step value %g", i, dst[i], best)
			}
			differs = differs || best-worst > 1e-3
		}
		if !differs {
			t.Error("the actions' values never differ: the check has no power")
		}
	})
	t.Run("nstep", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		m, batch := testModel(t, func(c *Config) { c.ValueTarget = ValueNStep; c.NStep = 2 }, false, 2, rng)
		constantHeads(m, r, logit, v)
		B, K := 2, 3
		b := batch(B, K)
		// Sequence 0 runs on; sequence 1 ends at step 1.
		b.Rewards = []float32{1, 2, 3, 4, 5, 6}
		b.Terminated = []float32{0, 0, 0, 1, 0, 0}
		gamma := m.cfg.Discount
		want := []float64{
			1 + gamma*3 + gamma*gamma*v, // j=0, b=0: r0 + γ r1 + γ² V̄
			2 + gamma*4,                 // j=0, b=1: ends after step 1
			3 + gamma*5 + gamma*gamma*v, // j=1, b=0
			4,                           // j=1, b=1: terminal step
			5 + gamma*v,                 // j=2, b=0: cut at the sequence end
			6 + gamma*v,                 // j=2, b=1: after the end (masked)
		}
		zbar := make([]float32, K*B*m.cfg.LatentDim)
		dst := make([]float32, K*B)
		valid := []float32{1, 1, 1, 1, 1, 0}
		mean := m.valueTargets(dst, b, nil, zbar, valid, rng)
		sum := 0.0
		for i, got := range dst {
			if !near(float64(got), want[i], 1e-5) {
				t.Fatalf("target %d = %g, want %g", i, got, want[i])
			}
			sum += want[i] * float64(valid[i])
		}
		if !near(mean, sum/5, 1e-5) {
			t.Errorf("mean target %g, want %g", mean, sum/5)
		}
	})
}

// TestTrainingLearns checks that the heads learn: on the linear system the
// reward (the first state coordinate) is predicted far better than by its
// mean after a short training.
func TestTrainingLearns(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	m, batch := testModel(t, nil, false, 0, rng)
	var first, last Metrics
	for i := 0; i < 400; i++ {
		met, err := m.TrainStep(batch(32, m.cfg.Horizon), rng)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = met
		}
		last = met
	}
	t.Logf("first %+v\nlast %+v", first, last)
	if last.Reward > 0.5*first.Reward {
		t.Errorf("reward loss %g → %g, want a drop by half", first.Reward, last.Reward)
	}
	names, values := last.Names(), last.Values()
	if len(names) != len(values) || names[0] != "total" || values[0] != last.Total {
		t.Errorf("Names %v and Values %v do not match", names, values)
	}
}

// TestTerminalMasking: what follows a terminal step in a sequence (the
// frames, actions and rewards of another episode) changes no gradient.
// The collapse guard, which sees every frame, is off for the check.
func TestTerminalMasking(t *testing.T) {
	for _, dyn := range []string{DynamicsGaussian, DynamicsDeterministic, DynamicsMixture} {
		rng := rand.New(rand.NewPCG(1, 2))
		m, batch := testModel(t, func(c *Config) {
			c.Dynamics, c.Guard, c.ValueTarget = dyn, GuardNone, ValueNStep
			if dyn == DynamicsGaussian {
				c.Rank = 1
			}
		}, false, 2, rng)
		B, K := 4, 3
		b := batch(B, K)
		if _, err := m.TrainStep(b, rng); err != nil {
			t.Fatal(err)
		}
		b.Terminated[0] = 1 // sequence 0 ends at step 0
		grads := func(b *Batch) [][]float32 {
			tg := m.tg
			m.fillInputs(tg, b, rand.New(rand.NewPCG(9, 9)))
			if err := tg.vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			defer tg.reset()
			var out [][]float32
			for _, p := range tg.trained {
				out = append(out, slices.Clone(gradOf(p)))
			}
			return out
		}
		before := grads(b)
		in, A := m.InputDim(), m.ActionDim()
		for j := 2; j <= K; j++ {
			for i := 0; i < in; i++ {
				b.Obs[(j*B)*in+i] += 5
			}
		}
		for j := 1; j < K; j++ {
			b.Rewards[j*B] += 3
			b.Terminated[j*B] = 1
			clear(b.Actions[j*B*A : (j*B+1)*A])
			b.Actions[j*B*A] = 1
		}
		after := grads(b)
		for i, g := range before {
			for k := range g {
				if !near(float64(after[i][k]), float64(g[k]), 1e-5) {
					t.Fatalf("%s: gradient of %s[%d] changed from %g to %g", dyn, m.tg.trained[i].name, k, g[k], after[i][k])
				}
			}
		}
	}
}

// With symlog values the heads regress symlog of the returns, but the
// reported mean value target stays a return: two models from the same
// seed, one of each, report the same first mean target and different
// value losses.
func TestSymlogValueTargetIsAReturn(t *testing.T) {
	step := func(transform string) Metrics {
		rng := rand.New(rand.NewPCG(21, 22))
		m, batch := testModel(t, func(c *Config) {
			c.ValueTransform, c.ValueTarget, c.Discount = transform, ValueNStep, 0.9
		}, false, 0, rng)
		b := batch(6, 3)
		for i := range b.Rewards {
			b.Rewards[i] = 5 // returns of about 14: symlog compresses them
		}
		met, err := m.TrainStep(b, rng)
		if err != nil {
			t.Fatal(err)
		}
		return met
	}
	none, sym := step(ValueTransformNone), step(ValueTransformSymlog)
	if !near(sym.ValueTarget, none.ValueTarget, 1e-5) || none.ValueTarget < 5 {
		t.Errorf("mean value target: symlog %g, none %g; want equal returns above 5", sym.ValueTarget, none.ValueTarget)
	}
	if !(sym.Value < none.Value) {
		t.Errorf("value loss: symlog %g, none %g; want the symlog loss smaller", sym.Value, none.Value)
	}
}

// TestLRScale checks that a step at SetLRScale(s) moves every trained
// weight by s times what the same step moves it at the full rate (Adam's
// update is linear in the rate), and that a scale outside (0, 1] panics.
func TestLRScale(t *testing.T) {
	deltas := func(scale float64) []float32 {
		rng := rand.New(rand.NewPCG(9, 9))
		m, batch := testModel(t, nil, false, 3, rng)
		before := map[string][]float32{}
		for _, p := range m.tg.trained {
			before[p.name] = slices.Clone(p.data)
		}
		if scale != 1 {
			m.SetLRScale(scale)
		}
		if _, err := m.TrainStep(batch(16, m.cfg.Horizon), rng); err != nil {
			t.Fatal(err)
		}
		var d []float32
		for _, p := range m.tg.trained {
			for i, w := range p.data {
				d = append(d, w-before[p.name][i])
			}
		}
		return d
	}
	full, quarter := deltas(1), deltas(0.25)
	moved := 0
	for i := range full {
		if math.Abs(float64(quarter[i]-0.25*full[i])) > 1e-6+1e-3*math.Abs(float64(full[i])) {
			t.Fatalf("weight %d moved %g at a quarter rate, %g at the full rate", i, quarter[i], full[i])
		}
		if full[i] != 0 {
			moved++
		}
	}
	if moved < len(full)/2 {
		t.Fatalf("only %d of %d weights moved: the check has no power", moved, len(full))
	}
	for _, s := range []float64{0, -1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetLRScale(%g) did not panic", s)
				}
			}()
			new(Model).SetLRScale(s)
		}()
	}
}
