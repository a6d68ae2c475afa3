package loss

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type vicRegCase struct {
	name   string
	n      int
	scales []float64 // column standard deviations: some below γ, some above
	opts   VICRegOptions
}

var vicRegCases = []vicRegCase{
	{name: "defaults", n: 6, scales: []float64{0.3, 2, 0.7}},
	{name: "weights", n: 5, scales: []float64{0.5, 0.2, 1.5, 0.9}, opts: VICRegOptions{Gamma: 1.2, Eps: 1e-3, VarWeight: 25, CovWeight: 3}},
	{name: "no covariance", n: 4, scales: []float64{0.4, 0.6}, opts: VICRegOptions{CovWeight: -1}},
	{name: "no variance", n: 4, scales: []float64{0.4, 0.6, 1}, opts: VICRegOptions{VarWeight: -1, CovWeight: 1}},
}

func (c vicRegCase) args(seed uint64) []*arg {
	rng := rand.New(rand.NewPCG(seed, 3))
	d := len(c.scales)
	z := newArg("z", make([]float64, c.n*d), c.n, d)
	mix := rng.NormFloat64()
	for i := range c.n {
		common := rng.NormFloat64()
		for j, s := range c.scales {
			z.data[i*d+j] = s*rng.NormFloat64() + 0.5*mix*common + float64(j)
		}
	}
	return []*arg{z}
}

func (c vicRegCase) fused() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) { return VICReg(in[0], c.opts) }
}

func (c vicRegCase) ref() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) { return refVICReg(in[0], c.opts) }
}

func TestVICRegGradient(t *testing.T) {
	for i, c := range vicRegCases {
		t.Run(c.name, func(t *testing.T) { checkGradFD(t, c.args(uint64(i)), c.fused(), 1e-6) })
	}
}

func TestVICRegMatchesReference(t *testing.T) {
	for i, c := range vicRegCases {
		t.Run(c.name, func(t *testing.T) { checkSame(t, c.args(uint64(10+i)), c.fused(), c.ref(), 1e-10) })
	}
}

func TestVICRegFloat32(t *testing.T) {
	c := vicRegCases[0]
	args := c.args(99)
	l64, g64 := lossAndGrad(t, tensor.Float64, args, c.fused())
	l32, g32 := lossAndGrad(t, tensor.Float32, args, c.fused())
	const tol = 1e-4
	if !near(l32, l64, tol) {
		t.Errorf("loss float32 %.8g, float64 %.8g", l32, l64)
	}
	for j := range g64[0] {
		if !near(g32[0][j], g64[0][j], tol) {
			t.Errorf("∂/∂z[%d] float32 %.8g, float64 %.8g", j, g32[0][j], g64[0][j])
		}
	}
}

// TestVICRegCollapsed checks a batch whose rows are all equal: every
// variance and covariance is 0, so VICReg = VarWeight·(γ − √ε).
func TestVICRegCollapsed(t *testing.T) {
	cases := []struct {
		name string
		opts VICRegOptions
		want float64
	}{
		{"defaults", VICRegOptions{}, 1 - math.Sqrt(1e-4)},
		{"custom", VICRegOptions{Gamma: 2, Eps: 0.01, VarWeight: 3}, 3 * (2 - 0.1)},
		{"variance off", VICRegOptions{VarWeight: -1}, 0},
	}
	const n, d = 16, 5
	z := make([]float64, n*d)
	for i := range n {
		for j := range d {
			z[i*d+j] = float64(j) - 1.5
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []*arg{newArg("z", z, n, d)}
			got := evaluator(t, args, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return VICReg(in[0], c.opts) })()
			if !near(got, c.want, 1e-12) {
				t.Errorf("VICReg of a collapsed batch %.15g, want %.15g", got, c.want)
			}
		})
	}
}

func TestVICRegOptionsResolved(t *testing.T) {
	cases := []struct {
		name string
		in   VICRegOptions
		want VICRegOptions
	}{
		{"zero", VICRegOptions{}, VICRegOptions{Gamma: 1, Eps: 1e-4, VarWeight: 1, CovWeight: 1.0 / 25}},
		{"var weight sets cov default", VICRegOptions{VarWeight: 25}, VICRegOptions{Gamma: 1, Eps: 1e-4, VarWeight: 25, CovWeight: 1}},
		{"explicit", VICRegOptions{Gamma: 2, Eps: 1e-2, VarWeight: 3, CovWeight: 4}, VICRegOptions{Gamma: 2, Eps: 1e-2, VarWeight: 3, CovWeight: 4}},
		{"switched off", VICRegOptions{VarWeight: -1, CovWeight: -1}, VICRegOptions{Gamma: 1, Eps: 1e-4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.in.resolved(); got != c.want {
				t.Errorf("resolved %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestVICRegErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	one := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, 3), gorgonia.WithName("one"))
	z := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 3), gorgonia.WithName("z"))
	cases := []struct {
		name   string
		z      *gorgonia.Node
		opts   VICRegOptions
		target error
	}{
		{"one row", one, VICRegOptions{}, ErrShape},
		{"nil", nil, VICRegOptions{}, ErrShape},
		{"negative gamma", z, VICRegOptions{Gamma: -1}, ErrOption},
		{"NaN weight", z, VICRegOptions{VarWeight: math.NaN()}, ErrOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := VICReg(c.z, c.opts); !errors.Is(err, c.target) {
				t.Errorf("error %v, want %v", err, c.target)
			}
		})
	}
}
