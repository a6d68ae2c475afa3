package loss

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// refMixtureNLL is MixtureNLL from primitives, with an unshifted
// log-sum-exp (fine for the moderate test values). The softmax is written
// out because gorgonia's SoftMax normalises a B×1 column over the batch.
func refMixtureNLL(target, logits, mus, logVars *gorgonia.Node, m int, floor float64) (*gorgonia.Node, error) {
	b, d := target.Shape()[0], target.Shape()[1]
	e := must(gorgonia.Exp(logits))
	norm := must(gorgonia.Reshape(must(gorgonia.Sum(e, 1)), tensor.Shape{b, 1}))
	pi := must(gorgonia.BroadcastHadamardDiv(e, norm, nil, []byte{1}))
	if floor > 0 {
		pi = must(gorgonia.Add(must(gorgonia.Mul(pi, constF64(1-float64(m)*floor))), constF64(floor)))
	}
	logPi := must(gorgonia.Log(pi))
	cols := make([]*gorgonia.Node, m)
	for j := range m {
		mu := must(gorgonia.Slice(mus, nil, gorgonia.S(j*d, (j+1)*d)))
		lv := must(gorgonia.Slice(logVars, nil, gorgonia.S(j*d, (j+1)*d)))
		e := must(gorgonia.Sub(target, mu))
		q := must(gorgonia.HadamardProd(must(gorgonia.Square(e)), must(gorgonia.Exp(must(gorgonia.Neg(lv))))))
		l := must(gorgonia.Sum(must(gorgonia.Add(q, lv)), 1))
		l = must(gorgonia.Mul(must(gorgonia.Add(l, constF64(float64(d)*log2Pi))), constF64(0.5)))
		lp := must(gorgonia.Sub(must(gorgonia.Slice(logPi, nil, gorgonia.S(j))), l))
		cols[j] = must(gorgonia.Reshape(lp, tensor.Shape{b, 1}))
	}
	if m == 1 {
		return gorgonia.Neg(must(gorgonia.Mean(cols[0])))
	}
	all := must(gorgonia.Concat(1, cols...))
	lse := must(gorgonia.Log(must(gorgonia.Sum(must(gorgonia.Exp(all)), 1))))
	return gorgonia.Neg(must(gorgonia.Mean(lse)))
}

type mixtureCase struct {
	beta    float64
	name    string
	b, d, m int
	floor   float64
}

var mixtureCases = []mixtureCase{
	{name: "M1", b: 3, d: 2, m: 1},
	{name: "M3", b: 4, d: 2, m: 3},
	{name: "M2/floor", b: 3, d: 3, m: 2, floor: 0.1},
}

func (c mixtureCase) args(seed uint64) []*arg {
	rng := rand.New(rand.NewPCG(seed, 6))
	return []*arg{
		randNormArg(rng, "target", 1, c.b, c.d),
		randNormArg(rng, "logits", 1, c.b, c.m),
		randNormArg(rng, "mus", 1, c.b, c.m*c.d),
		randArg(rng, "logVars", -1, 1, c.b, c.m*c.d),
	}
}

func (c mixtureCase) fused() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return MixtureNLL(in[0], in[1], in[2], in[3], c.m, MixtureOptions{MinWeight: c.floor, Beta: c.beta})
	}
}

func (c mixtureCase) ref() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return refMixtureNLL(in[0], in[1], in[2], in[3], c.m, c.floor)
	}
}

// want is −log Σ_m π_m N(z; μ_m, Σ_m) from distmv, averaged over rows.
func (c mixtureCase) want(args []*arg) float64 {
	var sum float64
	for b := range c.b {
		lg := args[1].data[b*c.m : (b+1)*c.m]
		var norm float64
		for _, x := range lg {
			norm += math.Exp(x)
		}
		var p float64
		for j := range c.m {
			off := (b*c.m + j) * c.d
			cov := mat.NewSymDense(c.d, nil)
			for i := range c.d {
				cov.SetSym(i, i, math.Exp(args[3].data[off+i]))
			}
			n, _ := distmv.NewNormal(args[2].data[off:off+c.d], cov, nil)
			pi := (1-float64(c.m)*c.floor)*math.Exp(lg[j])/norm + c.floor
			p += pi * math.Exp(n.LogProb(args[0].data[b*c.d:(b+1)*c.d]))
		}
		sum -= math.Log(p)
	}
	return sum / float64(c.b)
}

func TestMixtureNLL(t *testing.T) {
	for i, c := range mixtureCases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args(uint64(i))
			if got, want := evaluator(t, args, c.fused())(), c.want(args); !near(got, want, 1e-12) {
				t.Errorf("MixtureNLL %.15g, distmv %.15g", got, want)
			}
			checkGradFD(t, args, c.fused(), 1e-6)
			checkSame(t, args, c.fused(), c.ref(), 1e-10)
		})
	}
	t.Run("M1 is GaussianNLL", func(t *testing.T) {
		c := mixtureCases[0]
		args := c.args(3)
		got := evaluator(t, args, c.fused())()
		want := evaluator(t, []*arg{args[0], args[2], args[3]}, nllCase{b: c.b, d: c.d}.fused())()
		if !near(got, want, 1e-13) {
			t.Errorf("one-component mixture %.15g, GaussianNLL %.15g", got, want)
		}
	})
	t.Run("float32", func(t *testing.T) {
		c := mixtureCases[1]
		args := c.args(8)
		l64, g64 := lossAndGrad(t, tensor.Float64, args, c.fused())
		l32, g32 := lossAndGrad(t, tensor.Float32, args, c.fused())
		if !near(l32, l64, 1e-4) {
			t.Errorf("float32 %.8g, float64 %.8g", l32, l64)
		}
		for k := range g64 {
			for j := range g64[k] {
				if !near(g32[k][j], g64[k][j], 1e-4) {
					t.Errorf("float32 ∂/∂%s[%d] %.8g, float64 %.8g", args[k].name, j, g32[k][j], g64[k][j])
				}
			}
		}
	})
}

// TestMixtureNLLFarComponents puts the target thousands of standard
// deviations from one component and gives another a weight that
// underflows: the log-sum-exp must keep loss and gradient finite and equal
// to those of the near component alone.
func TestMixtureNLLFarComponents(t *testing.T) {
	args := []*arg{
		newArg("target", []float64{0.3, -0.2}, 1, 2),
		newArg("logits", []float64{0, 0, -800}, 1, 3),
		newArg("mus", []float64{0, 0, 5e3, 5e3, 0.3, -0.2}, 1, 6),
		newArg("logVars", []float64{0, 0.5, 0, 0, 0, 0}, 1, 6),
	}
	loss, grads := lossAndGrad(t, tensor.Float64, args, mixtureCase{m: 3}.fused())
	// Only component 0 matters: ℓ = ℓ_0 − log π_0 with π_0 = 1/2.
	want := RowNLL([]float64{0.3, -0.2}, []float64{0, 0}, []float64{0, 0.5}, nil, 0) + math.Ln2
	if !near(loss, want, 1e-12) {
		t.Errorf("loss %.15g, want %.15g", loss, want)
	}
	for k, g := range grads {
		for j, x := range g {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Errorf("∂/∂%s[%d] = %v", args[k].name, j, x)
			}
		}
	}
	if g := grads[1]; !near(g[0], -0.5, 1e-12) || !near(g[1], 0.5, 1e-12) || g[2] != 0 {
		t.Errorf("∂/∂logits = %v, want [−1/2, 1/2, 0] (π − γ)", g)
	}
}

// TestMixtureNLLRecoversWeights fits shared logits, means and
// log-variances of a two-component mixture to samples of a known,
// well-separated one by gradient descent: the fitted weights must match
// the true ones within the binomial standard error of the sample.
func TestMixtureNLLRecoversWeights(t *testing.T) {
	const n, d, m, p0 = 1000, 1, 2, 0.3
	rng := rand.New(rand.NewPCG(4, 4))
	data := make([]float64, n)
	var k0 int
	for i := range data {
		if rng.Float64() < p0 {
			data[i] = -3 + 0.5*rng.NormFloat64()
			k0++
		} else {
			data[i] = 3 + 0.5*rng.NormFloat64()
		}
	}
	g := gorgonia.NewGraph()
	target := gorgonia.NewConstant(tensor.New(tensor.WithShape(n, d), tensor.WithBacking(data)))
	ones := gorgonia.NewConstant(tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(fill(n, 1))))
	param := func(name string, v ...float64) *gorgonia.Node {
		return gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, len(v)), gorgonia.WithName(name),
			gorgonia.WithValue(tensor.New(tensor.WithShape(1, len(v)), tensor.WithBacking(v))))
	}
	lg, mu, lv := param("logits", 0, 0), param("mus", -1, 1), param("logVars", 0, 0)
	rows := func(x *gorgonia.Node) *gorgonia.Node { return must(gorgonia.Mul(ones, x)) }
	cost := must(MixtureNLL(target, rows(lg), rows(mu), rows(lv), m, MixtureOptions{}))
	if _, err := gorgonia.Grad(cost, lg, mu, lv); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(lg, mu, lv))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.05))
	for range 400 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(gorgonia.Nodes{lg, mu, lv})); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	l := lg.Value().Data().([]float64)
	w0 := 1 / (1 + math.Exp(l[1]-l[0]))
	// The component at −3 starts nearer mean −1 and takes weight w0.
	sample := float64(k0) / n
	if tol := 4 * math.Sqrt(p0*(1-p0)/n); math.Abs(w0-p0) > tol || math.Abs(w0-sample) > 0.01 {
		t.Errorf("fitted weight %.4f, true %.2f ± %.3f, sample share %.4f", w0, p0, tol, sample)
	}
}

func TestMixtureNLLErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	mk := func(r, c int, name string) *gorgonia.Node {
		return gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(r, c), gorgonia.WithName(name))
	}
	z, lg, mu, lv := mk(4, 2, "z"), mk(4, 3, "lg"), mk(4, 6, "mu"), mk(4, 6, "lv")
	cases := []struct {
		name   string
		lg, mu *gorgonia.Node
		m      int
		floor  float64
		target error
	}{
		{"logits width", mk(4, 2, "lg2"), mu, 3, 0, ErrShape},
		{"mus width", lg, mk(4, 4, "mu2"), 3, 0, ErrShape},
		{"no components", lg, mu, 0, 0, ErrOption},
		{"floor too high", lg, mu, 3, 0.34, ErrOption},
		{"negative floor", lg, mu, 3, -0.1, ErrOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := MixtureNLL(z, c.lg, c.mu, lv, c.m, MixtureOptions{MinWeight: c.floor}); !errors.Is(err, c.target) {
				t.Errorf("error %v, want %v", err, c.target)
			}
		})
	}
}

// entropyWant is the mean entropy of the floored softmax weights of the
// rows of logits (B×M), written out directly.
func entropyWant(logits []float64, m int, floor float64) float64 {
	rows := len(logits) / m
	var sum float64
	for b := range rows {
		lg := logits[b*m : (b+1)*m]
		var norm float64
		for _, x := range lg {
			norm += math.Exp(x)
		}
		for _, x := range lg {
			pi := (1-float64(m)*floor)*math.Exp(x)/norm + floor
			sum -= pi * math.Log(pi)
		}
	}
	return sum / float64(rows)
}

func TestMixtureEntropy(t *testing.T) {
	for i, c := range mixtureCases {
		t.Run(c.name, func(t *testing.T) {
			args := []*arg{randNormArg(rand.New(rand.NewPCG(uint64(i), 9)), "logits", 1.5, c.b, c.m)}
			build := func(in []*gorgonia.Node) (*gorgonia.Node, error) {
				return MixtureEntropy(in[0], c.m, MixtureOptions{MinWeight: c.floor})
			}
			if got, want := evaluator(t, args, build)(), entropyWant(args[0].data, c.m, c.floor); !near(got, want, 1e-12) {
				t.Errorf("MixtureEntropy %.15g, direct %.15g", got, want)
			}
			checkGradFD(t, args, build, 1e-6)
			l64, g64 := lossAndGrad(t, tensor.Float64, args, build)
			l32, g32 := lossAndGrad(t, tensor.Float32, args, build)
			if !near(l32, l64, 1e-5) {
				t.Errorf("float32 %.8g, float64 %.8g", l32, l64)
			}
			for j := range g64[0] {
				if !near(g32[0][j], g64[0][j], 1e-5) {
					t.Errorf("float32 ∂/∂logits[%d] %.8g, float64 %.8g", j, g32[0][j], g64[0][j])
				}
			}
		})
	}
	t.Run("bounds", func(t *testing.T) {
		// Equal logits: H = log M, the maximum. One dominant logit: H = 0
		// without a floor, the floor's entropy with one. The gradient
		// vanishes in all four (a maximum, and softmax saturated).
		cases := []struct {
			name   string
			logits []float64
			floor  float64
			want   float64
		}{
			{"uniform", []float64{0.7, 0.7, 0.7}, 0, math.Log(3)},
			{"uniform floored", []float64{2, 2, 2}, 0.1, math.Log(3)},
			{"one component", []float64{0, -900, -900}, 0, 0},
			{"one component floored", []float64{0, -900, -900}, 0.05, -(0.9*math.Log(0.9) + 0.1*math.Log(0.05))},
		}
		for _, c := range cases {
			args := []*arg{newArg("logits", c.logits, 1, 3)}
			build := func(in []*gorgonia.Node) (*gorgonia.Node, error) {
				return MixtureEntropy(in[0], 3, MixtureOptions{MinWeight: c.floor})
			}
			l, g := lossAndGrad(t, tensor.Float64, args, build)
			if !near(l, c.want, 1e-12) {
				t.Errorf("%s: entropy %.15g, want %.15g", c.name, l, c.want)
			}
			for j, x := range g[0] {
				if !(math.Abs(x) <= 1e-12) {
					t.Errorf("%s: ∂/∂logits[%d] = %g, want 0", c.name, j, x)
				}
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		g := gorgonia.NewGraph()
		lg := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 3), gorgonia.WithName("lg"))
		for _, c := range []struct {
			name  string
			m     int
			floor float64
			want  error
		}{
			{"width", 2, 0, ErrShape},
			{"no components", 0, 0, ErrOption},
			{"floor too high", 3, 0.4, ErrOption},
		} {
			if _, err := MixtureEntropy(lg, c.m, MixtureOptions{MinWeight: c.floor}); !errors.Is(err, c.want) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.want)
			}
		}
		if _, err := MixtureEntropy(nil, 3, MixtureOptions{}); !errors.Is(err, ErrShape) {
			t.Errorf("nil logits: error %v, want ErrShape", err)
		}
	})
}

// frozenMixtureBeta is MixtureOptions.Beta's loss with the
// responsibilities γ⁰ and the weights w⁰ = σ²^β held at their values for
// base (target, logits, mus, logVars), evaluated at args: the function
// whose gradient at base MixtureNLL's gradient must be.
func (c mixtureCase) frozenMixtureBeta(base, args []*arg) float64 {
	var sum float64
	pis := func(a []*arg, b int) []float64 {
		lg := a[1].data[b*c.m : (b+1)*c.m]
		mx := math.Inf(-1)
		for _, x := range lg {
			mx = max(mx, x)
		}
		var norm float64
		for _, x := range lg {
			norm += math.Exp(x - mx)
		}
		p := make([]float64, c.m)
		for j, x := range lg {
			p[j] = (1-float64(c.m)*c.floor)*math.Exp(x-mx)/norm + c.floor
		}
		return p
	}
	// ℓ_mi and log N_m of row b, component j.
	terms := func(a []*arg, b, j int) (l []float64, logN float64) {
		off := (b*c.m + j) * c.d
		for i := range c.d {
			z, mu, s := a[0].data[b*c.d+i], a[2].data[off+i], a[3].data[off+i]
			li := 0.5 * ((z-mu)*(z-mu)*math.Exp(-s) + s + log2Pi)
			l = append(l, li)
			logN -= li
		}
		return l, logN
	}
	for b := range c.b {
		p0, p := pis(base, b), pis(args, b)
		gam := make([]float64, c.m)
		var norm float64
		for j := range c.m {
			_, logN := terms(base, b, j)
			gam[j] = p0[j] * math.Exp(logN)
			norm += gam[j]
		}
		for j := range c.m {
			l, _ := terms(args, b, j)
			var wl float64
			for i, li := range l {
				wl += math.Exp(c.beta*base[3].data[(b*c.m+j)*c.d+i]) * li
			}
			sum += gam[j] / norm * (wl - math.Log(p[j]))
		}
	}
	return sum / float64(c.b)
}

// TestMixtureNLLBeta checks β > 0: its value is the expected complete-data
// loss, its gradient that of the loss with the responsibilities and the
// variance weights frozen (central differences), a one-component mixture
// is β-NLL, and β = 0 changes nothing.
func TestMixtureNLLBeta(t *testing.T) {
	for i, c := range []mixtureCase{
		{name: "M3/beta1", b: 4, d: 2, m: 3, beta: 1},
		{name: "M2/floor/beta0.5", b: 3, d: 3, m: 2, floor: 0.1, beta: 0.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args(uint64(20 + i))
			base := make([]*arg, len(args))
			for k, a := range args {
				base[k] = newArg(a.name, slices.Clone(a.data), a.shape...)
			}
			loss, grads := lossAndGrad(t, tensor.Float64, args, c.fused())
			if want := c.frozenMixtureBeta(base, args); !near(loss, want, 1e-12) {
				t.Errorf("loss %.15g, want %.15g", loss, want)
			}
			const h = 1e-6
			for k, a := range args {
				for j := range a.data {
					x := a.data[j]
					a.data[j] = x + h
					up := c.frozenMixtureBeta(base, args)
					a.data[j] = x - h
					down := c.frozenMixtureBeta(base, args)
					a.data[j] = x
					if fd := (up - down) / (2 * h); !near(grads[k][j], fd, 1e-6) {
						t.Errorf("∂/∂%s[%d] = %.10g, frozen central difference %.10g", a.name, j, grads[k][j], fd)
					}
				}
			}
		})
	}
	t.Run("M1 is beta-NLL", func(t *testing.T) {
		c := mixtureCase{b: 3, d: 2, m: 1, beta: 1}
		args := c.args(30)
		l1, g1 := lossAndGrad(t, tensor.Float64, args, c.fused())
		gargs := []*arg{args[0], args[2], args[3]}
		l2, g2 := lossAndGrad(t, tensor.Float64, gargs, nllCase{b: c.b, d: c.d, beta: 1}.fused())
		if !near(l1, l2, 1e-13) {
			t.Errorf("one-component mixture %.15g, β-NLL %.15g", l1, l2)
		}
		for k, gk := range [][]float64{g1[0], g1[2], g1[3]} {
			for j := range gk {
				if !near(gk[j], g2[k][j], 1e-12) {
					t.Errorf("∂/∂%s[%d]: mixture %.15g, β-NLL %.15g", gargs[k].name, j, gk[j], g2[k][j])
				}
			}
		}
	})
	t.Run("beta0 unchanged", func(t *testing.T) {
		c := mixtureCases[1]
		args := c.args(31)
		if got, want := evaluator(t, args, c.fused())(), c.want(args); !near(got, want, 1e-12) {
			t.Errorf("β = 0: %.15g, distmv %.15g", got, want)
		}
	})
}
