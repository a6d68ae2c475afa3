package loss_test

import (
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/worldmodel/loss"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A Gaussian prediction scored against its target: the NLL of z̄ = (1, 2)
// under N(0, I) is ½ (5 + 2 log 2π); its gradient by the mean is
// −Σ⁻¹(z̄ − μ) and by the log-variances ½ (1 − (z̄_i − μ_i)²/σ_i²).
func ExampleGaussianNLL() {
	g := gorgonia.NewGraph()
	matrix := func(name string, v ...float64) *gorgonia.Node {
		return gorgonia.NodeFromAny(g, tensor.New(tensor.WithShape(1, len(v)), tensor.WithBacking(v)), gorgonia.WithName(name))
	}
	target := matrix("target", 1, 2)
	mu := matrix("mu", 0, 0)
	logVar := matrix("logVar", 0, 0)
	nll, err := loss.GaussianNLL(target, mu, logVar, nil, 0, loss.NLLOptions{})
	if err != nil {
		log.Fatal(err)
	}
	grads, err := gorgonia.Grad(nll, mu, logVar)
	if err != nil {
		log.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("NLL %.4f (½(5 + 2 log 2π) = %.4f)\n", nll.Value().Data(), 0.5*(5+2*math.Log(2*math.Pi)))
	fmt.Printf("∂/∂μ %.1f\n", grads[0].Value().Data())
	fmt.Printf("∂/∂logVar %.1f\n", grads[1].Value().Data())
	// Output:
	// NLL 4.3379 (½(5 + 2 log 2π) = 4.3379)
	// ∂/∂μ [-1.0 -2.0]
	// ∂/∂logVar [0.0 -1.5]
}

// A rank-1 covariance Σ = I + u uᵀ with u = (1, 1): a target displaced
// along u is likelier than one displaced across it.
func ExampleRowNLL() {
	mu := []float64{0, 0}
	u := []float64{1, 1} // d×r = 2×1
	along := loss.RowNLL([]float64{1, 1}, mu, nil, u, 1)
	across := loss.RowNLL([]float64{1, -1}, mu, nil, u, 1)
	fmt.Printf("along u %.4f, across u %.4f\n", along, across)
	// Output:
	// along u 2.7205, across u 3.3872
}

// SIGReg is small for a batch of standard normal embeddings and large for
// a collapsed one.
func ExampleSIGReg() {
	const n, d, m = 512, 8, 16
	rng := rand.New(rand.NewPCG(1, 2))
	dirs := make([]float64, d*m)
	loss.RandomDirections(dirs, d, m, rng)
	spread := make([]float64, n*d)
	for i := range spread {
		spread[i] = rng.NormFloat64()
	}
	collapsed := make([]float64, n*d) // every embedding at the origin
	for _, z := range [][]float64{spread, collapsed} {
		g := gorgonia.NewGraph()
		zn := gorgonia.NodeFromAny(g, tensor.New(tensor.WithShape(n, d), tensor.WithBacking(z)), gorgonia.WithName("z"))
		an := gorgonia.NodeFromAny(g, tensor.New(tensor.WithShape(d, m), tensor.WithBacking(dirs)), gorgonia.WithName("dirs"))
		s, err := loss.SIGReg(zn, an, loss.DefaultKnots)
		if err != nil {
			log.Fatal(err)
		}
		vm := gorgonia.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			log.Fatal(err)
		}
		vm.Close()
		fmt.Printf("%.1f\n", s.Value().Data())
	}
	// Output:
	// 1.0
	// 205.8
}

// Calibration of predictions whose variances are right, and of the same
// predictions with variances four times too small.
func ExampleCalibrate() {
	const rows, d = 5000, 4
	rng := rand.New(rand.NewPCG(3, 4))
	target := make([]float64, rows*d)
	mean := make([]float64, rows*d)
	logVar := make([]float64, rows*d)
	under := make([]float64, rows*d)
	for i := range target {
		mean[i] = rng.NormFloat64()
		logVar[i] = rng.Float64() - 0.5
		under[i] = logVar[i] - math.Log(4)
		target[i] = mean[i] + math.Exp(logVar[i]/2)*rng.NormFloat64()
	}
	for _, lv := range [][]float64{logVar, under} {
		c := loss.Calibrate(target, mean, lv, nil, d, 0)
		fmt.Printf("within 1σ %.2f, within 2σ %.2f, ECE %.2f\n", c.Within1, c.Within2, c.ECE)
	}
	// Output:
	// within 1σ 0.68, within 2σ 0.95, ECE 0.00
	// within 1σ 0.38, within 2σ 0.68, ECE 0.22
}
