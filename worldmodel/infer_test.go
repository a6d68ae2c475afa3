package worldmodel

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/planner"
)

var (
	_ planner.Model          = (*Model)(nil)
	_ planner.ActionValuer   = (*Model)(nil)
	_ planner.QuantileValuer = (*Model)(nil)
)

// testModel returns a debug model for state vectors (n = 3, 2 discrete
// actions) or a 4×4 gridworld, trained for steps steps.
func testModel(t testing.TB, mod func(*Config), pixels bool, steps int, rng *rand.Rand) (*Model, func(B, K int) *Batch) {
	t.Helper()
	cfg, _ := Preset("debug")
	cfg.Patch = 4
	if mod != nil {
		mod(&cfg)
	}
	var spec Spec
	var batch func(B, K int) *Batch
	if pixels {
		g := grid{side: 4, cell: 4}
		spec = g.spec()
		batch = func(B, K int) *Batch { return g.batch(B, K, rng) }
	} else {
		sys := newLinearSystem(3, 2, 0.1, 0, rng)
		spec = Spec{ObsDim: 3, ActionDim: 2, Discrete: true}
		batch = func(B, K int) *Batch { return sys.batch(B, K, rng) }
	}
	m, err := New(cfg, spec, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < steps; i++ {
		if _, err := m.TrainStep(batch(16, m.cfg.Horizon), rng); err != nil {
			t.Fatal(err)
		}
	}
	return m, batch
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// TestInferenceMatchesGraph pins the pure-Go inference path to the
// training graph: embeddings, rolled-out means, log-variances, rewards,
// continuations and values agree to 1e-5.
func TestInferenceMatchesGraph(t *testing.T) { testInferenceMatchesGraph(t) }

// TestInferenceMatchesGraphFastBLAS repeats the check on the BLAS that
// UseFastBLAS selects (OpenBLAS in builds with the openblas tag).
func TestInferenceMatchesGraphFastBLAS(t *testing.T) {
	t.Logf("BLAS: %s", UseFastBLAS())
	testInferenceMatchesGraph(t)
}

func testInferenceMatchesGraph(t *testing.T) {
	const tol = 1e-5
	cases := []struct {
		name   string
		mod    func(*Config)
		pixels bool
	}{
		{"gaussian", func(c *Config) { c.ValueTarget = ValueNStep }, false},
		{"gaussian rank 2", func(c *Config) { c.Rank = 2 }, false},
		{"default widths", func(c *Config) { c.LatentDim, c.Hidden, c.ValueTarget = 32, 128, ValueNStep }, false},
		{"deterministic", func(c *Config) { c.Dynamics = DynamicsDeterministic; c.ValueTarget = ValueNStep }, false},
		{"gaussian pixels", func(c *Config) { c.ValueTarget = ValueNStep }, true},
		{"deterministic pixels", func(c *Config) { c.Dynamics = DynamicsDeterministic }, true},
		{"mixture", func(c *Config) { c.Dynamics = DynamicsMixture; c.ValueTarget = ValueNStep }, false},
		{"rms embedding", func(c *Config) { c.EmbedNorm = EmbedNormRMS; c.ValueTarget = ValueQ }, false},
		{"real value latents", func(c *Config) { c.ValueLatents = ValueLatentsReal; c.ValueTarget = ValueQ }, false},
		{"real value latents pixels", func(c *Config) { c.ValueLatents = ValueLatentsReal; c.ValueTarget = ValueLambda }, true},
		{"rms embedding pixels", func(c *Config) { c.EmbedNorm = EmbedNormRMS; c.BetaNLL = 1 }, true},
		{"mixture pixels", func(c *Config) { c.Dynamics = DynamicsMixture; c.Components = 5 }, true},
		{"pixel encoder hidden layer", func(c *Config) { c.EncoderHidden = 24; c.ValueTarget = ValueQ }, true},
		{"advantage q", func(c *Config) { c.ValueLatents, c.ValueTarget, c.QHead = ValueLatentsReal, ValueQ, QHeadAdvantage }, false},
		{"own q network", func(c *Config) {
			c.ValueLatents, c.ValueTarget, c.QHead, c.QNet = ValueLatentsReal, ValueQ, QHeadAdvantage, QNetOwn
		}, false},
		{"own q network, pixels, direct", func(c *Config) { c.ValueTarget, c.QNet = ValueQ, QNetOwn }, true},
		{"advantage q, imagined latents, symlog", func(c *Config) {
			c.ValueTransform, c.ValueTarget, c.QHead = ValueTransformSymlog, ValueQ, QHeadAdvantage
		}, false},
		{"symlog values", func(c *Config) {
			c.ValueTransform, c.ValueTarget, c.ValueLatents = ValueTransformSymlog, ValueQ, ValueLatentsReal
		}, false},
		{"quantiles", func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, 5 }, false},
		{"quantiles, real latents, symlog, pixels", func(c *Config) {
			c.ValueTarget, c.QQuantiles, c.ValueLatents, c.ValueTransform = ValueQ, 4, ValueLatentsReal, ValueTransformSymlog
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			m, batch := testModel(t, tc.mod, tc.pixels, 5, rng)
			B, K, d := 7, 3, m.cfg.LatentDim
			b := batch(B, K)
			if _, err := m.TrainStep(b, rng); err != nil { // builds the graph for B, K
				t.Fatal(err)
			}
			tg := m.tg
			m.fillInputs(tg, b, rng)
			if err := tg.vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			tg.reset()

			check := func(what string, got, want []float32) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
				}
				for i := range got {
					if !near(float64(got[i]), float64(want[i]), tol) {
						t.Fatalf("%s[%d]: inference %.7g, graph %.7g", what, i, got[i], want[i])
					}
				}
			}
			frames := (K + 1) * B
			z := make([]float32, frames*d)
			m.Encode(z, b.Obs, frames)
			check("embeddings", z, tg.z)

			zhat := append([]float32(nil), z[:B*d]...)
			next := make([]float32, B*d)
			reward, cont := make([]float32, B), make([]float32, B)
			value := make([]float32, B)
			mean, logVar := make([]float32, B*d), make([]float32, B*d)
			factor := make([]float32, B*d*max(m.cfg.Rank, 1))
			A := m.spec.ActionDim
			for j := 0; j < K; j++ {
				a := b.Actions[j*B*A : (j+1)*B*A]
				m.Step(next, reward, cont, zhat, a, B, false, nil)
				if m.cfg.Dynamics == DynamicsMixture {
					checkMixture(t, m, check, tg, j, next, zhat, a)
				} else {
					check("mean", next, tg.mus[j])
				}
				check("reward", reward, tg.rewards[j])
				logits := make([]float32, B)
				for i, l := range tg.conts[j] {
					logits[i] = float32(sigmoid(float64(l)))
				}
				check("continuation", cont, logits)
				vz := zhat // the latents the values train on
				if j > 0 && m.cfg.ValueLatents == ValueLatentsReal {
					vz = z[j*B*d : (j+1)*B*d]
				}
				// The heads' outputs, read as returns.
				returns := func(raw []float32) []float32 {
					r := append([]float32(nil), raw...)
					m.fromValueSpace(r)
					return r
				}
				if j < len(tg.values) {
					m.Value(value, vz, B)
					check("value", value, returns(tg.values[j]))
				}
				if m.HasActionValue() {
					m.ActionValue(value, vz, a, B)
					check("action value", value, returns(tg.qs[j]))
				}
				if M := m.QuantileCount(); M > 0 {
					quants := make([]float32, B*M)
					m.ActionValueQuantiles(quants, vz, a, B)
					check("quantiles", quants, sortedRows(returns(tg.quants[j]), M))
				}
				if m.cfg.Dynamics == DynamicsGaussian {
					m.predictGaussian(mean, logVar, factor, zhat, a, B)
					check("log-variance", logVar, tg.logVars[j])
				}
				copy(zhat, next)
			}
		})
	}
}

// checkMixture checks the inference path's mixture at rollout step j
// against the graph's: every component's mean and log-variance, the
// weights, and Step's mean step (next, from zhat and actions a) as the
// most likely component's mean.
func checkMixture(t *testing.T, m *Model, check func(string, []float32, []float32), tg *trainGraph, j int, next, zhat, a []float32) {
	t.Helper()
	B, d, M := tg.B, m.cfg.LatentDim, m.cfg.Components
	floor, _ := m.cfg.mixtureOptions()
	pi, mus, lvs := make([]float32, B*M), make([]float32, B*M*d), make([]float32, B*M*d)
	m.predictMixture(pi, mus, lvs, zhat, a, B)
	check("component means", mus, tg.mus[j])
	check("component log-variances", lvs, tg.logVars[j])
	want, w := make([]float32, B*M), make([]float64, M)
	mode := make([]float32, B*d)
	for r := 0; r < B; r++ {
		lg := tg.mixLogits[j][r*M : (r+1)*M]
		mixtureWeights(w, lg, floor)
		c := 0
		for k := range w {
			want[r*M+k] = float32(w[k])
			if w[k] > w[c] {
				c = k
			}
		}
		copy(mode[r*d:(r+1)*d], tg.mus[j][(r*M+c)*d:(r*M+c+1)*d])
	}
	check("weights", pi, want)
	check("mean (most likely component)", next, mode)
}

// TestInferenceAllocs checks that the inference path allocates nothing in
// steady state.
func TestInferenceAllocs(t *testing.T) {
	cases := []struct {
		pixels bool
		mod    func(*Config)
	}{
		{false, func(c *Config) { c.Rank = 2 }},
		{true, func(c *Config) { c.Rank = 2 }},
		{false, func(c *Config) { c.Dynamics = DynamicsMixture }},
		{true, func(c *Config) { c.Dynamics = DynamicsMixture }},
		{false, func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, 8 }},
	}
	for _, tc := range cases {
		pixels := tc.pixels
		rng := rand.New(rand.NewPCG(1, 1))
		m, batch := testModel(t, tc.mod, pixels, 1, rng)
		b := batch(8, 1)
		rows, d := 8, m.cfg.LatentDim
		z := make([]float32, rows*d)
		next := make([]float32, rows*d)
		reward, cont, value := make([]float32, rows), make([]float32, rows), make([]float32, rows)
		variance := make([]float32, rows*d)
		frames := make([]float32, rows*m.decodeDim())
		calls := map[string]func(){
			"Encode":    func() { m.Encode(z, b.Obs, rows) },
			"Step":      func() { m.Step(next, reward, cont, z, b.Actions, rows, true, rng) },
			"Step mean": func() { m.Step(next, reward, cont, z, b.Actions, rows, false, nil) },
			"Value":     func() { m.Value(value, z, rows) },
			"Predict":   func() { m.Predict(next, variance, z, b.Actions, rows) },
			"Decode":    func() { m.Decode(frames, z, rows) },
		}
		if M := m.QuantileCount(); M > 0 {
			quants := make([]float32, rows*M)
			calls["ActionValueQuantiles"] = func() { m.ActionValueQuantiles(quants, z, b.Actions, rows) }
			// A planner's first step: one latent, a few actions.
			shared := make([]float32, rows*d)
			for i := range rows {
				copy(shared[i*d:(i+1)*d], z[:d])
			}
			calls["ActionValueQuantiles shared"] = func() { m.ActionValueQuantiles(quants, shared, b.Actions, rows) }
		}
		for name, f := range calls {
			f()
			if a := testing.AllocsPerRun(20, f); a != 0 {
				t.Errorf("%s pixels %v: %s allocates %g times per call", m.cfg.Dynamics, pixels, name, a)
			}
		}
	}
}

// TestStepSamples checks by Monte Carlo that Step's samples have the mean
// and the covariance diag(σ²) + UUᵀ that Predict and the factor head
// describe. With N samples the tolerances are 5 standard errors:
// √(Σ_ii/N) for a mean and Σ_ii·√(2/N) (and √((Σ_ii Σ_jj + Σ_ij²)/N)
// for a covariance) for a second moment.
func TestStepSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, _ := testModel(t, func(c *Config) { c.Rank = 2 }, false, 20, rng)
	d, r := m.cfg.LatentDim, m.cfg.Rank
	z := make([]float32, d)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	a := []float32{0, 1}
	mean, variance := make([]float32, d), make([]float32, d)
	m.Predict(mean, variance, z, a, 1)
	mu, logVar, u := make([]float32, d), make([]float32, d), make([]float32, d*r)
	m.predictGaussian(mu, logVar, u, z, a, 1)
	cov := func(i, j int) float64 {
		c := 0.0
		if i == j {
			c = math.Exp(float64(logVar[i]))
		}
		for k := 0; k < r; k++ {
			c += float64(u[i*r+k]) * float64(u[j*r+k])
		}
		return c
	}
	for i := 0; i < d; i++ {
		if !near(float64(variance[i]), cov(i, i), 1e-5) {
			t.Fatalf("Predict variance[%d] = %g, diag(Σ) = %g", i, variance[i], cov(i, i))
		}
	}

	const n = 20000
	zs := make([]float32, n*d)
	as := make([]float32, n*2)
	for i := 0; i < n; i++ {
		copy(zs[i*d:], z)
		copy(as[i*2:], a)
	}
	samples := make([]float32, n*d)
	m.Step(samples, nil, nil, zs, as, n, true, rng)
	sampleMean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			sampleMean[j] += float64(samples[i*d+j]) / n
		}
	}
	for j := 0; j < d; j++ {
		if tol := 5 * math.Sqrt(cov(j, j)/n); math.Abs(sampleMean[j]-float64(mean[j])) > tol {
			t.Errorf("mean[%d]: sample %g, predicted %g (tolerance %g)", j, sampleMean[j], mean[j], tol)
		}
	}
	for _, p := range [][2]int{{0, 0}, {1, 1}, {0, 1}, {2, 5}} {
		i, j := p[0], p[1]
		s := 0.0
		for k := 0; k < n; k++ {
			s += (float64(samples[k*d+i]) - float64(mean[i])) * (float64(samples[k*d+j]) - float64(mean[j]))
		}
		s /= n
		want := cov(i, j)
		tol := 5 * math.Sqrt((cov(i, i)*cov(j, j)+want*want)/n)
		if math.Abs(s-want) > tol {
			t.Errorf("cov[%d,%d]: sample %g, predicted %g (tolerance %g)", i, j, s, want, tol)
		}
	}

	// The mean path ignores the sampling flag for the deterministic model.
	det, _ := testModel(t, func(c *Config) { c.Dynamics = DynamicsDeterministic }, false, 1, rng)
	x, y := make([]float32, d), make([]float32, d)
	det.Step(x, nil, nil, z, a, 1, true, rng)
	det.Step(y, nil, nil, z, a, 1, false, nil)
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("deterministic sample %v differs from mean %v", x, y)
		}
	}
	det.Predict(x, y, z, a, 1)
	for _, v := range y {
		if v != 0 {
			t.Fatalf("deterministic variance %v, want zeros", y)
		}
	}
}

// TestGemm checks the blocked products against a direct sum for shapes
// larger than the blocks, with every transpose.
func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	for _, sh := range [][3]int{{3, 5, 7}, {130, 200, 9}, {70, 400, 65}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, serial := range []bool{true, false} {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					a := make([]float32, m*k)
					b := make([]float32, k*n)
					c := make([]float32, m*n)
					for i := range a {
						a[i] = float32(rng.NormFloat64())
					}
					for i := range b {
						b[i] = float32(rng.NormFloat64())
					}
					for i := range c {
						c[i] = 1
					}
					lda, ldb := k, n
					if tA {
						lda = m
					}
					if tB {
						ldb = k
					}
					gemmT(serial, tA, tB, m, n, k, a, lda, b, ldb, 0.5, c, n)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							want := 0.5
							for l := 0; l < k; l++ {
								ai, bj := a[i*k+l], b[l*n+j]
								if tA {
									ai = a[l*m+i]
								}
								if tB {
									bj = b[j*k+l]
								}
								want += float64(ai) * float64(bj)
							}
							if !near(float64(c[i*n+j]), want, 1e-4) {
								t.Fatalf("%v serial %v tA %v tB %v: c[%d,%d] = %g, want %g", sh, serial, tA, tB, i, j, c[i*n+j], want)
							}
						}
					}
				}
			}
		}
	}
}

func TestInferencePanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, _ := testModel(t, nil, false, 0, rng)
	cases := map[string]func(){
		"Encode short obs": func() { m.Encode(make([]float32, 8), make([]float32, 2), 1) },
		"Step short a":     func() { m.Step(make([]float32, 8), nil, nil, make([]float32, 8), nil, 1, false, nil) },
		"Value short dst":  func() { m.Value(nil, make([]float32, 8), 1) },
		"Decode short z":   func() { m.Decode(make([]float32, 3), nil, 1) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Error("no panic")
				} else if s, ok := r.(string); !ok || s[:11] != "worldmodel:" {
					t.Errorf("panic %v lacks the package prefix", r)
				}
			}()
			f()
		})
	}
}

// TestStepCommon checks common random numbers: rows c·K + k of StepCommon
// with period K take the draws that Step makes for its first K rows, so
// that two candidates with the same action reach the same futures, and a
// period that does not divide the rows panics.
func TestStepCommon(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mod        func(*Config)
		components bool
	}{
		{"gaussian", func(c *Config) { c.Rank = 2 }, false},
		{"mixture", func(c *Config) { c.Dynamics = DynamicsMixture }, false},
		{"mixture components", func(c *Config) { c.Dynamics = DynamicsMixture }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			m, _ := testModel(t, tc.mod, false, 20, rng)
			d := m.cfg.LatentDim
			const n, k = 3, 4 // candidates 0 and 2 take action 0, candidate 1 action 1
			rows := n * k
			z0 := make([]float32, d)
			for i := range z0 {
				z0[i] = float32(rng.NormFloat64())
			}
			zs, as := make([]float32, rows*d), make([]float32, rows*2)
			for r := range rows {
				copy(zs[r*d:], z0)
				as[r*2+(r/k)%2] = 1
			}
			common, alone := make([]float32, rows*d), make([]float32, k*d)
			if tc.components {
				m.StepComponentsCommon(common, nil, nil, zs, as, rows, k, rand.New(rand.NewPCG(3, 4)))
				m.StepComponents(alone, nil, nil, zs[:k*d], as[:k*2], k, rand.New(rand.NewPCG(3, 4)))
			} else {
				m.StepCommon(common, nil, nil, zs, as, rows, k, rand.New(rand.NewPCG(3, 4)))
				m.Step(alone, nil, nil, zs[:k*d], as[:k*2], k, true, rand.New(rand.NewPCG(3, 4)))
			}
			// Step on 4 rows and on 12 run different products, which may
			// round apart in the last bit; the two candidates of one batch
			// are the same rows.
			for i, v := range alone {
				if !near(float64(common[i]), float64(v), 1e-5) {
					t.Fatalf("candidate 0 row %d component %d: %g with common noise, %g from Step's first draws", i/d, i%d, common[i], v)
				}
				if common[2*k*d+i] != common[i] {
					t.Fatalf("candidate 2 (the same action) row %d component %d: %g, candidate 0 has %g", i/d, i%d, common[2*k*d+i], common[i])
				}
			}
			if !tc.components {
				for kk := 1; kk < k; kk++ {
					if common[kk*d] == common[0] && common[kk*d+1] == common[1] {
						t.Errorf("futures 0 and %d of a candidate are the same: one draw for all K", kk)
					}
				}
			}
			moved := false
			for i := range k * d {
				moved = moved || common[k*d+i] != common[i]
			}
			if !moved {
				t.Error("candidate 1 (another action) reached the futures of candidate 0")
			}
			defer func() {
				if recover() == nil {
					t.Error("StepCommon with a period that does not divide the rows did not panic")
				}
			}()
			m.StepCommon(common, nil, nil, zs, as, rows, 5, rng)
		})
	}
}
