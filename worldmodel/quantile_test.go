package worldmodel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// twoOutcomeBatch is a batch of one-step episodes: every sequence's first
// transition, from a random observation with a random action (one-hot, or
// uniform in [−1, 1]^A for a box), ends the episode with reward 1 with
// probability p and 0 otherwise, so that the return of every (z, a) is
// that Bernoulli variable.
func twoOutcomeBatch(spec Spec, B, K int, p float64, rng *rand.Rand) *Batch {
	A, in := spec.ActionDim, spec.InputDim()
	b := &Batch{B: B, K: K,
		Obs:        make([]float32, (K+1)*B*in),
		Actions:    make([]float32, K*B*A),
		Rewards:    make([]float32, K*B),
		Terminated: make([]float32, K*B),
	}
	for i := range b.Obs {
		b.Obs[i] = float32(rng.NormFloat64())
	}
	for i := range K * B {
		if spec.Discrete {
			b.Actions[i*A+rng.IntN(A)] = 1
			continue
		}
		for k := range A {
			b.Actions[i*A+k] = float32(2*rng.Float64() - 1)
		}
	}
	for bi := range B {
		if rng.Float64() < p {
			b.Rewards[bi] = 1
		}
		b.Terminated[bi] = 1
	}
	return b
}

// sortedRows returns a copy of x (rows of n values) with each row sorted
// ascending.
func sortedRows(x []float32, n int) []float32 {
	out := slices.Clone(x)
	for r := 0; r+n <= len(out); r += n {
		slices.Sort(out[r : r+n])
	}
	return out
}

// TestQuantilesLearnTwoOutcomes trains the distributional action value on
// a return that is 1 with probability 0.3 and 0 otherwise, whatever the
// latent and the action. Its quantiles at τ_i = (2i − 1)/20 are then 0
// for τ_i < 0.7 and 1 for τ_i > 0.7 (the nearest, 0.65 and 0.75, are
// 0.05 from the jump). After 800 steps of 64 sequences every learned
// quantile of 16 (z, a) pairs is within 0.1 of its true value.
func TestQuantilesLearnTwoOutcomes(t *testing.T) {
	const M, p, tol = 10, 0.3, 0.1
	rng := rand.New(rand.NewPCG(1, 2))
	cfg, _ := Preset("debug")
	// κ well below the gap of 1 between the outcomes: with κ = 1 the loss
	// would be quadratic between them and learn expectiles
	// (loss.TestQuantileHuberMinimiser).
	cfg.ValueTarget, cfg.QQuantiles, cfg.QQuantileKappa = ValueQ, M, 0.02
	m, err := New(cfg, Spec{ObsDim: 3, ActionDim: 2, Discrete: true}, rng)
	if err != nil {
		t.Fatal(err)
	}
	for range 800 {
		if _, err := m.TrainStep(twoOutcomeBatch(m.Spec(), 64, m.cfg.Horizon, p, rng), rng); err != nil {
			t.Fatal(err)
		}
	}
	const rows = 16
	b := twoOutcomeBatch(m.Spec(), rows, 1, p, rng)
	z := make([]float32, rows*m.LatentDim())
	m.Encode(z, b.Obs, rows)
	q := make([]float32, rows*M)
	m.ActionValueQuantiles(q, z, b.Actions, rows)
	for r := range rows {
		for i, v := range q[r*M : (r+1)*M] {
			tau := (2*float64(i) + 1) / (2 * M)
			want := 0.0
			if tau > 1-p {
				want = 1
			}
			if math.Abs(float64(v)-want) > tol {
				t.Errorf("row %d: quantile at τ = %.2f is %.3f, want %g ± %g (row %v)", r, tau, v, want, tol, q[r*M:(r+1)*M])
			}
		}
	}
}

// TestQuantileTargets checks the distributional one-step targets against
// their definition, computed here one row and one action at a time:
// y_ij = r_i + bonus_i + γ(1−d_i)θ̄_j(z̄_i, a*) with a* the action whose
// target quantiles have the largest mean, and no bootstrap after a
// terminal step; under symlog the targets are symlog(y).
func TestQuantileTargets(t *testing.T) {
	for _, transform := range []string{ValueTransformNone, ValueTransformSymlog} {
		t.Run(transform, func(t *testing.T) {
			const M = 4
			rng := rand.New(rand.NewPCG(3, 4))
			m, batch := testModel(t, func(c *Config) {
				c.ValueTarget, c.QQuantiles, c.ValueTransform = ValueQ, M, transform
			}, false, 3, rng)
			// A target network whose quantiles differ by action and by
			// latent, on the scale of a return.
			for _, l := range []linear{m.tquant.inZ, m.tquant.inA, m.tquant.hidden, m.tquant.out} {
				for i := range l.w.data {
					l.w.data[i] = float32(0.3 * rng.NormFloat64())
				}
			}
			d, A, gamma := m.LatentDim(), m.ActionDim(), m.cfg.Discount
			const B, K = 5, 2
			b := batch(B, K)
			b.Terminated = []float32{0, 1, 0, 0, 1, 0, 0, 0, 0, 0}
			b.Bonus = make([]float32, K*B)
			for i := range b.Bonus {
				b.Bonus[i] = 0.05 * float32(i)
			}
			zbar := make([]float32, K*B*d)
			for i := range zbar {
				zbar[i] = float32(rng.NormFloat64())
			}
			got := make([]float32, K*B*M)
			m.quantileTargets(got, b, zbar, nil)

			one := make([]float32, M)
			picked := map[int]bool{}
			for i := range K * B {
				best, bestMean := 0, math.Inf(-1)
				var bestQ []float32
				for a := range A {
					act := make([]float32, A)
					act[a] = 1
					m.quantiles(m.tquant, one, zbar[i*d:(i+1)*d], act, 1)
					s := 0.0
					for _, v := range one {
						s += float64(v)
					}
					if s > bestMean {
						best, bestMean, bestQ = a, s, slices.Clone(one)
					}
				}
				picked[best] = true
				for j := range M {
					y := float64(b.Rewards[i]+b.Bonus[i]) + gamma*float64(1-b.Terminated[i])*float64(bestQ[j])
					if transform == ValueTransformSymlog {
						y = math.Copysign(math.Log1p(math.Abs(y)), y)
					}
					if !near(float64(got[i*M+j]), y, 1e-5) {
						t.Fatalf("row %d, quantile %d: target %g, want %g", i, j, got[i*M+j], y)
					}
				}
			}
			if len(picked) < 2 {
				t.Error("every row bootstraps from the same action: the check has no power")
			}
		})
	}
}

// TestQuantileNetwork checks the distributional action value's network
// beside the training: rows that share a latent read as they do alone,
// the target copy lags the trained network, the Polyak average follows
// it, and a model without it panics.
func TestQuantileNetwork(t *testing.T) {
	const M = 5
	rng := rand.New(rand.NewPCG(5, 6))
	m, batch := testModel(t, func(c *Config) { c.ValueTarget, c.QQuantiles, c.AverageTau = ValueQ, M, 0.5 }, false, 10, rng)
	d, A := m.LatentDim(), m.ActionDim()
	if m.QuantileCount() != M {
		t.Fatalf("QuantileCount %d, want %d", m.QuantileCount(), M)
	}

	t.Run("rows sharing a latent", func(t *testing.T) {
		b := batch(1, 1)
		const rows = 32
		z := make([]float32, rows*d)
		acts := make([]float32, rows*A)
		m.Encode(z[:d], b.Obs, 1)
		for i := range rows {
			copy(z[i*d:], z[:d])
			acts[i*A+(i*7)%A] = 1
		}
		q := make([]float32, rows*M)
		m.ActionValueQuantiles(q, z, acts, rows)
		one := make([]float32, M)
		spread := 0.0
		for i := range rows {
			m.ActionValueQuantiles(one, z[i*d:(i+1)*d], acts[i*A:(i+1)*A], 1)
			for j := range M {
				if !near(float64(q[i*M+j]), float64(one[j]), 1e-5) {
					t.Fatalf("row %d: quantile %d reads %g among %d rows, %g alone", i, j, q[i*M+j], rows, one[j])
				}
				if j > 0 && one[j] < one[j-1] {
					t.Fatalf("row %d: quantiles %v not ascending", i, one)
				}
			}
			spread = math.Max(spread, float64(one[M-1]-one[0]))
		}
		if spread < 1e-4 {
			t.Error("the quantiles never differ: the check has no power")
		}
	})

	t.Run("target and average", func(t *testing.T) {
		if slices.Equal(m.tquant.out.w.data, m.pred.quant.out.w.data) {
			t.Error("the target network equals the trained one after training")
		}
		found := false
		for _, pr := range m.avg.pairs {
			if pr[1] == m.pred.quant.hidden.w {
				found = true
			}
		}
		if !found {
			t.Error("the Polyak average does not follow the quantile network")
		}
		b := batch(4, 1)
		z := make([]float32, 4*d)
		m.Encode(z, b.Obs, 4)
		q, qa := make([]float32, 4*M), make([]float32, 4*M)
		m.ActionValueQuantiles(q, z, b.Actions[:4*A], 4)
		m.Averaged().ActionValueQuantiles(qa, z, b.Actions[:4*A], 4)
		if slices.Equal(q, qa) {
			t.Error("the averaged weights' quantiles equal the trained weights'")
		}
	})

	t.Run("absent", func(t *testing.T) {
		plain, _ := testModel(t, func(c *Config) { c.ValueTarget = ValueQ }, false, 0, rng)
		if plain.QuantileCount() != 0 {
			t.Fatalf("a model without q_quantiles has %d quantiles", plain.QuantileCount())
		}
		defer func() {
			if recover() == nil {
				t.Error("ActionValueQuantiles without quantiles did not panic")
			}
		}()
		plain.ActionValueQuantiles(make([]float32, 2), make([]float32, d), make([]float32, A), 1)
	})
}

// TestQuantileContinuousDeterministic trains the distributional action
// value with continuous actions, whose targets draw random candidate
// actions beside the graph: the same seed gives the same weights.
func TestQuantileContinuousDeterministic(t *testing.T) {
	cfg, _ := Preset("debug")
	cfg.ValueTarget, cfg.QQuantiles = ValueQ, 3
	spec := Spec{ObsDim: 3, ActionDim: 2}
	run := func() [][]float32 {
		rng := rand.New(rand.NewPCG(7, 8))
		m, err := New(cfg, spec, rng)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if _, err := m.TrainStep(twoOutcomeBatch(m.Spec(), 8, m.cfg.Horizon, 0.5, rng), rng); err != nil {
				t.Fatal(err)
			}
		}
		return snapshot(m)
	}
	if !sameSnapshot(run(), run()) {
		t.Error("two runs of the same seed differ")
	}
}

// TestQuantileFiles checks the model files of the distributional action
// value: a file of another number of quantiles (or none) does not load
// into a model, and a file written before q_quantiles existed (its
// config has no such key) loads as a model without quantiles.
func TestQuantileFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	write := func(m *Model) []byte {
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	four, _ := testModel(t, func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, 4 }, false, 0, rng)
	for _, n := range []int{0, 8} {
		other, _ := testModel(t, func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, n }, false, 0, rng)
		if _, err := four.ReadFrom(bytes.NewReader(write(other))); !errors.Is(err, ErrArchitecture) {
			t.Errorf("reading a file of %d quantiles into a model of 4: %v, want ErrArchitecture", n, err)
		}
	}

	plain, batch := testModel(t, func(c *Config) { c.ValueTarget = ValueQ }, false, 2, rng)
	file := write(plain)
	// −1 is none as 0 is: the same architecture.
	none, _ := testModel(t, func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, -1 }, false, 2, rng)
	if none.QuantileCount() != 0 {
		t.Errorf("q_quantiles -1: %d quantiles, want none", none.QuantileCount())
	}
	if _, err := none.ReadFrom(bytes.NewReader(file)); err != nil {
		t.Errorf("q_quantiles -1 reading a file of none: %v", err)
	}
	// Cut the key out of the config blob, which follows the magic and
	// the version, and mend its length and the checksum.
	start := len(fileMagic) + 4
	n := int(binary.LittleEndian.Uint32(file[start:]))
	blob := string(file[start+4 : start+4+n])
	old := strings.Replace(strings.Replace(blob, `"q_quantiles":0,`, "", 1), `"q_quantile_kappa":0.05,`, "", 1)
	if len(old) != len(blob)-len(`"q_quantiles":0,`)-len(`"q_quantile_kappa":0.05,`) {
		t.Fatalf("config blob %s lacks the keys to cut", blob)
	}
	var out []byte
	out = append(out, file[:start]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(old)))
	out = append(out, old...)
	out = append(out, file[start+4+n:len(file)-4]...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out))
	if _, err := plain.ReadFrom(bytes.NewReader(out)); err != nil {
		t.Fatalf("a file without q_quantiles: %v", err)
	}
	if plain.QuantileCount() != 0 || plain.Config().QQuantileKappa != 0.05 {
		t.Errorf("loaded %d quantiles, κ %g; want none and the default 0.05", plain.QuantileCount(), plain.Config().QQuantileKappa)
	}
	if _, err := plain.TrainStep(batch(4, plain.cfg.Horizon), rng); err != nil {
		t.Errorf("training after loading: %v", err)
	}
}
