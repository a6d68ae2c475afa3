package loss

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type sigRegCase struct {
	name        string
	n, d, m, k  int
	scale, bias float64 // z = bias + scale·N(0, 1)
}

var sigRegCases = []sigRegCase{
	{name: "K5", n: 6, d: 3, m: 4, k: 5, scale: 1},
	{name: "K17", n: 7, d: 4, m: 3, k: 17, scale: 0.8, bias: 0.3},
	{name: "K2/wide", n: 5, d: 2, m: 6, k: 2, scale: 2},
}

func (c sigRegCase) args(seed uint64) []*arg {
	rng := rand.New(rand.NewPCG(seed, 2))
	z := randNormArg(rng, "z", c.scale, c.n, c.d)
	for i := range z.data {
		z.data[i] += c.bias
	}
	dirs := newArg("dirs", make([]float64, c.d*c.m), c.d, c.m)
	RandomDirections(dirs.data, c.d, c.m, rng)
	return []*arg{z, dirs}
}

func (c sigRegCase) fused() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) { return SIGReg(in[0], in[1], c.k) }
}

func (c sigRegCase) ref() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) { return refSIGReg(in[0], in[1], c.k) }
}

func TestSIGRegGradient(t *testing.T) {
	for i, c := range sigRegCases {
		t.Run(c.name, func(t *testing.T) { checkGradFD(t, c.args(uint64(i)), c.fused(), 1e-6) })
	}
}

func TestSIGRegMatchesReference(t *testing.T) {
	for i, c := range sigRegCases {
		t.Run(c.name, func(t *testing.T) { checkSame(t, c.args(uint64(50+i)), c.fused(), c.ref(), 1e-10) })
	}
}

func TestSIGRegFloat32(t *testing.T) {
	c := sigRegCases[1]
	args := c.args(77)
	l64, g64 := lossAndGrad(t, tensor.Float64, args, c.fused())
	l32, g32 := lossAndGrad(t, tensor.Float32, args, c.fused())
	const tol = 1e-4
	if !near(l32, l64, tol) {
		t.Errorf("loss float32 %.8g, float64 %.8g", l32, l64)
	}
	for k := range g64 {
		for j := range g64[k] {
			if !near(g32[k][j], g64[k][j], tol) {
				t.Errorf("∂/∂%s[%d] float32 %.8g, float64 %.8g", args[k].name, j, g32[k][j], g64[k][j])
			}
		}
	}
}

// sigRegValue evaluates SIGReg through its kernel.
func sigRegValue(z, dirs []float64, n, d, m, knots int) float64 {
	t, w, phi := eppsPulleyKnots(knots)
	k := sigRegKernel{n: n, d: d, m: m, t: t, w: w, phi: phi}
	return k.loss([][]float64{z, dirs}, make([]float64, k.workLen()))
}

// TestSIGRegStandardNormal checks the statistic's mean under the null: for
// x_n iid N(0, 1) the empirical means are unbiased, so for any N
//
//	E[EP] = Σ_k w_k [Var cos(t_k X) + Var sin(t_k X)] = Σ_k w_k (1 − φ(t_k)²),
//
// and against it a collapsed batch (every row equal) scores
// N Σ_k w_k [1 − 2φ(t_k) cos(t_k x) + φ(t_k)²], large for large N.
func TestSIGRegStandardNormal(t *testing.T) {
	const knots = DefaultKnots
	_, w, phi := eppsPulleyKnots(knots)
	var e0 float64
	for k := range knots {
		e0 += w[k] * (1 - phi[k]*phi[k])
	}
	rng := rand.New(rand.NewPCG(2025, 11))
	const n, d, m, trials = 256, 8, 4, 400
	z := make([]float64, n*d)
	dirs := make([]float64, d*m)
	vals := make([]float64, trials)
	for i := range vals {
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		RandomDirections(dirs, d, m, rng)
		vals[i] = sigRegValue(z, dirs, n, d, m, knots)
	}
	mean, sd := meanSD(vals)
	t.Logf("null mean %.4g (sd %.3g over %d trials), theory %.4g", mean, sd, trials, e0)
	// Four standard errors of the mean over independent trials.
	if tol := 4 * sd / math.Sqrt(trials); math.Abs(mean-e0) > tol {
		t.Errorf("mean SIGReg of N(0, I) batches %.5g, want %.5g ± %.2g", mean, e0, tol)
	}

	t.Run("collapsed", func(t *testing.T) {
		const big = 2048
		z := make([]float64, big*d)
		c := make([]float64, d)
		for j := range c {
			c[j] = 0.3 * rng.NormFloat64()
		}
		for i := range big {
			copy(z[i*d:], c)
		}
		RandomDirections(dirs, d, m, rng)
		tk, _, _ := eppsPulleyKnots(knots)
		var want float64
		for j := range m {
			var x float64
			for i := range d {
				x += c[i] * dirs[i*m+j]
			}
			for k := range knots {
				want += big * w[k] * (1 - 2*phi[k]*math.Cos(tk[k]*x) + phi[k]*phi[k]) / m
			}
		}
		got := sigRegValue(z, dirs, big, d, m, knots)
		if !near(got, want, 1e-12) {
			t.Errorf("collapsed SIGReg %.15g, analytic %.15g", got, want)
		}
		if got < 100*e0 {
			t.Errorf("collapsed SIGReg %.4g is not large against the null mean %.4g", got, e0)
		}
	})
}

func meanSD(x []float64) (mean, sd float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)-1))
}

// TestRandomDirections checks unit columns and, by seeded Monte Carlo, the
// moments of the uniform distribution on the sphere: E[a_i] = 0 and
// E[a_i²] = 1/d.
func TestRandomDirections(t *testing.T) {
	const d, m = 5, 20000
	dst := make([]float64, d*m)
	RandomDirections(dst, d, m, rand.New(rand.NewPCG(1, 1)))
	for j := range m {
		var n2 float64
		for i := range d {
			n2 += dst[i*m+j] * dst[i*m+j]
		}
		if math.Abs(n2-1) > 1e-12 {
			t.Fatalf("column %d has squared norm %v", j, n2)
		}
	}
	// a_i has variance 1/d; a_i² has variance E[a_i⁴] − 1/d² = 3/(d(d+2)) − 1/d².
	seMean := math.Sqrt(1.0 / d / m)
	seSq := math.Sqrt((3.0/(d*(d+2)) - 1.0/(d*d)) / m)
	for i := range d {
		var s, s2 float64
		for j := range m {
			s += dst[i*m+j]
			s2 += dst[i*m+j] * dst[i*m+j]
		}
		if math.Abs(s/m) > 4*seMean {
			t.Errorf("coordinate %d: mean %.4g, want 0 ± %.2g", i, s/m, 4*seMean)
		}
		if math.Abs(s2/m-1.0/d) > 4*seSq {
			t.Errorf("coordinate %d: mean square %.4g, want %.4g ± %.2g", i, s2/m, 1.0/d, 4*seSq)
		}
	}

	t.Run("seeded", func(t *testing.T) {
		a := make([]float32, 12)
		b := make([]float32, 12)
		RandomDirections(a, 3, 4, rand.New(rand.NewPCG(9, 9)))
		RandomDirections(b, 3, 4, rand.New(rand.NewPCG(9, 9)))
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("same seed, different directions: %v vs %v", a, b)
			}
		}
	})
}

func TestSIGRegErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	z := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(8, 3), gorgonia.WithName("z"))
	dirs := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(3, 4), gorgonia.WithName("a"))
	bad := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 4), gorgonia.WithName("bad"))
	cases := []struct {
		name    string
		z, dirs *gorgonia.Node
		knots   int
		target  error
	}{
		{"dirs rows", z, bad, 17, ErrShape},
		{"one knot", z, dirs, 1, ErrOption},
		{"nil dirs", z, nil, 17, ErrShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := SIGReg(c.z, c.dirs, c.knots); !errors.Is(err, c.target) {
				t.Errorf("error %v, want %v", err, c.target)
			}
		})
	}
}

// A batch large enough that SIGReg shares its rows between two
// goroutines gives the reference's loss and gradient.
func TestSIGRegSplitMatchesReference(t *testing.T) {
	c := sigRegCase{name: "split", n: 160, d: 8, m: 64, k: DefaultKnots, scale: 1.2, bias: 0.1}
	if c.n*c.m < splitMinWork {
		t.Fatalf("case of %d projections does not split (at least %d)", c.n*c.m, splitMinWork)
	}
	checkSame(t, c.args(91), c.fused(), c.ref(), 1e-10)
}

// The gradient that starts from the moments the forward pass left equals
// the one that computes them again, and a gradient whose inputs differ
// from the forward pass's computes them again.
func TestSIGRegGradientKept(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, d, m = 96, 8, 16
	tk, w, phi := eppsPulleyKnots(DefaultKnots)
	k := sigRegKernel{n: n, d: d, m: m, t: tk, w: w, phi: phi}
	z := make([]float64, n*d)
	for i := range z {
		z[i] = rng.NormFloat64()
	}
	dirs := make([]float64, d*m)
	RandomDirections(dirs, d, m, rng)
	in := [][]float64{z, dirs}
	grad := func(f func([][]float64, float64, [][]float64, []float64), work []float64) [][]float64 {
		out := [][]float64{make([]float64, n*d), make([]float64, d*m)}
		f(in, 0.7, out, work)
		return out
	}
	want := grad(k.grad, make([]float64, k.workLen()))
	work := make([]float64, k.workLen())
	k.loss(in, work)
	got := grad(k.gradKept, work)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("input %d, value %d: kept gradient %g, recomputed %g", i, j, got[i][j], want[i][j])
			}
		}
	}

	// Through kept: the gradient of the forward pass's inputs, scaled.
	var kp kept
	fwd := make([]float64, k.workLen())
	k.loss(in, fwd)
	kp.start(k, in, &fwd)
	z2 := append([]float64(nil), z...)
	z2[3] += 1e-9
	out := [][]float64{make([]float64, n*d), make([]float64, d*m)}
	if kp.take([][]float64{z2, dirs}, 0.7, out) {
		t.Fatal("kept gradient used for other inputs")
	}
	k.loss(in, fwd) // the forward pass again
	kp.start(k, in, &fwd)
	if !kp.take(in, 0.7, out) {
		t.Fatal("kept gradient of the same inputs not used")
	}
	for i := range want {
		for j := range want[i] {
			if math.Abs(out[i][j]-want[i][j]) > 1e-12*math.Max(1, math.Abs(want[i][j])) {
				t.Fatalf("input %d, value %d: kept gradient %g, recomputed %g", i, j, out[i][j], want[i][j])
			}
		}
	}
	if kp.take(in, 0.7, out) {
		t.Fatal("kept gradient handed over twice")
	}
}

// SIGReg computed beside the graph and settled gives SIGReg's loss and
// gradients, in float64 and float32, and Settle refuses other nodes.
func TestSIGRegBeside(t *testing.T) {
	c := sigRegCases[1]
	args := c.args(78)
	beside := func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		n, err := SIGRegBeside(in[0], in[1], c.k)
		if err != nil {
			return nil, err
		}
		return Settle(n)
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		lw, gw := lossAndGrad(t, dt, args, c.fused())
		lb, gb := lossAndGrad(t, dt, args, beside)
		tol := 1e-12
		if dt == tensor.Float32 {
			tol = 1e-6
		}
		if !near(lb, lw, tol) {
			t.Errorf("%v: loss beside %.10g, SIGReg %.10g", dt, lb, lw)
		}
		for k := range gw {
			for j := range gw[k] {
				if !near(gb[k][j], gw[k][j], tol) {
					t.Fatalf("%v: ∂/∂%s[%d] beside %.10g, SIGReg %.10g", dt, args[k].name, j, gb[k][j], gw[k][j])
				}
			}
		}
	}
	g := gorgonia.NewGraph()
	z := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 2), gorgonia.WithName("z"))
	dirs := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(2, 3), gorgonia.WithName("dirs"))
	plain, err := SIGReg(z, dirs, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Settle(plain); !errors.Is(err, ErrOption) {
		t.Errorf("Settle of a plain SIGReg: %v, want ErrOption", err)
	}
}
