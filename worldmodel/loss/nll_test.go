package loss

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// denseCov returns Σ = diag(exp(logVar)) + U Uᵀ as a dense matrix.
func denseCov(logVar, factor []float64, d, r int) *mat.SymDense {
	s := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			var v float64
			if i == j {
				v = math.Exp(logVar[i])
			}
			for k := range r {
				v += factor[i*r+k] * factor[j*r+k]
			}
			s.SetSym(i, j, v)
		}
	}
	return s
}

// nllCase is one row-level NLL configuration.
type nllCase struct {
	name string
	b, d int
	r    int
	beta float64
}

var nllCases = []nllCase{
	{name: "diag", b: 4, d: 3},
	{name: "rank1", b: 3, d: 4, r: 1},
	{name: "rank3", b: 3, d: 5, r: 3},
	{name: "beta0.5/diag", b: 4, d: 3, beta: 0.5},
	{name: "beta0.5/rank2", b: 3, d: 4, r: 2, beta: 0.5},
	{name: "beta1/rank3", b: 2, d: 5, r: 3, beta: 1},
}

// nllArgs draws the inputs of a case: targets and means N(0, 1),
// log-variances in [−1, 1], factor entries N(0, 0.5²), and, for β > 0, the
// frozen weights as a constant last arg.
func nllArgs(c nllCase, seed uint64) []*arg {
	rng := rand.New(rand.NewPCG(seed, 1))
	args := []*arg{
		randNormArg(rng, "target", 1, c.b, c.d),
		randNormArg(rng, "mu", 1, c.b, c.d),
		randArg(rng, "logVar", -1, 1, c.b, c.d),
	}
	var factor []float64
	if c.r > 0 {
		f := randNormArg(rng, "factor", 0.5, c.b, c.d*c.r)
		factor = f.data
		args = append(args, f)
	}
	if c.beta > 0 {
		w := newArg("w", betaWeights(args[2].data, factor, c.b, c.d, c.r, c.beta), c.b, c.d)
		w.constant = true
		args = append(args, w)
	}
	return args
}

func (c nllCase) fused() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		var factor *gorgonia.Node
		if c.r > 0 {
			factor = in[3]
		}
		return GaussianNLL(in[0], in[1], in[2], factor, c.r, NLLOptions{Beta: c.beta})
	}
}

// ref is the composed reference with the β weights frozen.
func (c nllCase) ref() builder {
	return func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		var factor, w *gorgonia.Node
		if c.r > 0 {
			factor = in[3]
		}
		if c.beta > 0 {
			w = in[len(in)-1]
		}
		return refGaussianNLL(in[0], in[1], in[2], factor, c.r, w)
	}
}

func TestGaussianNLLClosedForm(t *testing.T) {
	cases := []struct {
		name string
		d, r int
		tol  float64
	}{
		{"diag", 4, 0, 1e-12},
		{"rank1", 5, 1, 1e-12},
		{"rank3", 6, 3, 1e-12},
		{"rank8/d16", 16, 8, 1e-11},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(c.d*10+c.r)))
			const b = 3
			args := []*arg{
				randNormArg(rng, "target", 1, b, c.d),
				randNormArg(rng, "mu", 1, b, c.d),
				randArg(rng, "logVar", -1, 1, b, c.d),
			}
			var factor []float64
			if c.r > 0 {
				args = append(args, randNormArg(rng, "factor", 0.7, b, c.d*c.r))
				factor = args[3].data
			}
			var want float64
			for row := range b {
				z := args[0].data[row*c.d : (row+1)*c.d]
				mu := args[1].data[row*c.d : (row+1)*c.d]
				lv := args[2].data[row*c.d : (row+1)*c.d]
				var u []float64
				if c.r > 0 {
					u = factor[row*c.d*c.r : (row+1)*c.d*c.r]
				}
				normal, ok := distmv.NewNormal(mu, denseCov(lv, u, c.d, c.r), nil)
				if !ok {
					t.Fatal("covariance not positive definite")
				}
				rowWant := -normal.LogProb(z)
				if got := RowNLL(z, mu, lv, u, c.r); !near(got, rowWant, c.tol) {
					t.Errorf("row %d: RowNLL = %.15g, distmv %.15g", row, got, rowWant)
				}
				want += rowWant / b
			}
			nc := nllCase{b: b, d: c.d, r: c.r}
			got := evaluator(t, args, nc.fused())()
			if !near(got, want, c.tol) {
				t.Errorf("GaussianNLL = %.15g, mean of distmv %.15g", got, want)
			}
		})
	}
}

// TestWoodburyMatchesDense checks the Woodbury quadratic form and the
// determinant lemma against a dense Cholesky of Σ.
func TestWoodburyMatchesDense(t *testing.T) {
	for _, c := range []struct {
		d, r int
		tol  float64
	}{{8, 1, 1e-12}, {16, 4, 1e-12}, {32, 8, 1e-11}, {24, 24, 1e-10}} {
		t.Run(fmt.Sprintf("d%d/r%d", c.d, c.r), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(c.d*100+c.r)))
			z := randNormArg(rng, "z", 1, c.d).data
			mu := randNormArg(rng, "mu", 1, c.d).data
			lv := randArg(rng, "lv", -2, 2, c.d).data
			u := randNormArg(rng, "u", 1, c.d*c.r).data
			var ch mat.Cholesky
			if !ch.Factorize(denseCov(lv, u, c.d, c.r)) {
				t.Fatal("not positive definite")
			}
			e := mat.NewVecDense(c.d, nil)
			e.SubVec(mat.NewVecDense(c.d, z), mat.NewVecDense(c.d, mu))
			var a mat.VecDense
			if err := ch.SolveVecTo(&a, e); err != nil {
				t.Fatal(err)
			}
			want := 0.5 * (mat.Dot(e, &a) + ch.LogDet() + float64(c.d)*log2Pi)
			if got := RowNLL(z, mu, lv, u, c.r); !near(got, want, c.tol) {
				t.Errorf("RowNLL = %.15g, dense %.15g", got, want)
			}
		})
	}
}

func TestGaussianNLLGradient(t *testing.T) {
	for i, c := range nllCases {
		t.Run(c.name, func(t *testing.T) {
			args := nllArgs(c, uint64(i))
			// Symbolic gradient of the fused op against finite differences
			// of the reference with the β weights frozen.
			checkGradFD2(t, args, c.fused(), c.ref(), 1e-6)
		})
	}
}

func TestGaussianNLLMatchesReference(t *testing.T) {
	for i, c := range nllCases {
		t.Run(c.name, func(t *testing.T) {
			checkSame(t, nllArgs(c, uint64(100+i)), c.fused(), c.ref(), 1e-10)
		})
	}
}

// TestGaussianNLLBetaWeights checks β-NLL against its definition for a
// diagonal Gaussian: Σ_i σ_i^{2β} ℓ_i, averaged over rows.
func TestGaussianNLLBetaWeights(t *testing.T) {
	c := nllCase{b: 3, d: 4, beta: 0.5}
	args := nllArgs(c, 5)[:3]
	var want float64
	for i := range c.b * c.d {
		e := args[0].data[i] - args[1].data[i]
		s := args[2].data[i]
		want += math.Exp(c.beta*s) * 0.5 * (e*e*math.Exp(-s) + s + log2Pi)
	}
	want /= float64(c.b)
	if got := evaluator(t, args, c.fused())(); !near(got, want, 1e-12) {
		t.Errorf("β-NLL = %.15g, want %.15g", got, want)
	}
}

// TestGaussianNLLFloat32 runs the same losses on Float32 graphs.
func TestGaussianNLLFloat32(t *testing.T) {
	for i, c := range nllCases {
		t.Run(c.name, func(t *testing.T) {
			args := nllArgs(c, uint64(200+i))
			l64, g64 := lossAndGrad(t, tensor.Float64, args, c.fused())
			l32, g32 := lossAndGrad(t, tensor.Float32, args, c.fused())
			const tol = 1e-4 // float32 rounding of inputs and outputs
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
		})
	}
}

// TestGaussianNLLScaledGradient checks that an incoming gradient other than
// 1 scales every input's gradient: ∂(2.5·L)/∂x = 2.5·∂L/∂x, and that a loss
// used twice gets the sum of both contributions.
func TestGaussianNLLScaledGradient(t *testing.T) {
	c := nllCases[2]
	args := nllArgs(c, 9)
	_, g1 := lossAndGrad(t, tensor.Float64, args, c.fused())
	_, g2 := lossAndGrad(t, tensor.Float64, args, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		l, err := c.fused()(in)
		if err != nil {
			return nil, err
		}
		sq, err := SquaredError(in[0], in[1])
		if err != nil {
			return nil, err
		}
		return gorgonia.Add(must(gorgonia.Mul(l, constF64(2.5))), must(gorgonia.Mul(sq, constF64(0))))
	})
	for k := range g1 {
		for j := range g1[k] {
			if !near(g2[k][j], 2.5*g1[k][j], 1e-12) {
				t.Errorf("∂/∂%s[%d] = %.15g, want 2.5 × %.15g", args[k].name, j, g2[k][j], g1[k][j])
			}
		}
	}
}

func TestGaussianNLLErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	m := func(r, c int, name string) *gorgonia.Node {
		return gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(r, c), gorgonia.WithName(name))
	}
	z, mu, lv := m(4, 3, "z"), m(4, 3, "mu"), m(4, 3, "lv")
	bad := m(4, 2, "bad")
	u2 := m(4, 6, "u2")
	vec := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(4), gorgonia.WithName("v"))
	mu32 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 3), gorgonia.WithName("mu32"))
	cases := []struct {
		name   string
		z, mu  *gorgonia.Node
		lv, u  *gorgonia.Node
		r      int
		beta   float64
		target error
	}{
		{"mu shape", z, bad, lv, nil, 0, 0, ErrShape},
		{"logVar shape", z, mu, bad, nil, 0, 0, ErrShape},
		{"vector target", vec, mu, lv, nil, 0, 0, ErrShape},
		{"factor without rank", z, mu, lv, u2, 0, 0, ErrShape},
		{"rank without factor", z, mu, lv, nil, 2, 0, ErrShape},
		{"factor width", z, mu, lv, u2, 3, 0, ErrShape},
		{"nil mu", z, nil, lv, nil, 0, 0, ErrShape},
		{"mixed dtypes", z, mu32, lv, nil, 0, 0, ErrShape},
		{"negative beta", z, mu, lv, nil, 0, -0.5, ErrOption},
		{"NaN beta", z, mu, lv, nil, 0, math.NaN(), ErrOption},
		{"negative rank", z, mu, lv, nil, -1, 0, ErrOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := GaussianNLL(c.z, c.mu, c.lv, c.u, c.r, NLLOptions{Beta: c.beta})
			if !errors.Is(err, c.target) {
				t.Errorf("error %v, want %v", err, c.target)
			}
		})
	}
	if _, err := GaussianNLL(z, mu, lv, u2, 2, NLLOptions{}); err != nil {
		t.Errorf("valid rank-2 call: %v", err)
	}
}

// TestGaussianNLLRerun runs one machine several times with new input
// values: the reused output and gradient tensors must hold the new results.
func TestGaussianNLLRerun(t *testing.T) {
	c := nllCases[2]
	args := nllArgs(c, 21)
	g := gorgonia.NewGraph()
	nodes := make([]*gorgonia.Node, len(args))
	for i, a := range args {
		nodes[i] = a.node(g, tensor.Float64)
	}
	cost := must(c.fused()(nodes))
	grads, err := gorgonia.Grad(cost, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	for run := range 3 {
		for _, a := range args {
			for j := range a.data {
				a.data[j] += 0.1 * rng.NormFloat64()
			}
		}
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		want, wantGrad := lossAndGrad(t, tensor.Float64, args, c.fused())
		if got := scalarValue(t, cost.Value()); !near(got, want, 1e-14) {
			t.Errorf("run %d: loss %.15g, fresh graph %.15g", run, got, want)
		}
		for k, gn := range grads {
			got := toFloat64s(t, gn.Value())
			for j := range got {
				if !near(got[j], wantGrad[k][j], 1e-14) {
					t.Errorf("run %d: ∂/∂%s[%d] %.15g, fresh graph %.15g", run, args[k].name, j, got[j], wantGrad[k][j])
				}
			}
		}
	}
}

// TestGaussianNLLLispMachine checks the ADOp path (gorgonia's LispMachine)
// against the symbolic gradient.
func TestGaussianNLLLispMachine(t *testing.T) {
	c := nllCases[1]
	args := nllArgs(c, 31)
	_, want := lossAndGrad(t, tensor.Float64, args, c.fused())
	g := gorgonia.NewGraph()
	nodes := make([]*gorgonia.Node, len(args))
	for i, a := range args {
		nodes[i] = a.node(g, tensor.Float64)
	}
	must(c.fused()(nodes))
	m := gorgonia.NewLispMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	for k, n := range nodes {
		gv, err := n.Grad()
		if err != nil {
			t.Fatalf("%s: %v", args[k].name, err)
		}
		got := toFloat64s(t, gv)
		for j := range got {
			if !near(got[j], want[k][j], 1e-12) {
				t.Errorf("∂/∂%s[%d] = %.15g, symbolic %.15g", args[k].name, j, got[j], want[k][j])
			}
		}
	}
}

// TestGaussianNLLFitsMoments fits a mean and a log-variance to samples by
// gradient descent on GaussianNLL with gorgonia's solver: the optimum is the
// sample mean and the (biased) sample variance.
func TestGaussianNLLFitsMoments(t *testing.T) {
	const b, d = 64, 2
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float64, b*d)
	for i := range data {
		data[i] = 3 + 2*rng.NormFloat64()
	}
	g := gorgonia.NewGraph()
	target := gorgonia.NewConstant(tensor.New(tensor.WithShape(b, d), tensor.WithBacking(data)))
	ones := gorgonia.NewConstant(tensor.New(tensor.WithShape(b, 1), tensor.WithBacking(fill(b, 1))))
	muP := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, d), gorgonia.WithName("mu"), gorgonia.WithInit(gorgonia.Zeroes()))
	lvP := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, d), gorgonia.WithName("lv"), gorgonia.WithInit(gorgonia.Zeroes()))
	mu := must(gorgonia.Mul(ones, muP))
	lv := must(gorgonia.Mul(ones, lvP))
	cost := must(GaussianNLL(target, mu, lv, nil, 0, NLLOptions{}))
	if _, err := gorgonia.Grad(cost, muP, lvP); err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(muP, lvP))
	defer m.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.1))
	for range 600 {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(gorgonia.Nodes{muP, lvP})); err != nil {
			t.Fatal(err)
		}
	}
	muV := muP.Value().Data().([]float64)
	lvV := lvP.Value().Data().([]float64)
	for j := range d {
		var mean, v float64
		for i := range b {
			mean += data[i*d+j] / b
		}
		for i := range b {
			e := data[i*d+j] - mean
			v += e * e / b
		}
		if !near(muV[j], mean, 1e-3) || !near(math.Exp(lvV[j]), v, 1e-3) {
			t.Errorf("dim %d: fitted (%.5g, %.5g), sample (%.5g, %.5g)", j, muV[j], math.Exp(lvV[j]), mean, v)
		}
	}
}

func fill(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// TestGaussianNLLSlicedInputs feeds row blocks sliced out of larger
// matrices (views into their data, as a multi-step rollout slices its
// targets) and compares with the same rows passed as whole matrices.
func TestGaussianNLLSlicedInputs(t *testing.T) {
	c := nllCase{b: 3, d: 4, r: 2}
	big := nllArgs(nllCase{b: 9, d: 4, r: 2}, 41)
	lo, hi := 3, 6
	rows := make([]*arg, len(big))
	for i, a := range big {
		w := a.shape[1]
		rows[i] = newArg(a.name, append([]float64(nil), a.data[lo*w:hi*w]...), hi-lo, w)
	}
	want, wantGrad := lossAndGrad(t, tensor.Float64, rows, c.fused())
	sliced := func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		s := make([]*gorgonia.Node, len(in))
		for i, n := range in {
			s[i] = must(gorgonia.Slice(n, gorgonia.S(lo, hi)))
		}
		return c.fused()(s)
	}
	got, gotGrad := lossAndGrad(t, tensor.Float64, big, sliced)
	if !near(got, want, 1e-14) {
		t.Errorf("sliced loss %.15g, copied rows %.15g", got, want)
	}
	for i, a := range big {
		w := a.shape[1]
		for j, x := range gotGrad[i] {
			var ref float64
			if r := j / w; r >= lo && r < hi {
				ref = wantGrad[i][j-lo*w]
			}
			if !near(x, ref, 1e-14) {
				t.Errorf("∂/∂%s[%d] = %.15g, want %.15g", a.name, j, x, ref)
			}
		}
	}
}
