package loss

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// quantileDefinition is QuantileHuber written from its definition, one
// term at a time.
func quantileDefinition(theta, y, w []float64, rows, m, n int, kappa float64) float64 {
	sum := 0.0
	for b := range rows {
		row := 0.0
		for i := range m {
			tau := (2*float64(i) + 1) / (2 * float64(m))
			for j := range n {
				u := y[b*n+j] - theta[b*m+i]
				huber := 0.5 * u * u
				if math.Abs(u) > kappa {
					huber = kappa * (math.Abs(u) - 0.5*kappa)
				}
				ind := 0.0
				if u < 0 {
					ind = 1
				}
				row += math.Abs(tau-ind) * huber / kappa
			}
		}
		row /= float64(m * n)
		if w != nil {
			row *= w[b]
		}
		sum += row
	}
	return sum / float64(rows)
}

func TestQuantileHuber(t *testing.T) {
	cases := []struct {
		name           string
		rows, m, n     int
		kappa          float64
		weighted       bool
		thetaScale, ys float64
	}{
		{"κ 1", 4, 3, 5, 1, false, 2, 2},
		{"κ 0.3 weighted", 3, 4, 4, 0.3, true, 1, 1},
		{"one quantile", 2, 1, 3, 0.5, true, 1, 1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			args := []*arg{
				randNormArg(rng, "theta", c.thetaScale, c.rows, c.m),
				randNormArg(rng, "target", c.ys, c.rows, c.n),
			}
			var w []float64
			if c.weighted {
				args = append(args, randArg(rng, "weight", 0, 2, c.rows, 1))
				w = args[2].data
			}
			build := func(in []*gorgonia.Node) (*gorgonia.Node, error) {
				var weight *gorgonia.Node
				if len(in) > 2 {
					weight = in[2]
				}
				return QuantileHuber(in[0], in[1], weight, c.kappa)
			}
			want := quantileDefinition(args[0].data, args[1].data, w, c.rows, c.m, c.n, c.kappa)
			if got := evaluator(t, args, build)(); !near(got, want, 1e-12) {
				t.Errorf("loss %.15g, definition %.15g", got, want)
			}
			checkGradFD(t, args, build, 1e-6)
			l64, g64 := lossAndGrad(t, tensor.Float64, args, build)
			l32, g32 := lossAndGrad(t, tensor.Float32, args, build)
			if !near(l32, l64, 1e-5) {
				t.Errorf("float32 loss %.8g, float64 %.8g", l32, l64)
			}
			for k := range g64 {
				for j := range g64[k] {
					if !near(g32[k][j], g64[k][j], 1e-5) {
						t.Errorf("float32 ∂/∂%s[%d] %.8g, float64 %.8g", args[k].name, j, g32[k][j], g64[k][j])
					}
				}
			}
		})
	}
}

// TestQuantileHuberMinimiser minimises the loss over each θ_i for ten
// targets of which three are 1 and seven 0 (a return of 1 with
// probability 0.3). With κ = 0.01, far below the gap between the
// outcomes, the minimisers are the quantiles, 0 for τ_i < 0.7 and 1
// above, to within κ. With κ = 1 every target lies in the loss's
// quadratic part, which is then the expectile loss: the minimisers are
// the expectiles 0.3τ/(0.3τ + 0.7(1 − τ)).
func TestQuantileHuberMinimiser(t *testing.T) {
	const m, p = 10, 0.3
	y := []float64{1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	for _, kappa := range []float64{0.01, 1} {
		k := quantileKernel{rows: 1, m: m, n: len(y), kappa: kappa}
		theta := make([]float64, m)
		for i := range m {
			// The loss is convex in θ_i and separable: a ternary search
			// on [−1, 2] finds its minimiser.
			lo, hi := -1.0, 2.0
			f := func(x float64) float64 {
				theta[i] = x
				return k.row(theta, y, 0, nil, nil)
			}
			for range 200 {
				a, b := lo+(hi-lo)/3, hi-(hi-lo)/3
				if f(a) < f(b) {
					hi = b
				} else {
					lo = a
				}
			}
			got := (lo + hi) / 2
			tau := (2*float64(i) + 1) / (2 * m)
			want, tol := 0.0, kappa
			if tau > 1-p {
				want = 1
			}
			if kappa == 1 {
				want, tol = p*tau/(p*tau+(1-p)*(1-tau)), 1e-6
			}
			if math.Abs(got-want) > tol {
				t.Errorf("κ %g, τ %.2f: minimiser %.6f, want %.6f ± %g", kappa, tau, got, want, tol)
			}
		}
	}
}

func TestQuantileHuberErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	mat := func(name string, r, c int) *gorgonia.Node {
		return gorgonia.NewMatrix(g, gorgonia.Float64, gorgonia.WithShape(r, c), gorgonia.WithName(name))
	}
	theta, y := mat("theta", 3, 4), mat("y", 3, 5)
	cases := []struct {
		name    string
		build   func() (*gorgonia.Node, error)
		wantErr error
	}{
		{"κ 0", func() (*gorgonia.Node, error) { return QuantileHuber(theta, y, nil, 0) }, ErrOption},
		{"κ NaN", func() (*gorgonia.Node, error) { return QuantileHuber(theta, y, nil, math.NaN()) }, ErrOption},
		{"rows differ", func() (*gorgonia.Node, error) { return QuantileHuber(theta, mat("y2", 2, 5), nil, 1) }, ErrShape},
		{"weight shape", func() (*gorgonia.Node, error) { return QuantileHuber(theta, y, mat("w", 3, 2), 1) }, ErrShape},
		{"nil target", func() (*gorgonia.Node, error) { return QuantileHuber(theta, nil, nil, 1) }, ErrShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.build(); !errors.Is(err, c.wantErr) {
				t.Errorf("error %v, want %v", err, c.wantErr)
			}
		})
	}
}
