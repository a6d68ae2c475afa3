package worldmodel

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/dreamrl/dream/worldmodel/loss"
)

// TestGradient checks the graph's gradient of the whole training cost
// against central finite differences, on a few coordinates of every
// trained tensor, for the three dynamics, a low-rank factor, pixels and
// fed samples (for the mixture, the component each row feeds is a choice
// that finite differences this small do not change).
func TestGradient(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		pix  bool
		tol  float64
	}{
		{"gaussian", func(c *Config) {}, false, 2e-2},
		{"rank2-samples", func(c *Config) { c.Rank = 2; c.FeedSamples = true }, false, 2e-2},
		{"deterministic-vicreg-nstep", func(c *Config) {
			c.Dynamics = DynamicsDeterministic
			c.Guard = GuardVICReg
			c.ValueTarget = ValueNStep
		}, false, 2e-2},
		{"pixels", func(c *Config) { c.Patch = 4 }, true, 2e-2},
		{"pixels-encoder-hidden", func(c *Config) { c.Patch = 4; c.EncoderHidden = 12 }, true, 2e-2},
		{"rms-embedding", func(c *Config) { c.EmbedNorm = EmbedNormRMS }, false, 2e-2},
		{"real-value-latents-q", func(c *Config) { c.ValueLatents = ValueLatentsReal; c.ValueTarget = ValueQ }, false, 2e-2},
		{"expectile-value", func(c *Config) {
			c.ValueLatents, c.ValueTarget, c.ValueExpectile = ValueLatentsReal, ValueQ, 0.8
		}, false, 2e-2},
		{"advantage-q", func(c *Config) {
			c.ValueLatents, c.ValueTarget, c.ValueExpectile, c.QHead = ValueLatentsReal, ValueQ, 0.8, QHeadAdvantage
		}, false, 2e-2},
		{"advantage-q-imagined", func(c *Config) { c.ValueTarget, c.QHead = ValueQ, QHeadAdvantage }, false, 2e-2},
		{"own-q-advantage", func(c *Config) {
			c.ValueLatents, c.ValueTarget, c.ValueExpectile, c.QHead, c.QNet = ValueLatentsReal, ValueQ, 0.8, QHeadAdvantage, QNetOwn
		}, false, 2e-2},
		{"own-q-direct-imagined", func(c *Config) { c.ValueTarget, c.QNet = ValueQ, QNetOwn }, false, 2e-2},
		// The value losses weighed up, so that the quantile network's
		// gradients are not lost in the tolerance.
		{"quantiles", func(c *Config) { c.ValueTarget, c.QQuantiles, c.QQuantileKappa, c.ValueWeight = ValueQ, 3, 0.5, 300 }, false, 2e-2},
		{"quantiles-real-latents-symlog", func(c *Config) {
			c.ValueLatents, c.ValueTarget, c.QQuantiles, c.ValueTransform, c.ValueWeight = ValueLatentsReal, ValueQ, 4, ValueTransformSymlog, 300
		}, false, 2e-2},
		{"symlog-values-nstep", func(c *Config) { c.ValueTransform = ValueTransformSymlog; c.ValueTarget = ValueNStep }, false, 2e-2},
		{"rms-embedding-pixels-deterministic", func(c *Config) {
			c.EmbedNorm = EmbedNormRMS
			c.Dynamics = DynamicsDeterministic
		}, true, 2e-2},
		{"mixture", func(c *Config) { c.Dynamics = DynamicsMixture }, false, 2e-2},
		{"mixture-samples-nstep", func(c *Config) {
			c.Dynamics = DynamicsMixture
			c.FeedSamples = true
			c.ValueTarget = ValueNStep
			c.Components = 4
		}, false, 2e-2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := Preset("debug")
			tc.mod(&cfg)
			rng := rand.New(rand.NewPCG(3, 4))
			var spec Spec
			var b *Batch
			if tc.pix {
				g := grid{side: 2, cell: 4}
				spec = g.spec()
				b = g.batch(4, 2, rng)
			} else {
				sys := newLinearSystem(3, 2, 0.1, 0, rng)
				spec = Spec{ObsDim: 3, ActionDim: 2, Discrete: true}
				b = sys.batch(4, 2, rng)
			}
			m, err := New(cfg, spec, rng)
			if err != nil {
				t.Fatal(err)
			}
			// Two steps so the statistics and the heads are not at their
			// initial values.
			for i := 0; i < 2; i++ {
				if _, err := m.TrainStep(b, rng); err != nil {
					t.Fatal(err)
				}
			}
			tg := m.tg
			switch {
			case cfg.Dynamics == DynamicsMixture && cfg.FeedSamples:
				// Weights that differ across rows, so that the rows
				// draw different components.
				for i := range m.pred.logits.w.data {
					m.pred.logits.w.data[i] *= 30
				}
			case cfg.Dynamics == DynamicsMixture:
				// One clearly most likely component, fed by every row.
				m.pred.logits.b.data[0] += 3
			}
			m.fillInputs(tg, b, rng)
			if cfg.Dynamics == DynamicsMixture {
				settleChoices(t, m, rng)
			}
			run := func() float64 {
				if err := tg.vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				defer tg.reset()
				return float64(tg.cost.Value().Data().(float32))
			}
			if err := tg.vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			grads := map[string][]float64{}
			for _, p := range tg.trained {
				g := gradOf(p)
				c := make([]float64, len(g))
				for i, v := range g {
					c[i] = float64(v)
				}
				grads[p.name] = c
			}
			tg.reset()
			if tg.targets != nil {
				// The value targets are constants of the loss.
				tg.targets.frozen = true
			}
			tg.frozen = true // and so are the detached values
			for _, p := range tg.trained {
				for trial := 0; trial < 3; trial++ {
					i := rng.IntN(len(p.data))
					const h = 1e-2
					old := p.data[i]
					p.data[i] = old + h
					up := run()
					p.data[i] = old - h
					down := run()
					p.data[i] = old
					fd := (up - down) / (2 * h)
					got := grads[p.name][i]
					if math.Abs(fd-got) > tc.tol*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: gradient %.5g, finite difference %.5g", p.name, i, got, fd)
					}
				}
			}
		})
	}
}

// TestLogVarOp checks the fused log-variance against loss.SoftBound
// followed by exp, add and log, values and gradients.
func TestLogVarOp(t *testing.T) {
	const lo, hi, floor = -10, 2, 1e-4
	xs := []float32{-30, -12, -10, -3, 0, 1.5, 2, 4, 40}
	build := func(fused bool) (value, grad []float32) {
		g := G.NewGraph()
		x := G.NewMatrix(g, G.Float32, G.WithShape(1, len(xs)), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithBacking(slices.Clone(xs)), tensor.WithShape(1, len(xs)))))
		var y *G.Node
		if fused {
			y = logVar(x, lo, hi, floor)
		} else {
			sb := must(loss.SoftBound(x, lo, hi))
			y = must(G.Log(must(G.Add(must(G.Exp(sb)), G.NewConstant(float32(floor))))))
		}
		value = tap(y)
		cost := must(G.Sum(must(G.HadamardProd(y, y))))
		if _, err := G.Grad(cost, x); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g, G.BindDualValues(x))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, _ := x.Grad()
		return value, slices.Clone(gv.Data().([]float32))
	}
	v1, g1 := build(true)
	v2, g2 := build(false)
	// At x = 0: log(e^−10 + e²·s(−2) + 1e-4) ≈ −0.1271.
	if math.Abs(float64(v1[4])+0.1271) > 1e-3 {
		t.Fatalf("fused log-variance at 0 = %g, want −0.1271", v1[4])
	}
	for i := range xs {
		if !near(float64(v1[i]), float64(v2[i]), 1e-5) || !near(float64(g1[i]), float64(g2[i]), 1e-4) {
			t.Errorf("x = %g: fused %g (gradient %g), composed %g (gradient %g)", xs[i], v1[i], g1[i], v2[i], g2[i])
		}
	}
}

// settleChoices makes the mixture's feeding choices of the filled training
// graph robust to the finite differences: it checks that the most likely
// component of every fed row leads the next by a margin of logits, and
// when samples are fed it sets each row's uniform to the middle of the
// cumulative-weight interval of a component drawn among those with weight
// at least 0.1. The graph of the test rolls out K = 2 steps, so only step
// 0 feeds.
func settleChoices(t *testing.T, m *Model, rng *rand.Rand) {
	t.Helper()
	tg := m.tg
	if tg.K != 2 {
		t.Fatalf("settleChoices assumes K = 2, got %d", tg.K)
	}
	if err := tg.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	tg.reset()
	M := m.cfg.Components
	floor, _ := m.cfg.mixtureOptions()
	pi := make([]float64, M)
	for r := 0; r < tg.B; r++ {
		lg := tg.mixLogits[0][r*M : (r+1)*M]
		if tg.mixU == nil {
			sorted := slices.Sorted(slices.Values(lg))
			if gap := sorted[M-1] - sorted[M-2]; gap < 0.3 {
				t.Fatalf("row %d: the two most likely components' logits are %g apart, want a margin of 0.3", r, gap)
			}
			continue
		}
		mixtureWeights(pi, lg, floor)
		var c int
		for c = rng.IntN(M); pi[c] < 0.1; c = rng.IntN(M) {
		}
		lo := 0.0
		for _, p := range pi[:c] {
			lo += p
		}
		tg.mixU[r] = float32(lo + pi[c]/2)
	}
}

// TestRMSNormOp checks the root-mean-square normalisation: every output
// row has a mean square of 1 (up to ε), and the gradient matches central
// finite differences of a weighted sum of the outputs.
func TestRMSNormOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, cols = 3, 5
	xs := make([]float32, rows*cols)
	ws := make([]float32, rows*cols)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 3)
		ws[i] = float32(rng.NormFloat64())
	}
	xs[0] = 1e-3 // a small value in a row of ordinary ones
	run := func(x []float32) (value, out, grad []float32) {
		g := G.NewGraph()
		xn := G.NewMatrix(g, G.Float32, G.WithShape(rows, cols), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithBacking(slices.Clone(x)), tensor.WithShape(rows, cols))))
		w := G.NewMatrix(g, G.Float32, G.WithShape(rows, cols), G.WithName("w"),
			G.WithValue(tensor.New(tensor.WithBacking(slices.Clone(ws)), tensor.WithShape(rows, cols))))
		y := rmsNorm(xn)
		out = tap(y)
		cost := must(G.Sum(must(G.HadamardProd(y, w))))
		if _, err := G.Grad(cost, xn); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g, G.BindDualValues(xn))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, _ := xn.Grad()
		value = []float32{cost.Value().Data().(float32)}
		return value, slices.Clone(out), slices.Clone(gv.Data().([]float32))
	}
	_, y, grad := run(xs)
	for r := 0; r < rows; r++ {
		ms := 0.0
		for _, v := range y[r*cols : (r+1)*cols] {
			ms += float64(v) * float64(v)
		}
		if ms /= cols; math.Abs(ms-1) > 1e-4 {
			t.Errorf("row %d: mean square %g after normalisation, want 1", r, ms)
		}
	}
	const h = 1e-2
	for i := range xs {
		xp, xm := slices.Clone(xs), slices.Clone(xs)
		xp[i] += h
		xm[i] -= h
		vp, _, _ := run(xp)
		vm, _, _ := run(xm)
		fd := (float64(vp[0]) - float64(vm[0])) / (2 * h)
		if !near(float64(grad[i]), fd, 2e-2) {
			t.Errorf("∂/∂x[%d] = %g, finite difference %g", i, grad[i], fd)
		}
	}
}
