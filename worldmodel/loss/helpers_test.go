package loss

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// arg is one input of a loss under test: its shape and float64 data. Nodes
// built from an arg read its data slice, so changing data changes the input.
type arg struct {
	name  string
	shape tensor.Shape
	data  []float64
	// constant inputs (frozen β-NLL weights) are neither differentiated
	// nor perturbed.
	constant bool
}

func newArg(name string, data []float64, shape ...int) *arg {
	return &arg{name: name, shape: tensor.Shape(shape), data: data}
}

// randArg returns an input with entries lo + (hi−lo)·U(0, 1).
func randArg(rng *rand.Rand, name string, lo, hi float64, shape ...int) *arg {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float64, n)
	for i := range d {
		d[i] = lo + (hi-lo)*rng.Float64()
	}
	return newArg(name, d, shape...)
}

// randNormArg returns an input with N(0, scale²) entries.
func randNormArg(rng *rand.Rand, name string, scale float64, shape ...int) *arg {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float64, n)
	for i := range d {
		d[i] = scale * rng.NormFloat64()
	}
	return newArg(name, d, shape...)
}

// builder builds a scalar loss from input nodes, in the order of the args.
type builder func(in []*gorgonia.Node) (*gorgonia.Node, error)

// node makes the input node of a on g, in dtype dt. Float64 nodes share
// a.data; Float32 nodes get a converted copy.
func (a *arg) node(g *gorgonia.ExprGraph, dt tensor.Dtype) *gorgonia.Node {
	var t *tensor.Dense
	if dt == tensor.Float64 {
		t = tensor.New(tensor.WithShape(a.shape.Clone()...), tensor.WithBacking(a.data))
	} else {
		f := make([]float32, len(a.data))
		for i, x := range a.data {
			f[i] = float32(x)
		}
		t = tensor.New(tensor.WithShape(a.shape.Clone()...), tensor.WithBacking(f))
	}
	return gorgonia.NodeFromAny(g, t, gorgonia.WithName(a.name))
}

// evaluator evaluates a loss without gradients on one graph; changes to the
// args' data are seen by the next call.
func evaluator(t testing.TB, args []*arg, build builder) func() float64 {
	t.Helper()
	g := gorgonia.NewGraph()
	nodes := make([]*gorgonia.Node, len(args))
	for i, a := range args {
		nodes[i] = a.node(g, tensor.Float64)
	}
	cost, err := build(nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	m := gorgonia.NewTapeMachine(g)
	t.Cleanup(func() { m.Close() })
	return func() float64 {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatalf("run: %v", err)
		}
		return scalarValue(t, cost.Value())
	}
}

func scalarValue(t testing.TB, v gorgonia.Value) float64 {
	t.Helper()
	x, err := scalarOf(v)
	if err != nil {
		t.Fatalf("scalar: %v", err)
	}
	return x
}

// lossAndGrad builds the loss in dtype dt, differentiates it symbolically
// with respect to every non-constant arg, runs it once and returns the loss
// and the gradients (nil for constants).
func lossAndGrad(t testing.TB, dt tensor.Dtype, args []*arg, build builder) (float64, [][]float64) {
	t.Helper()
	g := gorgonia.NewGraph()
	nodes := make([]*gorgonia.Node, len(args))
	var wrt []*gorgonia.Node
	for i, a := range args {
		nodes[i] = a.node(g, dt)
		if !a.constant {
			wrt = append(wrt, nodes[i])
		}
	}
	cost, err := build(nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	grads, err := gorgonia.Grad(cost, wrt...)
	if err != nil {
		t.Fatalf("grad: %v", err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := make([][]float64, len(args))
	j := 0
	for i, a := range args {
		if a.constant {
			continue
		}
		out[i] = toFloat64s(t, grads[j].Value())
		j++
	}
	return scalarValue(t, cost.Value()), out
}

func toFloat64s(t testing.TB, v gorgonia.Value) []float64 {
	t.Helper()
	switch d := v.Data().(type) {
	case []float64:
		return append([]float64(nil), d[:v.Shape().TotalSize()]...)
	case []float32:
		out := make([]float64, v.Shape().TotalSize())
		for i := range out {
			out[i] = float64(d[i])
		}
		return out
	case float64:
		return []float64{d}
	case float32:
		return []float64{float64(d)}
	}
	t.Fatalf("value %T is not a float tensor", v)
	return nil
}

// fdStep is the central-difference step; with float64 it leaves an error
// of order h² f”' + ε/h ≈ 1e-10 relative on smooth losses.
const fdStep = 1e-6

// checkGradFD compares the symbolic gradient of build (Float64) with
// central finite differences of its value, for every non-constant arg, to
// a relative tolerance tol: |fd − g| ≤ tol·max(1, |fd|).
func checkGradFD(t *testing.T, args []*arg, build builder, tol float64) {
	t.Helper()
	checkGradFD2(t, args, build, build, tol)
}

// checkGradFD2 is checkGradFD with the gradient taken from grad and the
// finite differences from value (a reference with frozen constants).
func checkGradFD2(t *testing.T, args []*arg, grad, value builder, tol float64) {
	t.Helper()
	_, grads := lossAndGrad(t, tensor.Float64, args, grad)
	f := evaluator(t, args, value)
	for i, a := range args {
		if a.constant {
			continue
		}
		for j := range a.data {
			x := a.data[j]
			a.data[j] = x + fdStep
			fp := f()
			a.data[j] = x - fdStep
			fm := f()
			a.data[j] = x
			fd := (fp - fm) / (2 * fdStep)
			if got := grads[i][j]; math.Abs(got-fd) > tol*math.Max(1, math.Abs(fd)) {
				t.Errorf("∂/∂%s[%d] = %.12g, finite differences %.12g", a.name, j, got, fd)
			}
		}
	}
}

// checkSame compares two builds (typically the fused op and its composed
// reference) on values and gradients in Float64 to an absolute-or-relative
// tolerance tol.
func checkSame(t *testing.T, args []*arg, fused, ref builder, tol float64) {
	t.Helper()
	lf, gf := lossAndGrad(t, tensor.Float64, args, fused)
	lr, gr := lossAndGrad(t, tensor.Float64, args, ref)
	if !near(lf, lr, tol) {
		t.Errorf("loss %.15g, reference %.15g", lf, lr)
	}
	for i, a := range args {
		for j := range gf[i] {
			if !near(gf[i][j], gr[i][j], tol) {
				t.Errorf("∂/∂%s[%d] = %.15g, reference %.15g", a.name, j, gf[i][j], gr[i][j])
			}
		}
	}
}

// near reports |a − b| ≤ tol·max(1, |b|).
func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

// constF64 is a Float64 scalar constant node.
func constF64(x float64) *gorgonia.Node { return gorgonia.NewConstant(x) }

// must panics on a graph-building error; references are test code.
func must(n *gorgonia.Node, err error) *gorgonia.Node {
	if err != nil {
		panic(fmt.Sprintf("reference: %v", err))
	}
	return n
}
