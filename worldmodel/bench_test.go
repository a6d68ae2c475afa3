package worldmodel

import (
	"math/rand/v2"
	"testing"
)

// agentDefaults names the agent's default model in benchModel,
// agentAveraged the same with averaged weights, agentGridworld the
// gridworld default (averaged weights, an expectile value and q as the
// value plus an advantage), and agentOwnQ that with q's advantage on a
// network of its own.
const (
	agentDefaults  = "agent"
	agentAveraged  = "agent+average"
	agentGridworld = "agent+gridworld"
	agentOwnQ      = "agent+gridworld+own-q"
)

// benchModel returns a default model and a batch of B sequences of k+1
// frames: CartPole-sized states (4 values, 2 actions) or 32×32 gridworld
// frames (4 actions).
func benchModel(b *testing.B, dynamics string, pixels bool, B int) (*Model, *Batch) {
	b.Helper()
	cfg, _ := Preset("default")
	cfg.Dynamics = dynamics
	agent := dynamics == agentDefaults || dynamics == agentAveraged || dynamics == agentGridworld || dynamics == agentOwnQ
	if agent {
		// The agent's defaults: action value, β-NLL, RMS-normalised latents.
		cfg.Dynamics, cfg.ValueTarget, cfg.BetaNLL, cfg.EmbedNorm = DynamicsGaussian, ValueQ, 1, EmbedNormRMS
	}
	if agent && dynamics != agentDefaults {
		cfg.AverageTau = 0.9998
	}
	if dynamics == agentGridworld || dynamics == agentOwnQ {
		cfg.ValueExpectile, cfg.QHead = 0.7, QHeadAdvantage
	}
	if dynamics == agentOwnQ {
		cfg.QNet = QNetOwn
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var spec Spec
	var batch *Batch
	if pixels {
		g := grid{side: 8, cell: 4}
		spec, batch = g.spec(), g.batch(B, cfg.Horizon, rng)
	} else {
		sys := newLinearSystem(4, 2, 0.1, 0, rng)
		spec, batch = Spec{ObsDim: 4, ActionDim: 2, Discrete: true}, sys.batch(B, cfg.Horizon, rng)
	}
	m, err := New(cfg, spec, rng)
	if err != nil {
		b.Fatal(err)
	}
	return m, batch
}

// BenchmarkTrainStep times one training step of the default model at
// batch 256 (k = 3, so 4 frames per sequence), and at batch 64.
func BenchmarkTrainStep(b *testing.B) {
	b.Logf("BLAS: %s", UseFastBLAS())
	for _, c := range []struct {
		name     string
		dynamics string
		pixels   bool
		batch    int
	}{
		{"gaussian/state/B256", DynamicsGaussian, false, 256},
		{"deterministic/state/B256", DynamicsDeterministic, false, 256},
		{"gaussian/pixels32/B256", DynamicsGaussian, true, 256},
		{"deterministic/pixels32/B256", DynamicsDeterministic, true, 256},
		{"mixture/state/B256", DynamicsMixture, false, 256},
		{"mixture/pixels32/B256", DynamicsMixture, true, 256},
		{"agent/pixels32/B256", agentDefaults, true, 256},
		{"agent/state/B64", agentDefaults, false, 64},
		{"agent+average/state/B64", agentAveraged, false, 64},
		{"agent+average/pixels32/B256", agentAveraged, true, 256},
		{"agent+gridworld/state/B64", agentGridworld, false, 64},
		{"agent+gridworld/pixels32/B256", agentGridworld, true, 256},
		{"agent+gridworld/pixels32/B64", agentGridworld, true, 64},
		{"agent+gridworld+own-q/state/B64", agentOwnQ, false, 64},
		{"agent+gridworld+own-q/pixels32/B256", agentOwnQ, true, 256},
		{"gaussian/state/B64", DynamicsGaussian, false, 64},
		{"gaussian/pixels32/B64", DynamicsGaussian, true, 64},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, batch := benchModel(b, c.dynamics, c.pixels, c.batch)
			rng := rand.New(rand.NewPCG(3, 4))
			if _, err := m.TrainStep(batch, rng); err != nil {
				b.Fatal(err)
			}
			flops := countFLOPs(b)
			b.ReportAllocs()
			b.ResetTimer()
			flops.flops.Store(0)
			for i := 0; i < b.N; i++ {
				if _, err := m.TrainStep(batch, rng); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportFLOPs(b, flops)
		})
	}
}

// BenchmarkStep times one batched imagination step of 256 candidates × 4
// futures = 1024 rows, sampled and on the mean.
func BenchmarkStep(b *testing.B) {
	UseFastBLAS()
	const rows = 256 * 4
	for _, c := range []struct {
		name     string
		dynamics string
		rank     int
		sample   bool
	}{
		{"gaussian/sample", DynamicsGaussian, 0, true},
		{"gaussian-rank2/sample", DynamicsGaussian, 2, true},
		{"gaussian/mean", DynamicsGaussian, 0, false},
		{"deterministic", DynamicsDeterministic, 0, false},
		{"mixture/sample", DynamicsMixture, 0, true},
		{"mixture/mean", DynamicsMixture, 0, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg, _ := Preset("default")
			cfg.Dynamics, cfg.Rank = c.dynamics, c.rank
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := New(cfg, Spec{ObsDim: 4, ActionDim: 2, Discrete: true}, rng)
			if err != nil {
				b.Fatal(err)
			}
			d := m.LatentDim()
			z, next := make([]float32, rows*d), make([]float32, rows*d)
			a := make([]float32, rows*2)
			reward, cont := make([]float32, rows), make([]float32, rows)
			for i := range z {
				z[i] = float32(rng.NormFloat64())
			}
			for i := 0; i < rows; i++ {
				a[2*i+rng.IntN(2)] = 1
			}
			m.Step(next, reward, cont, z, a, rows, c.sample, rng)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Step(next, reward, cont, z, a, rows, c.sample, rng)
			}
		})
	}
}

// BenchmarkEncode times encoding 256 inputs.
func BenchmarkEncode(b *testing.B) {
	UseFastBLAS()
	for _, pixels := range []bool{false, true} {
		name := "state"
		if pixels {
			name = "pixels32"
		}
		b.Run(name, func(b *testing.B) {
			m, batch := benchModel(b, DynamicsGaussian, pixels, 256)
			z := make([]float32, 256*m.LatentDim())
			m.Encode(z, batch.Obs, 256)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Encode(z, batch.Obs, 256)
			}
		})
	}
}
