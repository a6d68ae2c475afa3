package worldmodel

import (
	"math"
	"math/rand/v2"
)

// Synthetic data for the tests: a noisy linear system observed as state
// vectors, and a gridworld drawn as pixels.

// linearSystem is s' = A s + b_a + ε with discrete actions a, A a scaled
// rotation (so states stay bounded) and ε Gaussian: independent with
// standard deviation sigma per coordinate, plus, when corr > 0, a common
// term corr·η·u_a along a unit direction u_a that depends on the action, so
// that no fixed rotation of the latent space makes the noise independent.
type linearSystem struct {
	n, actions  int
	a           []float64 // n×n
	b           []float64 // actions×n
	dirs        []float64 // actions×n unit directions of the correlated noise
	sigma, corr float64
}

func newLinearSystem(n, actions int, sigma, corr float64, rng *rand.Rand) *linearSystem {
	s := &linearSystem{n: n, actions: actions, sigma: sigma, corr: corr}
	s.a = make([]float64, n*n)
	// Rotations by θ in the planes (0,1), (2,3), …, scaled by 0.8.
	for i := 0; i+1 < n; i += 2 {
		th := 0.3 + 0.2*float64(i)
		c, sn := 0.8*math.Cos(th), 0.8*math.Sin(th)
		s.a[i*n+i], s.a[i*n+i+1] = c, -sn
		s.a[(i+1)*n+i], s.a[(i+1)*n+i+1] = sn, c
	}
	if n%2 == 1 {
		s.a[n*n-1] = 0.8
	}
	s.b = make([]float64, actions*n)
	for i := range s.b {
		s.b[i] = 0.5 * rng.NormFloat64()
	}
	s.dirs = make([]float64, actions*n)
	for k := 0; k < actions; k++ {
		u := s.dirs[k*n : (k+1)*n]
		norm := 0.0
		for i := range u {
			u[i] = rng.NormFloat64()
			norm += u[i] * u[i]
		}
		for i := range u {
			u[i] /= math.Sqrt(norm)
		}
	}
	return s
}

// step writes s' for state s and action k into next.
func (s *linearSystem) step(next, state []float64, k int, rng *rand.Rand) {
	n := s.n
	eta := rng.NormFloat64()
	for i := 0; i < n; i++ {
		v := s.b[k*n+i]
		for j := 0; j < n; j++ {
			v += s.a[i*n+j] * state[j]
		}
		next[i] = v + s.sigma*rng.NormFloat64() + s.corr*eta*s.dirs[k*n+i]
	}
}

// batch draws B sequences of K steps from states s_0 ~ N(0, I); the reward
// is the first state coordinate.
func (s *linearSystem) batch(B, K int, rng *rand.Rand) *Batch {
	n, A := s.n, s.actions
	b := &Batch{B: B, K: K,
		Obs:        make([]float32, (K+1)*B*n),
		Actions:    make([]float32, K*B*A),
		Rewards:    make([]float32, K*B),
		Terminated: make([]float32, K*B),
	}
	state, next := make([]float64, n), make([]float64, n)
	for bi := 0; bi < B; bi++ {
		for i := range state {
			state[i] = rng.NormFloat64()
		}
		for t := 0; ; t++ {
			for i, v := range state {
				b.Obs[(t*B+bi)*n+i] = float32(v)
			}
			if t == K {
				break
			}
			k := rng.IntN(A)
			b.Actions[(t*B+bi)*A+k] = 1
			b.Rewards[t*B+bi] = float32(state[0])
			s.step(next, state, k, rng)
			state, next = next, state
		}
	}
	return b
}

// grid is a side×side gridworld drawn with cell×cell pixel cells: a grey
// background, a green goal in the bottom-right cell and a red agent. The
// agent moves up, right, down or left and stays put at a wall; reaching
// the goal ends the episode with reward 1.
type grid struct {
	side, cell int
}

func (g grid) size() int { return g.side * g.cell }

func (g grid) spec() Spec {
	return Spec{Frame: [3]int{g.size(), g.size(), 3}, ActionDim: 4, Discrete: true}
}

// draw writes the input row (channels first, values in [0, 1]) of the
// agent at cell pos.
func (g grid) draw(dst []float32, pos int) {
	n := g.size()
	hw := n * n
	fill := func(cellIdx int, rgb [3]float32) {
		cy, cx := cellIdx/g.side, cellIdx%g.side
		for y := cy * g.cell; y < (cy+1)*g.cell; y++ {
			for x := cx * g.cell; x < (cx+1)*g.cell; x++ {
				for c := 0; c < 3; c++ {
					dst[c*hw+y*n+x] = rgb[c]
				}
			}
		}
	}
	for i := range dst[:3*hw] {
		dst[i] = 0.5
	}
	fill(g.side*g.side-1, [3]float32{0.1, 0.8, 0.2})
	fill(pos, [3]float32{0.9, 0.1, 0.1})
}

func (g grid) move(pos, action int) int {
	y, x := pos/g.side, pos%g.side
	switch action {
	case 0:
		y = max(y-1, 0)
	case 1:
		x = min(x+1, g.side-1)
	case 2:
		y = min(y+1, g.side-1)
	case 3:
		x = max(x-1, 0)
	}
	return y*g.side + x
}

// batch draws B random-walk sequences of K steps from random cells (not
// the goal); after reaching the goal the agent stays there.
func (g grid) batch(B, K int, rng *rand.Rand) *Batch {
	in := 3 * g.size() * g.size()
	goal := g.side*g.side - 1
	b := &Batch{B: B, K: K,
		Obs:        make([]float32, (K+1)*B*in),
		Actions:    make([]float32, K*B*4),
		Rewards:    make([]float32, K*B),
		Terminated: make([]float32, K*B),
	}
	for bi := 0; bi < B; bi++ {
		pos := rng.IntN(goal)
		done := false
		for t := 0; ; t++ {
			g.draw(b.Obs[(t*B+bi)*in:(t*B+bi+1)*in], pos)
			if t == K {
				break
			}
			a := rng.IntN(4)
			b.Actions[(t*B+bi)*4+a] = 1
			if !done {
				pos = g.move(pos, a)
				if pos == goal {
					b.Rewards[t*B+bi] = 1
					b.Terminated[t*B+bi] = 1
					done = true
				}
			}
		}
	}
	return b
}

// frames returns the input rows of every non-goal cell.
func (g grid) frames() ([]float32, int) {
	in := 3 * g.size() * g.size()
	n := g.side*g.side - 1
	out := make([]float32, n*in)
	for p := 0; p < n; p++ {
		g.draw(out[p*in:(p+1)*in], p)
	}
	return out, n
}
