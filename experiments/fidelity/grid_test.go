package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/envs/gridworld"
)

// cellModel is a hand-built model on a gridworld whose latents are the
// one-hots of the cells (row-major), so that every imagined latent is a
// real cell's latent and the imagined distribution is known.
type cellModel struct {
	env   *gridworld.Env
	cols  int
	slips bool // sample the true outcomes; otherwise always the intended cell
	// cont is the continuation written for a step onto the cell to
	// (row-major index).
	cont  func(to int) float32
	value []float64 // V per row-major cell
}

func newCellModel(env *gridworld.Env, slips bool, cont func(to int) float32, value []float64) *cellModel {
	return &cellModel{env: env, cols: env.Map().Cols, slips: slips, cont: cont, value: value}
}

// endsOnTerminal is the continuation of a model that knows where episodes
// end: 0 on a hole or goal, 1 elsewhere.
func endsOnTerminal(env *gridworld.Env) func(int) float32 {
	mp := env.Map()
	return func(to int) float32 {
		if mp.Tiles[to].Terminal() {
			return 0
		}
		return 1
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func (m *cellModel) LatentDim() int { return len(m.value) }
func (m *cellModel) ActionDim() int { return 4 }

func (m *cellModel) Step(next, _, cont, z, a []float32, rows int, _ bool, rng *rand.Rand) {
	d := m.LatentDim()
	for i := range rows {
		c, act := argmax(z[i*d:(i+1)*d]), argmax(a[i*4:(i+1)*4])
		to := m.intended(c, act)
		if m.slips {
			u, acc := rng.Float64(), 0.0
			for _, o := range m.env.Transitions(c/m.cols, c%m.cols, act) {
				to = o.Row*m.cols + o.Col
				if acc += o.Prob; u < acc {
					break
				}
			}
		}
		row := next[i*d : (i+1)*d]
		clear(row)
		row[to] = 1
		if cont != nil {
			cont[i] = m.cont(to)
		}
	}
}

// intended is the cell the action leads to without slip or wind: clamped
// to the grid, unmoved from a terminal cell. The maps tested have no walls.
func (m *cellModel) intended(c, a int) int {
	mp := m.env.Map()
	if mp.Tiles[c].Terminal() {
		return c
	}
	dr := [4]int{0, 1, 0, -1}
	dc := [4]int{-1, 0, 1, 0}
	r := min(max(c/m.cols+dr[a], 0), mp.Rows-1)
	col := min(max(c%m.cols+dc[a], 0), mp.Cols-1)
	return r*m.cols + col
}

func (m *cellModel) Value(dst, z []float32, rows int) {
	d := m.LatentDim()
	for i := range rows {
		dst[i] = float32(m.value[argmax(z[i*d:(i+1)*d])])
	}
}

// oneHotGrid is the Grid of env whose cell latents are one-hots, with the
// optimal values at gamma.
func oneHotGrid(env *gridworld.Env, gamma float64) (*Grid, []float64) {
	mp := env.Map()
	n := mp.Rows * mp.Cols
	opt := gridworld.OptimalValues(env, 1000, gamma)
	g := NewGrid(env, n, func(z []float32, row, col int) { z[row*mp.Cols+col] = 1 }, opt)
	return g, opt
}

func TestTV(t *testing.T) {
	for _, tc := range []struct {
		name string
		p, q []float64
		want float64
	}{
		{"equal", []float64{0.2, 0.3, 0.5}, []float64{0.2, 0.3, 0.5}, 0},
		{"disjoint", []float64{1, 0}, []float64{0, 1}, 1},
		{"slip against intended", []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, []float64{0, 1, 0}, 2.0 / 3},
		{"shifted mass", []float64{0.5, 0.5, 0}, []float64{0.25, 0.5, 0.25}, 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TV(tc.p, tc.q); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("TV = %g, want %g", got, tc.want)
			}
		})
	}
}

func TestExpectedTV(t *testing.T) {
	// The closed form against the sum over the binomial's support.
	for _, tc := range []struct {
		k int
		p float64
	}{{1, 0.3}, {2, 0.5}, {10, 1.0 / 3}, {64, 0.1}, {256, 1.0 / 3}, {256, 2.0 / 3}, {256, 0.999}, {1000, 0.004}} {
		t.Run(fmt.Sprintf("k=%d,p=%.3f", tc.k, tc.p), func(t *testing.T) {
			direct := 0.0
			for x := 0; x <= tc.k; x++ {
				lc, _ := math.Lgamma(float64(tc.k + 1))
				lx, _ := math.Lgamma(float64(x + 1))
				ly, _ := math.Lgamma(float64(tc.k - x + 1))
				pmf := math.Exp(lc - lx - ly + float64(x)*math.Log(tc.p) + float64(tc.k-x)*math.Log1p(-tc.p))
				direct += pmf * math.Abs(float64(x)-float64(tc.k)*tc.p)
			}
			if got := binomialMAD(tc.k, tc.p); math.Abs(got-direct) > 1e-10*max(1, direct) {
				t.Errorf("binomialMAD(%d, %g) = %.15g, direct sum %.15g", tc.k, tc.p, got, direct)
			}
		})
	}
	// One draw: E[TV] = ½ Σ_c 2 p_c (1 − p_c).
	p := []float64{0.5, 0.25, 0.25, 0}
	if got, want := ExpectedTV(p, 1), 0.5*0.5+2*0.25*0.75; math.Abs(got-want) > 1e-12 {
		t.Errorf("ExpectedTV(p, 1) = %g, want %g", got, want)
	}
	if got := ExpectedTV([]float64{0, 1, 0}, 256); got != 0 {
		t.Errorf("ExpectedTV of a certain outcome = %g, want 0", got)
	}
}

func TestNearest(t *testing.T) {
	// Three cells of FrozenLake 4x4 with hand-placed 2-d latents.
	env := gridworld.FrozenLake4x4()
	latent := map[int][2]float32{}
	g := NewGrid(env, 2, func(z []float32, row, col int) {
		c := row*4 + col
		z[0], z[1] = float32(c), float32(c%2) // distinct per cell
		latent[c] = [2]float32{z[0], z[1]}
	}, make([]float64, 16))
	pos := func(c int) int { return g.Position(c/4, c%4) }
	for _, tc := range []struct {
		name string
		z    []float32
		want int // row-major cell
	}{
		{"on a cell's latent", []float32{6, 0}, 6},
		{"on a hole's latent", []float32{5, 1}, 5},
		{"between two, nearer the second", []float32{2.4, 0.9}, 3},
		{"tie goes to the lower position", []float32{0.5, 0.5}, 0},
		{"far beyond the goal", []float32{100, 0}, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := g.Nearest(tc.z); got != pos(tc.want) {
				r, c := g.Cell(got)
				t.Errorf("Nearest(%v) = cell (%d, %d), want (%d, %d)", tc.z, r, c, tc.want/4, tc.want%4)
			}
		})
	}
	if g.Cells() != 16 || len(g.Starts()) != 11 {
		t.Errorf("FrozenLake 4x4: %d reachable cells, %d starts; want 16 and 11", g.Cells(), len(g.Starts()))
	}
}

// TestTrueDistribution checks the exact h-step distribution against a
// Monte Carlo of the environment itself: each cell's frequency among n
// episodes within 5 standard deviations of its probability (and exactly 0
// where the probability is 0).
func TestTrueDistribution(t *testing.T) {
	const n = 20000
	L, D, R, U := gridworld.Left, gridworld.Down, gridworld.Right, gridworld.Up
	for _, tc := range []struct {
		name     string
		env      func() *gridworld.Env
		row, col int
		actions  []int
	}{
		{"frozenlake4x4 start, 3 steps", gridworld.FrozenLake4x4, 0, 0, []int{R, D, D}},
		{"frozenlake4x4 beside holes and goal, absorbing", gridworld.FrozenLake4x4, 2, 1, []int{D, R, R, U}},
		{"frozenlake8x8, 5 steps", gridworld.FrozenLake8x8, 0, 0, []int{R, R, D, D, R}},
		{"windy with stochastic wind", gridworld.Windy, 3, 2, []int{R, R, R, R}},
		{"cliff-ice over the ice", gridworld.CliffIce, 4, 3, []int{R, R, R, L}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env()
			g, _ := oneHotGrid(env, 0.99)
			start := g.Position(tc.row, tc.col)
			p := g.TrueDistribution(nil, start, tc.actions)
			sum := 0.0
			for _, v := range p {
				sum += v
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Fatalf("probabilities sum to %g", sum)
			}
			count := make([]float64, g.Cells())
			act := []float64{0}
			for i := range n {
				env.Reset(uint64(i) + 1)
				if err := env.SetState([]float64{float64(tc.row), float64(tc.col)}); err != nil {
					t.Fatal(err)
				}
				for _, a := range tc.actions {
					act[0] = float64(a)
					env.Step(act)
				}
				s := env.State()
				count[g.Position(int(s[0]), int(s[1]))]++
			}
			for c, pc := range p {
				f := count[c] / n
				tol := 5 * math.Sqrt(pc*(1-pc)/n)
				if math.Abs(f-pc) > tol || (pc == 0 && f != 0) {
					r, col := g.Cell(c)
					t.Errorf("cell (%d, %d): frequency %.4f, probability %.4f (tolerance %.4f)", r, col, f, pc, tol)
				}
			}
		})
	}
}

// TestScoreExactModel scores a model that samples the true outcomes and
// knows where episodes end: its mean TV is the floor up to Monte Carlo
// error. Changing one of the K rollouts of one of the n pairs moves the
// mean TV by at most 1/(nK), so by McDiarmid's inequality
//
//	P(|mean TV − mean floor| ≥ ε) ≤ 2 exp(−2 n K ε²),   ε = √(ln(2/δ) / (2 n K))
//
// at δ = 1e-6; the same bound, scaled by the largest optimal value v_max,
// holds for the value bias, and the mean |ΔV| is at most
// v_max/(2√K) + v_max ε (Jensen on the mean of K values in [0, v_max]).
func TestScoreExactModel(t *testing.T) {
	const (
		k     = 256
		delta = 1e-6
	)
	for _, term := range []Termination{TermSample, TermThreshold, TermCell} {
		t.Run(string(term), func(t *testing.T) {
			env := gridworld.FrozenLake4x4()
			g, opt := oneHotGrid(env, 0.99)
			m := newCellModel(env, true, endsOnTerminal(env), opt)
			vmax := 0.0
			for _, v := range opt {
				vmax = max(vmax, v)
			}
			scores := g.Score(m, Options{Horizon: 3, Samples: k, Sequences: 16, Termination: term}, rand.New(rand.NewPCG(1, 2)))
			for _, s := range scores {
				eps := math.Sqrt(math.Log(2/delta) / (2 * float64(s.Pairs*k)))
				if math.Abs(s.TV-s.Floor) > eps {
					t.Errorf("h = %d: TV %.4f, floor %.4f, tolerance %.4f", s.H, s.TV, s.Floor, eps)
				}
				if math.Abs(s.ValueBias) > vmax*eps {
					t.Errorf("h = %d: value bias %.4f, tolerance %.4f", s.H, s.ValueBias, vmax*eps)
				}
				if bound := vmax/(2*math.Sqrt(k)) + vmax*eps; s.ValueError > bound {
					t.Errorf("h = %d: value error %.4f above %.4f", s.H, s.ValueError, bound)
				}
				if s.ValueErrorReal > 1e-6 {
					t.Errorf("h = %d: value error at real latents %g, want 0", s.H, s.ValueErrorReal)
				}
			}
		})
	}
}

// TestScoreExactModelOneOutcome checks that an exact model scores exactly
// 0 on the moves of Windy whose outcome is certain.
func TestScoreExactModelOneOutcome(t *testing.T) {
	env := gridworld.Windy()
	g, opt := oneHotGrid(env, 0.99)
	m := newCellModel(env, true, endsOnTerminal(env), opt)
	s := g.Score(m, Options{Horizon: 1, Samples: 64}, rand.New(rand.NewPCG(1, 2)))[0]
	if one := s.ByOutcomes[0]; one.Pairs == 0 || one.TV != 0 || one.Floor != 0 {
		t.Errorf("one-outcome moves: %+v, want some with TV 0 and floor 0", one)
	}
	if three := s.ByOutcomes[2]; three.Pairs == 0 {
		t.Errorf("no three-outcome moves on Windy")
	}
}

// TestIntendedModel scores a model that always moves to the intended cell
// on FrozenLake 4x4, slip 2/3: at h = 1 its TV is 1 − p(intended cell),
// 2/3 on a move whose three directions lead to three distinct cells.
func TestIntendedModel(t *testing.T) {
	env := gridworld.FrozenLake4x4()
	g, opt := oneHotGrid(env, 0.99)
	m := newCellModel(env, false, endsOnTerminal(env), opt)
	im := NewImaginer(g, m, 8, TermSample)
	rng := rand.New(rand.NewPCG(3, 4))
	L, D, R := gridworld.Left, gridworld.Down, gridworld.Right
	for _, tc := range []struct {
		name     string
		row, col int
		action   int
		want     float64
	}{
		{"three outcomes from the start", 0, 0, D, 2.0 / 3},
		{"two outcomes in the corner", 0, 0, L, 1.0 / 3},
		{"intended into a hole", 1, 0, R, 2.0 / 3},
		{"intended onto the goal", 3, 2, R, 2.0 / 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := g.Position(tc.row, tc.col)
			p := g.TrueDistribution(nil, start, []int{tc.action})
			q, seen := im.Imagine(nil, start, []int{tc.action}, rng)
			if seen.Gap != 0 {
				t.Errorf("gap %g off one-hot latents, want 0", seen.Gap)
			}
			if got := TV(p, q); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("TV = %.6f, want %.6f", got, tc.want)
			}
		})
	}
	// The whole score at h = 1: the mean of 1 − p(intended) over the
	// (start, action) pairs, and 2/3 on every three-outcome move.
	s := g.Score(m, Options{Horizon: 1, Samples: 8}, rng)[0]
	want, n := 0.0, 0
	for _, st := range g.Starts() {
		r, c := g.Cell(st)
		for a := range 4 {
			to := m.intended(r*4+c, a)
			p := 0.0
			for _, o := range env.Transitions(r, c, a) {
				if o.Row*4+o.Col == to {
					p += o.Prob
				}
			}
			want += 1 - p
			n++
		}
	}
	if want /= float64(n); math.Abs(s.TV-want) > 1e-12 || s.TVSE == 0 {
		t.Errorf("mean TV %.6f ± %.3g, want %.6f", s.TV, s.TVSE, want)
	}
	if three := s.ByOutcomes[2]; three.Pairs == 0 || math.Abs(three.TV-2.0/3) > 1e-12 {
		t.Errorf("three-outcome moves: %+v, want TV 2/3", three)
	}
}

// TestEndedRolloutKeepsItsCell rolls a model that always moves to the
// intended cell and always says the episode ended: a rollout that ends
// stays on the cell of its ending step.
func TestEndedRolloutKeepsItsCell(t *testing.T) {
	env := gridworld.FrozenLake4x4()
	g, opt := oneHotGrid(env, 0.99)
	m := newCellModel(env, false, func(int) float32 { return 0 }, opt)
	R := gridworld.Right
	for _, tc := range []struct {
		term     Termination
		row, col int // where both rollouts of two steps right from (0, 0) end
		value    float64
	}{
		{TermSample, 0, 1, 0},
		{TermThreshold, 0, 1, 0},
		{TermCell, 0, 2, opt[2]}, // the continuation head is ignored
	} {
		t.Run(string(tc.term), func(t *testing.T) {
			im := NewImaginer(g, m, 4, tc.term)
			q, seen := im.Imagine(nil, g.Position(0, 0), []int{R, R}, rand.New(rand.NewPCG(5, 6)))
			if c := g.Position(tc.row, tc.col); q[c] != 1 {
				t.Errorf("q(%d, %d) = %g, want 1 (q = %v)", tc.row, tc.col, q[c], q)
			}
			if math.Abs(seen.Value-tc.value) > 1e-6 {
				t.Errorf("mean imagined value %g, want %g", seen.Value, tc.value)
			}
		})
	}
}

func TestMakePlan(t *testing.T) {
	env := gridworld.FrozenLake4x4()
	g, _ := oneHotGrid(env, 0.99)
	starts := len(g.Starts())
	plan := g.MakePlan(Options{Horizon: 4, Sequences: 64}, rand.New(rand.NewPCG(7, 8)))
	for h, want := range []int{4, 16, 64, 64} {
		t.Run(fmt.Sprintf("h=%d", h+1), func(t *testing.T) {
			pairs := plan[h]
			if len(pairs) != starts*want {
				t.Fatalf("%d pairs, want %d starts × %d", len(pairs), starts, want)
			}
			seen := map[string]bool{}
			for _, p := range pairs[:want] {
				if len(p.Actions) != h+1 {
					t.Fatalf("sequence %v of length %d", p.Actions, len(p.Actions))
				}
				seen[fmt.Sprint(p.Actions)] = true
			}
			enumerated := h+1 <= 3 // 4^h ≤ 64
			if enumerated && len(seen) != want {
				t.Errorf("%d distinct of %d enumerated sequences", len(seen), want)
			}
		})
	}
	again := g.MakePlan(Options{Horizon: 4, Sequences: 64}, rand.New(rand.NewPCG(7, 8)))
	if fmt.Sprint(again) != fmt.Sprint(plan) {
		t.Error("the same seed drew different sequences")
	}
}

// halfwayModel puts every next latent halfway between the current cell's
// one-hot and the intended cell's.
type halfwayModel struct{ *cellModel }

func (m halfwayModel) Step(next, _, cont, z, a []float32, rows int, _ bool, _ *rand.Rand) {
	d := m.LatentDim()
	for i := range rows {
		c, act := argmax(z[i*d:(i+1)*d]), argmax(a[i*4:(i+1)*4])
		row := next[i*d : (i+1)*d]
		clear(row)
		row[c] += 0.5
		row[m.intended(c, act)] += 0.5
		cont[i] = 1
	}
}

func TestGap(t *testing.T) {
	env := gridworld.FrozenLake4x4()
	g, opt := oneHotGrid(env, 0.99)
	if want := math.Sqrt2; math.Abs(g.Spacing()-want) > 1e-12 {
		t.Fatalf("spacing of one-hot latents %g, want √2", g.Spacing())
	}
	for _, tc := range []struct {
		name  string
		m     Model
		start [2]int
		a     int
		want  float64
	}{
		{"on the real latents", newCellModel(env, true, endsOnTerminal(env), opt), [2]int{0, 0}, gridworld.Down, 0},
		{"halfway between two cells", halfwayModel{newCellModel(env, false, nil, opt)}, [2]int{0, 0}, gridworld.Down, 0.5},
		{"onto its own cell", halfwayModel{newCellModel(env, false, nil, opt)}, [2]int{0, 0}, gridworld.Up, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := NewImaginer(g, tc.m, 16, TermCell)
			_, seen := im.Imagine(nil, g.Position(tc.start[0], tc.start[1]), []int{tc.a}, rand.New(rand.NewPCG(1, 1)))
			if math.Abs(seen.Gap-tc.want) > 1e-6 {
				t.Errorf("gap %g, want %g", seen.Gap, tc.want)
			}
		})
	}
}
