package loss

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type pointCase struct {
	name     string
	fn       func(pred, target, weight *gorgonia.Node) (*gorgonia.Node, error)
	shape    []int
	weighted bool
	bce      bool
}

var pointCases = []pointCase{
	{name: "MSE/matrix", fn: MSE, shape: []int{4, 3}},
	{name: "MSE/vector/weighted", fn: MSE, shape: []int{6}, weighted: true},
	{name: "BCE/column", fn: BCEWithLogits, shape: []int{5, 1}, bce: true},
	{name: "BCE/matrix/weighted", fn: BCEWithLogits, shape: []int{3, 4}, weighted: true, bce: true},
}

func (c pointCase) args(seed uint64) []*arg {
	rng := rand.New(rand.NewPCG(seed, 4))
	pred := randNormArg(rng, "pred", 3, c.shape...)
	target := randNormArg(rng, "target", 1, c.shape...)
	if c.bce {
		target = randArg(rng, "target", 0, 1, c.shape...)
	}
	args := []*arg{pred, target}
	if c.weighted {
		args = append(args, randArg(rng, "weight", 0, 2, c.shape...))
	}
	return args
}

func (c pointCase) build() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		var w *gorgonia.Node
		if len(in) > 2 {
			w = in[2]
		}
		return c.fn(in[0], in[1], w)
	}
}

// want is the loss from its definition.
func (c pointCase) want(args []*arg) float64 {
	p, y := args[0].data, args[1].data
	var sum float64
	for i := range p {
		var l float64
		if c.bce {
			s := 1 / (1 + math.Exp(-p[i]))
			l = -y[i]*math.Log(s) - (1-y[i])*math.Log(1-s)
		} else {
			l = (p[i] - y[i]) * (p[i] - y[i])
		}
		if c.weighted {
			l *= args[2].data[i]
		}
		sum += l
	}
	return sum / float64(len(p))
}

func TestPointLosses(t *testing.T) {
	for i, c := range pointCases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args(uint64(i))
			if got, want := evaluator(t, args, c.build())(), c.want(args); !near(got, want, 1e-12) {
				t.Errorf("loss %.15g, definition %.15g", got, want)
			}
			checkGradFD(t, args, c.build(), 1e-6)
			l64, g64 := lossAndGrad(t, tensor.Float64, args, c.build())
			l32, g32 := lossAndGrad(t, tensor.Float32, args, c.build())
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

// TestBCEWithLogitsExtremes checks the stable form where the naive one
// overflows, and the gradient at x = 0 (where max and |·| have kinks):
// ∂L/∂x = (σ(0) − y)/n = (1/2 − y)/n.
func TestBCEWithLogitsExtremes(t *testing.T) {
	p := newArg("pred", []float64{800, -800, 0, 0, 30}, 5)
	y := newArg("target", []float64{0, 0, 1, 0.25, 1}, 5)
	args := []*arg{p, y}
	build := pointCase{fn: BCEWithLogits}.build()
	// ℓ(800, 0) = 800, ℓ(−800, 0) = log(1 + e^−800) ≈ 0, ℓ(0, y) = log 2,
	// ℓ(30, 1) = log(1 + e^−30).
	want := (800 + 0 + 2*math.Ln2 + math.Log1p(math.Exp(-30))) / 5
	loss, grads := lossAndGrad(t, tensor.Float64, args, build)
	if !near(loss, want, 1e-14) {
		t.Errorf("loss %.17g, want %.17g", loss, want)
	}
	wantGrad := []float64{1.0 / 5, 0, -0.5 / 5, 0.25 / 5, (1/(1+math.Exp(-30)) - 1) / 5}
	for j, w := range wantGrad {
		if !near(grads[0][j], w, 1e-15) {
			t.Errorf("∂/∂x[%d] = %.17g, want %.17g", j, grads[0][j], w)
		}
	}
}

func TestSquaredError(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	args := []*arg{randNormArg(rng, "target", 1, 4, 3), randNormArg(rng, "mu", 1, 4, 3)}
	build := func(in []*gorgonia.Node) (*gorgonia.Node, error) { return SquaredError(in[0], in[1]) }
	var want float64
	for i := range args[0].data {
		e := args[0].data[i] - args[1].data[i]
		want += e * e / 4
	}
	if got := evaluator(t, args, build)(); !near(got, want, 1e-12) {
		t.Errorf("SquaredError %.15g, want %.15g", got, want)
	}
	checkGradFD(t, args, build, 1e-6)
}

func TestPointLossErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	a := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 3), gorgonia.WithName("a"))
	b := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 2), gorgonia.WithName("b"))
	v := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(12), gorgonia.WithName("v"))
	cases := []struct {
		name string
		f    func() (*gorgonia.Node, error)
	}{
		{"MSE shapes", func() (*gorgonia.Node, error) { return MSE(a, b, nil) }},
		{"MSE weight shape", func() (*gorgonia.Node, error) { return MSE(a, a, v) }},
		{"BCE nil target", func() (*gorgonia.Node, error) { return BCEWithLogits(a, nil, nil) }},
		{"SquaredError vector", func() (*gorgonia.Node, error) { return SquaredError(v, v) }},
		{"SquaredError shapes", func() (*gorgonia.Node, error) { return SquaredError(a, b) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.f(); !errors.Is(err, ErrShape) {
				t.Errorf("error %v, want ErrShape", err)
			}
		})
	}
}

// refSoftBound is SoftBound from gorgonia's Softplus (exact only for
// |arguments| ≤ 16, where gorgonia switches to the identity).
func refSoftBound(x *gorgonia.Node, lo, hi float64) (*gorgonia.Node, error) {
	h := must(gorgonia.Sub(constF64(hi), must(gorgonia.Softplus(must(gorgonia.Sub(constF64(hi), x))))))
	return gorgonia.Add(constF64(lo), must(gorgonia.Softplus(must(gorgonia.Sub(h, constF64(lo))))))
}

func TestSoftBound(t *testing.T) {
	const lo, hi = -5.0, 2.0
	rng := rand.New(rand.NewPCG(5, 5))
	x := randArg(rng, "x", -8, 5, 3, 4)
	sumOf := func(f func(*gorgonia.Node, float64, float64) (*gorgonia.Node, error)) builder {
		return func(in []*gorgonia.Node) (*gorgonia.Node, error) {
			y, err := f(in[0], lo, hi)
			if err != nil {
				return nil, err
			}
			// A weighted sum, so that each element's gradient differs.
			w := newArg("w", make([]float64, 12), 3, 4)
			for i := range w.data {
				w.data[i] = float64(i+1) / 4
			}
			return gorgonia.Sum(must(gorgonia.HadamardProd(y, w.node(in[0].Graph(), in[0].Dtype()))))
		}
	}
	t.Run("gradient", func(t *testing.T) { checkGradFD(t, []*arg{x}, sumOf(SoftBound), 1e-6) })
	t.Run("reference", func(t *testing.T) { checkSame(t, []*arg{x}, sumOf(SoftBound), sumOf(refSoftBound), 1e-10) })
	t.Run("limits", func(t *testing.T) {
		cases := []struct {
			x, want, tol float64
		}{
			{1e6, lo + math.Log1p(math.Exp(hi-lo)), 1e-12}, // hi + log(1 + e^{−(hi−lo)})
			{-1e6, lo, 1e-12},
			{-1.5, -1.5, 0.05}, // well inside: close to the identity
			{-750, lo, 1e-12},  // exp(−|u|) underflows, softplus(u) stays exact
		}
		for _, c := range cases {
			got, dy := softBound(c.x, lo, hi)
			if math.Abs(got-c.want) > c.tol || math.IsNaN(dy) {
				t.Errorf("SoftBound(%g) = %.15g (slope %g), want %g ± %g", c.x, got, dy, c.want, c.tol)
			}
		}
	})
	t.Run("float32", func(t *testing.T) {
		l64, g64 := lossAndGrad(t, tensor.Float64, []*arg{x}, sumOf(SoftBound))
		l32, g32 := lossAndGrad(t, tensor.Float32, []*arg{x}, sumOf(SoftBound))
		if !near(l32, l64, 1e-5) {
			t.Errorf("float32 %.8g, float64 %.8g", l32, l64)
		}
		for j := range g64[0] {
			if !near(g32[0][j], g64[0][j], 1e-5) {
				t.Errorf("float32 ∂/∂x[%d] %.8g, float64 %.8g", j, g32[0][j], g64[0][j])
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		g := gorgonia.NewGraph()
		n := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(2, 2), gorgonia.WithName("n"))
		if _, err := SoftBound(n, 1, 1); !errors.Is(err, ErrOption) {
			t.Errorf("lo = hi: error %v, want ErrOption", err)
		}
		if _, err := SoftBound(n, math.Inf(-1), 1); !errors.Is(err, ErrOption) {
			t.Errorf("infinite lo: error %v, want ErrOption", err)
		}
	})
}
