package gridworld

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

func TestOptimalSuccess(t *testing.T) {
	tests := []struct {
		name    string
		env     *Env
		horizon int
		want    float64
		tol     float64
	}{
		// Known optima of FrozenLake-v1 under its time limits.
		{"4x4 in 100 steps", FrozenLake4x4(), 100, 0.744, 0.005},
		{"8x8 in 200 steps", FrozenLake8x8(), 200, 0.913, 0.005},
		// Six exact moves are needed on a deterministic 4x4 map.
		{"deterministic, too short", deterministic4x4(t), 5, 0, 0},
		{"deterministic, just enough", deterministic4x4(t), 6, 1, 0},
		{"no steps", FrozenLake4x4(), 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := OptimalSuccess(tc.env, tc.horizon)
			if math.Abs(got-tc.want) > tc.tol {
				t.Errorf("OptimalSuccess = %.5f, want %.3f ± %g", got, tc.want, tc.tol)
			}
		})
	}
}

func deterministic4x4(t *testing.T) *Env {
	m, err := ParseMap(strings.NewReader("SFFF\nFHFH\nFFFH\nHFFG\n"), "det.map")
	if err != nil {
		t.Fatal(err)
	}
	return New(m)
}

func TestOptimalValues(t *testing.T) {
	windy := func(noise string) *Env {
		m := Windy().Map()
		text := strings.Replace(m.String(), "wind_noise = 1", "wind_noise = "+noise, 1)
		m, err := ParseMap(strings.NewReader(text), "windy.map")
		if err != nil {
			t.Fatal(err)
		}
		return New(m)
	}
	tests := []struct {
		name    string
		env     *Env
		horizon int
		gamma   float64
		want    float64
		tol     float64
	}{
		// The infinite-horizon optimum of FrozenLake 4x4 at γ = 0.99.
		{"frozenlake 4x4 discounted", FrozenLake4x4(), 5000, 0.99, 0.542, 0.001},
		// Sutton & Barto, Example 6.5: the shortest path with steady
		// wind takes 15 steps at −1 each.
		{"windy, steady wind", windy("0"), 200, 1, -15, 1e-12},
		{"cliff-ice, mean route", CliffIce(), 100, 1, 0.353, 0.001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.env.Map()
			v := OptimalValues(tc.env, tc.horizon, tc.gamma)
			got := v[m.StartRow*m.Cols+m.StartCol]
			if math.Abs(got-tc.want) > tc.tol {
				t.Errorf("V(start) = %.6f, want %v ± %g", got, tc.want, tc.tol)
			}
		})
	}
	// Stochastic wind costs steps: the optimal return is below −15.
	if v := OptimalValues(windy("1"), 200, 1); !(v[30] < -15.5) {
		t.Errorf("stochastic windy V(start) = %v, want below −15.5", v[30])
	}
}

// returnDist is the exact distribution of an episode's return under a
// policy: probability mass per return value, and the probability of
// ending in a hole.
type returnDist struct {
	mass map[float64]float64
	hole float64
}

func (d returnDist) mean() float64 {
	s := 0.0
	for x, p := range d.mass {
		s += p * x
	}
	return s
}

func (d returnDist) std() float64 {
	mu, s := d.mean(), 0.0
	for x, p := range d.mass {
		s += p * (x - mu) * (x - mu)
	}
	return math.Sqrt(s)
}

// cvar is the mean return of the worst α fraction of episodes.
func (d returnDist) cvar(alpha float64) float64 {
	xs := make([]float64, 0, len(d.mass))
	for x := range d.mass {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	acc, s := 0.0, 0.0
	for _, x := range xs {
		if acc >= alpha {
			break
		}
		take := min(d.mass[x], alpha-acc)
		acc += take
		s += take * x
	}
	return s / alpha
}

// distribution propagates the state distribution of an episode from the
// start under policy[t][cell], for len(policy) steps, with the map's
// step, goal and hole rewards (undiscounted). Since every step before the
// last pays step_reward, the return follows from the step count and the
// last tile.
func distribution(e *Env, policy [][]int) returnDist {
	m := e.m
	d := returnDist{mass: map[float64]float64{}}
	p := make([]float64, m.Rows*m.Cols)
	p[m.StartRow*m.Cols+m.StartCol] = 1
	for step, act := range policy {
		next := make([]float64, len(p))
		before := float64(step) * m.StepReward
		for s, ps := range p {
			if ps == 0 {
				continue
			}
			for _, o := range e.Transitions(s/m.Cols, s%m.Cols, act[s]) {
				q := ps * o.Prob
				if o.Terminal {
					d.mass[before+o.Reward] += q
					if m.At(o.Row, o.Col) == Hole {
						d.hole += q
					}
					continue
				}
				next[o.Row*m.Cols+o.Col] += q
			}
		}
		p = next
	}
	for _, ps := range p {
		d.mass[float64(len(policy))*m.StepReward] += ps
	}
	return d
}

// CliffIce's trade-off is real: the mean-optimal policy crosses the ice
// and has the higher mean, the ice-free policy has the better worst case.
func TestCliffIceTradeOff(t *testing.T) {
	e := CliffIce()
	m := e.Map()
	reward := func(o Outcome) float64 { return o.Reward }
	vBest, bestPolicy := solve(e, m.MaxSteps, 1, reward, true, nil)
	risky := distribution(e, bestPolicy)

	// The safe policy: optimal on the same map with the ice turned into
	// rock, so it never sets foot on ice; it is evaluated on the real map.
	safeMap := e.Map()
	for i, tile := range safeMap.Tiles {
		if tile == Ice {
			safeMap.Tiles[i] = Wall
		}
	}
	_, safePolicy := solve(New(safeMap), m.MaxSteps, 1, reward, true, nil)
	safe := distribution(e, safePolicy)

	start := m.StartRow*m.Cols + m.StartCol
	checks := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"risky mean equals V*(start)", risky.mean(), vBest[start], 1e-12},
		{"risky mean", risky.mean(), 0.3531, 0.0005},
		{"risky hole probability", risky.hole, 0.3218, 0.0005},
		{"risky CVaR 10%", risky.cvar(0.1), -0.278, 0.001},
		{"safe mean", safe.mean(), 0.25, 1e-12},
		{"safe hole probability", safe.hole, 0, 0},
		{"safe spread", safe.std(), 0, 1e-12},
		{"safe CVaR 10%", safe.cvar(0.1), 0.25, 1e-12},
		{"total probability", sum(risky.mass), 1, 1e-12},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.6f, want %v ± %g", c.name, c.got, c.want, c.tol)
		}
	}
	if !(risky.mean() > safe.mean()+0.1) {
		t.Errorf("risky mean %.4f not clearly above safe %.4f", risky.mean(), safe.mean())
	}
	if !(safe.cvar(0.1) > risky.cvar(0.1)+0.5) {
		t.Errorf("safe CVaR %.4f not clearly above risky %.4f", safe.cvar(0.1), risky.cvar(0.1))
	}
	if !(risky.std() > 0.3) {
		t.Errorf("risky spread %.4f, want above 0.3", risky.std())
	}

	// Simulated episodes of the mean-optimal policy fall in the lake as
	// often as computed.
	const n = 20000
	holes := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		e.Reset(rng.Uint64())
		for step := 0; ; step++ {
			s := e.State()
			_, term, trunc := e.Step([]float64{float64(bestPolicy[step][int(s[0])*m.Cols+int(s[1])])})
			if term {
				s = e.State()
				if m.At(int(s[0]), int(s[1])) == Hole {
					holes++
				}
			}
			if term || trunc {
				break
			}
		}
	}
	got, tol := float64(holes)/n, sigmas*math.Sqrt(risky.hole*(1-risky.hole)/n)
	if math.Abs(got-risky.hole) > tol {
		t.Errorf("simulated hole rate %.4f, want %.4f ± %.4f", got, risky.hole, tol)
	}
}

func sum(m map[float64]float64) float64 {
	s := 0.0
	for _, p := range m {
		s += p
	}
	return s
}

// greedyPolicy is the stationary policy greedy on values v at discount
// gamma.
func greedyPolicy(e *Env, v []float64, gamma float64) []int {
	m := e.m
	pol := make([]int, m.Rows*m.Cols)
	for s := range pol {
		if t := m.Tiles[s]; t == Wall || t.Terminal() {
			continue
		}
		best := math.Inf(-1)
		for a := range numActions {
			q := 0.0
			for _, o := range e.Transitions(s/m.Cols, s%m.Cols, a) {
				q += o.Prob * o.Reward
				if !o.Terminal {
					q += o.Prob * gamma * v[o.Row*m.Cols+o.Col]
				}
			}
			if q > best+1e-12 {
				best, pol[s] = q, a
			}
		}
	}
	return pol
}

// TestPolicySuccess checks the exact success of fixed policies: greedy
// on the optimal values it falls short of the non-stationary optimum on
// FrozenLake 8x8 by the amount the discount costs, the shortest path on
// a deterministic map needs all six steps, and a random fixed policy's
// exact success matches simulated episodes.
func TestPolicySuccess(t *testing.T) {
	e8 := FrozenLake8x8()
	for _, tc := range []struct {
		gamma, lo, hi float64
	}{{0.99, 0.855, 0.87}, {0.995, 0.885, 0.9}} {
		got := PolicySuccess(e8, greedyPolicy(e8, OptimalValues(e8, 2000, tc.gamma), tc.gamma), 200)
		if got < tc.lo || got > tc.hi || got > OptimalSuccess(e8, 200) {
			t.Errorf("greedy at γ = %g: success %.4f, want %g to %g and at most the optimum", tc.gamma, got, tc.lo, tc.hi)
		}
	}
	det := deterministic4x4(t)
	pol := greedyPolicy(det, OptimalValues(det, 100, 0.9), 0.9)
	if a, b := PolicySuccess(det, pol, 5), PolicySuccess(det, pol, 6); a != 0 || b != 1 {
		t.Errorf("deterministic shortest path: success %g in 5 steps and %g in 6, want 0 and 1", a, b)
	}

	e4 := FrozenLake4x4()
	rng := rand.New(rand.NewPCG(5, 6))
	// The first random fixed policy that succeeds at least 5% of the time.
	pol = make([]int, 16)
	want := 0.0
	for want < 0.05 {
		for s := range pol {
			pol[s] = rng.IntN(numActions)
		}
		want = PolicySuccess(e4, pol, 100)
	}
	const episodes = 20000
	wins := 0
	for ep := range episodes {
		e4.Reset(uint64(ep))
		for {
			s := e4.row*e4.m.Cols + e4.col
			_, term, trunc := e4.Step([]float64{float64(pol[s])})
			if term || trunc {
				if e4.Success() {
					wins++
				}
				break
			}
		}
	}
	got := float64(wins) / episodes
	if sd := math.Sqrt(want * (1 - want) / episodes); math.Abs(got-want) > 4*sd+1e-9 || want == 0 {
		t.Errorf("random fixed policy: %.4f of %d episodes succeeded, exact %.4f", got, episodes, want)
	}
}
