package loss

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// trainEmbeddings trains N free embeddings (N×d) against a loss that pulls
// every embedding towards the batch mean (a stand-in for a prediction loss
// whose trivial minimum is collapse), plus λ times a guard, and returns the
// final mean per-dimension standard deviation of the embeddings.
func trainEmbeddings(t *testing.T, guard func(z, dirs *gorgonia.Node) (*gorgonia.Node, error), lambda float64) float64 {
	t.Helper()
	const n, d, m, steps = 64, 4, 16, 300
	rng := rand.New(rand.NewPCG(8, 8))
	init := make([]float64, n*d)
	for i := range init {
		init[i] = rng.NormFloat64()
	}
	g := gorgonia.NewGraph()
	z := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(n, d), gorgonia.WithName("z"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(n, d), tensor.WithBacking(init))))
	// mean[i] = (1/N) Σ_j z[j], as a constant matrix product.
	avg := make([]float64, n*n)
	for i := range avg {
		avg[i] = 1.0 / n
	}
	mean := must(gorgonia.Mul(gorgonia.NewConstant(tensor.New(tensor.WithShape(n, n), tensor.WithBacking(avg))), z))
	dirData := make([]float64, d*m)
	dirs := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(d, m), gorgonia.WithName("dirs"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(d, m), tensor.WithBacking(dirData))))
	cost := must(gorgonia.Mul(must(SquaredError(mean, z)), constF64(1-lambda)))
	if guard != nil {
		cost = must(gorgonia.Add(cost, must(gorgonia.Mul(must(guard(z, dirs)), constF64(lambda)))))
	}
	if _, err := gorgonia.Grad(cost, z); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(z))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.05))
	for range steps {
		RandomDirections(dirData, d, m, rng)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(gorgonia.Nodes{z})); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	v := z.Value().Data().([]float64)
	var spread float64
	for j := range d {
		var mean, ss float64
		for i := range n {
			mean += v[i*d+j] / n
		}
		for i := range n {
			ss += (v[i*d+j] - mean) * (v[i*d+j] - mean)
		}
		spread += math.Sqrt(ss/(n-1)) / d
	}
	return spread
}

// TestGuardPreventsCollapse trains embeddings on a loss that is minimised
// by collapse: without a guard their spread goes to zero, with SIGReg or
// VICReg it does not. The pull to the mean adds 2(1−λ)σ_j to ∂/∂σ_j while
// VICReg's hinge pushes back with a constant λ/d, so its balance is
// σ = λ/(2d(1−λ)) below γ = 1: VICReg needs λ = 0.9 here to hold σ near 1.
func TestGuardPreventsCollapse(t *testing.T) {
	sigreg := func(z, dirs *gorgonia.Node) (*gorgonia.Node, error) { return SIGReg(z, dirs, DefaultKnots) }
	vicreg := func(z, _ *gorgonia.Node) (*gorgonia.Node, error) { return VICReg(z, VICRegOptions{}) }
	cases := []struct {
		name   string
		guard  func(z, dirs *gorgonia.Node) (*gorgonia.Node, error)
		lambda float64
		lo, hi float64 // allowed final spread
	}{
		{"no guard", nil, 0, 0, 0.1},
		{"SIGReg", sigreg, 0.1, 0.3, 1.5},
		{"VICReg", vicreg, 0.9, 0.8, 1.2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := trainEmbeddings(t, c.guard, c.lambda)
			t.Logf("spread %.4f", s)
			if s < c.lo || s > c.hi {
				t.Errorf("final spread %.4f, want in [%g, %g]", s, c.lo, c.hi)
			}
		})
	}
}
