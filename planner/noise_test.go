package planner

import (
	"math"
	"math/rand/v2"
	"testing"
)

// drift is a 1-d model whose action 1 moves the latent by gap and action 0
// does not, plus standard normal noise when sampling; the reward is the
// next latent. It implements CommonNoiseModel.
type drift struct{ gap float32 }

func (drift) LatentDim() int { return 1 }
func (drift) ActionDim() int { return 2 }
func (m drift) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	m.step(next, reward, cont, z, a, rows, rows, sample, rng)
}
func (m drift) StepCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand) {
	m.step(next, reward, cont, z, a, rows, period, true, rng)
}
func (m drift) step(next, reward, cont, z, a []float32, rows, period int, sample bool, rng *rand.Rand) {
	var noise [64]float32
	if sample {
		for i := range period {
			noise[i] = float32(rng.NormFloat64())
		}
	}
	for r := range rows {
		next[r] = z[r] + m.gap*a[2*r+1] + noise[r%period]
		reward[r], cont[r] = next[r], 1
	}
}
func (drift) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }

// TestCommonNoise checks that common random numbers compare candidates on
// the same scenarios: with action 1 better by 0.05 and noise of standard
// deviation 1, CEM on four independent futures per candidate picks it
// little more often than a coin, and on four common ones every time.
func TestCommonNoise(t *testing.T) {
	const decisions = 200
	picks := func(noise string) int {
		p := mustNew(t, Config{Horizon: 1, Samples: 4, Candidates: 16, Iterations: 2, Noise: noise}, ActionSpec{Discrete: 2}, drift{gap: 0.05})
		rng := rand.New(rand.NewPCG(5, 6))
		n := 0
		for range decisions {
			p.Reset()
			if p.Plan([]float32{0}, rng)[0] == 1 {
				n++
			}
		}
		return n
	}
	if n := picks(NoiseCommon); n != decisions {
		t.Errorf("common noise: the better action in %d of %d decisions, want all", n, decisions)
	}
	if n := picks(NoiseIndependent); n > decisions*9/10 {
		t.Errorf("independent noise: the better action in %d of %d decisions; the test cannot tell the two apart", n, decisions)
	}
}

// TestCommonNoiseSameScenarios checks that a decision's iterations see the
// same scenarios: with common noise the score of a lone candidate (whose
// one action moves nothing) is the same whatever the number of iterations,
// and with independent noise it is not.
func TestCommonNoiseSameScenarios(t *testing.T) {
	score := func(noise string, iterations int) float64 {
		p := mustNew(t, Config{Horizon: 2, Samples: 4, Candidates: 1, Elites: 1, Iterations: iterations, Noise: noise}, ActionSpec{Discrete: 2}, drift{gap: 0})
		p.Plan([]float32{0}, rand.New(rand.NewPCG(9, 9)))
		return p.Score()
	}
	if a, b := score(NoiseCommon, 1), score(NoiseCommon, 3); a != b {
		t.Errorf("one candidate scores %g after one iteration and %g after three: the iterations drew other scenarios", a, b)
	}
	if a, b := score(NoiseIndependent, 1), score(NoiseIndependent, 3); a == b {
		t.Errorf("with independent noise one candidate scores %g after one iteration and after three; the test cannot tell", a)
	}
}

// TestExhaustive checks that a discrete space whose n^H sequences fit in
// the candidates is searched exactly: every sequence once, in one
// iteration, each on the futures of the candidates it replaces; and that
// one sequence more than the candidates leaves the sampled search.
func TestExhaustive(t *testing.T) {
	p := mustNew(t, Config{Horizon: 3, Candidates: 64, Samples: 2, Iterations: 4}, ActionSpec{Discrete: 3}, line{target: 2})
	if c := p.Config(); c.Candidates != 27 || c.Iterations != 1 || c.Samples != 4 || c.Elites != 2 {
		t.Errorf("27 sequences in 64 candidates: candidates %d, iterations %d, samples %d, elites %d; want 27, 1, 4, 2", c.Candidates, c.Iterations, c.Samples, c.Elites)
	}
	seen := map[[3]float64]bool{}
	p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 2)))
	for i := range 27 {
		seen[[3]float64(p.cand[i*3:i*3+3])] = true
	}
	if len(seen) != 27 {
		t.Errorf("%d distinct candidates of 27", len(seen))
	}
	// On the walk to 2 from 0 the best three moves are up, up, stay: the
	// one elite.
	p = mustNew(t, Config{Horizon: 3, Candidates: 64, Elites: 1}, ActionSpec{Discrete: 3}, line{target: 2})
	p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 2)))
	if got := p.Sequence(); got[0] != 2 || got[1] != 2 || got[2] != 1 {
		t.Errorf("sequence %v, want [2 2 1]", got)
	}
	p = mustNew(t, Config{Horizon: 3, Candidates: 26, Samples: 2, Iterations: 4}, ActionSpec{Discrete: 3}, line{target: 2})
	if c := p.Config(); c.Candidates != 26 || c.Iterations != 4 || c.Samples != 2 {
		t.Errorf("27 sequences in 26 candidates: candidates %d, iterations %d, samples %d; want the sampled search's 26, 4, 2", c.Candidates, c.Iterations, c.Samples)
	}
	for _, tt := range []struct{ n, h, cands, want int }{{4, 3, 64, 64}, {2, 3, 64, 8}, {4, 4, 64, -1}, {5, 1, 4, -1}, {1000, 3, 128, -1}} {
		got, ok := sequences(tt.n, tt.h, tt.cands)
		if !ok {
			got = -1
		}
		if got != tt.want {
			t.Errorf("sequences(%d, %d, %d) = %d, want %d", tt.n, tt.h, tt.cands, got, tt.want)
		}
	}
}

// qtable is a 1-d model whose action value is a table over the actions.
type qtable struct{ q []float32 }

func (qtable) LatentDim() int   { return 1 }
func (m qtable) ActionDim() int { return len(m.q) }
func (qtable) Step(next, reward, cont, z, _ []float32, rows int, _ bool, _ *rand.Rand) {
	for r := range rows {
		next[r], reward[r], cont[r] = z[r], 0, 1
	}
}
func (qtable) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }
func (qtable) HasActionValue() bool             { return true }
func (m qtable) ActionValue(dst, _, a []float32, rows int) {
	n := len(m.q)
	for r := range rows {
		for j, v := range a[r*n : (r+1)*n] {
			if v == 1 {
				dst[r] = m.q[j]
			}
		}
	}
}

// TestExhaustiveElites checks the share of elites of an exact search: a
// config with its defaults resolved (6 elites of 64 candidates, as a run's
// config.json holds them) searching the 16 sequences of 4 actions at
// H = 2 refits to one, the best, and plans its second action on it;
// refitting to six would spread the distribution over several. At H = 1
// the sampled search stays.
func TestExhaustiveElites(t *testing.T) {
	q := qtable{[]float32{0.1, 0.2, 0.5, 0.3}}
	cfg := Config{Horizon: 2, Candidates: 64, Elites: 6, Iterations: 3, Samples: 4}
	p := mustNew(t, cfg, ActionSpec{Discrete: 4}, q)
	if c := p.Config(); c.Candidates != 16 || c.Elites != 1 || c.Samples != 16 || c.Iterations != 1 {
		t.Errorf("candidates %d, elites %d, samples %d, iterations %d; want 16, 1, 16 and 1", c.Candidates, c.Elites, c.Samples, c.Iterations)
	}
	p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 1)))
	if a := p.Sequence()[1]; a != 2 {
		t.Errorf("second action %v, want 2, the best q", a)
	}
	cfg.Horizon = 1
	p = mustNew(t, cfg, ActionSpec{Discrete: 4}, q)
	if c := p.Config(); c.Candidates != 64 || c.Iterations != 3 {
		t.Errorf("H = 1: candidates %d, iterations %d; want the sampled search's 64 and 3", c.Candidates, c.Iterations)
	}
	if a := p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 1))); a[0] != 2 {
		t.Errorf("H = 1: action %v, want 2, the best q", a[0])
	}
}

// driftQ is drift with an action value: q(z, a) = z·z + gap·a, so that the
// TD(λ) scores read it at every step.
type driftQ struct{ drift }

func (driftQ) HasActionValue() bool { return true }
func (m driftQ) ActionValue(dst, z, a []float32, rows int) {
	for r := range rows {
		dst[r] = z[r]*z[r] + m.gap*a[2*r+1]
	}
}

// TestExhaustiveTree checks that the exact search on common scenarios,
// rolled out as a tree of prefixes, scores every sequence as the flat
// rollout of every sequence's rows does, with and without an action value.
func TestExhaustiveTree(t *testing.T) {
	for _, tt := range []struct {
		name   string
		model  Model
		h      int
		lambda float64
	}{
		{"value", drift{gap: 0.3}, 3, 1},
		{"action value", driftQ{drift{gap: 0.3}}, 3, 1},
		{"TD(λ)", driftQ{drift{gap: 0.3}}, 4, 0.3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Horizon: tt.h, Candidates: 16, Samples: 2, Lambda: tt.lambda, Noise: NoiseCommon}
			tree := mustNew(t, cfg, ActionSpec{Discrete: 2}, tt.model)
			flat := mustNew(t, cfg, ActionSpec{Discrete: 2}, tt.model)
			flat.flat = true
			if !tree.tree() || flat.tree() {
				t.Fatalf("tree %v, flat %v: want a tree and a flat rollout", tree.tree(), flat.tree())
			}
			z := []float32{0.5}
			tree.Plan(z, rand.New(rand.NewPCG(3, 4)))
			flat.Plan(z, rand.New(rand.NewPCG(3, 4)))
			distinct := map[float64]bool{}
			for i, want := range flat.scores {
				distinct[want] = true
				if got := tree.scores[i]; math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
					t.Errorf("sequence %v: tree scores %g, flat %g", flat.cand[i*tt.h:(i+1)*tt.h], got, want)
				}
			}
			if len(distinct) < len(flat.scores)/2 {
				t.Errorf("%d distinct scores of %d sequences: the test cannot tell sequences apart", len(distinct), len(flat.scores))
			}
		})
	}
	p := mustNew(t, Config{Horizon: 3, Candidates: 64, Samples: 4}, ActionSpec{Discrete: 2}, drift{gap: 0.3})
	if p.tree() {
		t.Error("independent noise rolls out a tree; its sequences must keep their own draws")
	}
}
